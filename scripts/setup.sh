#!/usr/bin/env bash
# Sets up what is missing, idempotently: a virtual environment in .venv with the pinned
# CPU torch first (an unpinned torch pulls a multi-GB CUDA build), gp and its test
# extras, and Fashion-MNIST (Debian's dataset-fashion-mnist where apt exists).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH=${GP_TORCH:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "$TORCH"
fi
if ! .venv/bin/python -c "import gp, ray.train, mlflow, flask_wtf, skimage, pytest" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.gp-installed ]; then
  .venv/bin/pip install -q -e ".[test]"
  touch .venv/.gp-installed
fi

FASHION=/usr/share/datasets/fashion-mnist
if [ ! -f "$FASHION/train-images-idx3-ubyte.gz" ] && [ -z "${GP_SKIP_DATA:-}" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1) \
      || (apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null)
  else
    echo "setup: Fashion-MNIST missing; downloading into ~/.gp/fashion-mnist (use data.root=~/.gp/fashion-mnist)" >&2
    .venv/bin/python scripts/download_fashion_mnist.py "$HOME/.gp/fashion-mnist"
  fi
fi
