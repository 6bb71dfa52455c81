#!/usr/bin/env bash
# The model cards on a 2-core CPU: every recipe at a stated reduced budget (--budget F: F of
# the recipe's steps), into one GP_HOME (the reference classifier is trained once). Entries
# run in the order the published orderings need them; what does not finish is missing.
#     GP_HOME=/tmp/gp-cards-home bash benchmarks/cards_cpu.sh
# A GPU machine runs the paper budgets instead: python benchmarks/model_cards.py --extra
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export GP_HOME=${GP_HOME:-/tmp/gp-cards-home}
run() { "$PY" benchmarks/model_cards.py --n 2000 --slow-n 500 --set trainer.samples=16 "$@"; }
run --budget 0.005 --only vae
run --budget 0.3 --only gan
run --budget 0.5 --only dcgan
run --budget 0.5 --only lsgan
run --budget 0.002 --only pixelcnn
run --budget 0.005 --only aae-semi-100,cvae-semi-100,aae
# The Diagonal BiLSTM samples pixel by pixel: one image in each epoch's grid, likelihood on
# 500 test images, sample metrics on 100 samples (its card states n).
"$PY" benchmarks/model_cards.py --n 500 --slow-n 100 --set trainer.samples=1 --budget 0.001 --only pixelrnn
# The grid: 2,500 samples scored (PacGAN's count); lsgan-grid at its paper's full budget.
run --n 2500 --budget 0.1 --only gan-grid,aae-grid
run --n 2500 --budget 1.0 --only lsgan-grid
run --budget 0.1 --seeds 3 --only sdae,sae  # 3 seeds: their accuracies differ by less than a seed's sd
run --budget 0.005 --only ae,linear-ae,dae,cvae,cae,scae
run --budget 0.002 --only pixelcnn-8bit
