#!/usr/bin/env bash
# The main job: set up what is missing, then train the adversarial autoencoder on
# Fashion-MNIST under Ray Train with MLflow tracking (embedded defaults). Extra
# arguments are passed on as overrides, e.g. scripts/demo.sh trainer.epochs=2
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gp submit plugin=aae "$@"
