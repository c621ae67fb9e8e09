#!/usr/bin/env bash
# The demo preset end to end, in one command: draw the training set, train, draw held-out sets,
# evaluate. Deterministic for a given machine's torch build; run it at low priority on a shared CPU:
#   nice -n 10 scripts/demo_model.sh            # everything (training: ~30 min on 2 cores)
#   nice -n 10 scripts/demo_model.sh eval       # only the held-out measurements
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
ALL=photo,sketch,painting,clipart,render3d,generated
SEEN=photo,sketch,painting,clipart,render3d
if [ "${1:-all}" != eval ]; then
  $PY scripts/make_training_set.py --out build/demo-train --per-cell 60 --seed 1
  $PY scripts/train_demo_model.py --data build/demo-train --out assets/models \
      --steps 500 --batch 64 --warmup 25 --threads 1
fi
$PY scripts/make_training_set.py --out build/demo-heldout --per-cell 10 --seed 777 --domains $ALL
$PY scripts/demo_caption_accuracy.py build/demo-heldout --preset demo --out build/demo-eval/captions.md
$PY -m cdir eval build/demo-heldout --preset demo --domains $SEEN --store build/demo-eval/store \
    --out build/demo-eval/seen -q
$PY -m cdir eval build/demo-heldout --preset demo --store build/demo-eval/store \
    --out build/demo-eval/all -q
