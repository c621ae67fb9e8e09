#!/usr/bin/env bash
# The demo preset end to end, in one command: draw the training set, train (two stages), draw the
# held-out set, measure. Seeded; run it at low priority on a shared CPU:
#   nice -n 10 scripts/demo_model.sh            # everything (training: ~31 min on 2 shared cores)
#   nice -n 10 scripts/demo_model.sh eval       # only the held-out measurements
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1 CDIR_CACHE_DIR=off   # never reuse embeddings of another demo model
ALL=photo,sketch,painting,clipart,render3d,generated
if [ "${1:-all}" != eval ]; then
  $PY scripts/make_training_set.py --out build/demo-train --per-cell 60 --seed 1
  # stage 1: 500 steps from scratch; stage 2: 350 more at half the learning rate
  $PY scripts/train_demo_model.py --data build/demo-train --out build/demo-stage1 \
      --steps 500 --batch 64 --warmup 25 --lr 1e-3 --seed 0 --threads 1
  $PY scripts/train_demo_model.py --data build/demo-train --out assets/models \
      --init build/demo-stage1/demo/embedder --steps 350 --batch 64 --warmup 10 --lr 5e-4 \
      --seed 1 --threads 1
fi
# held-out: seed 777 was never used in training; 'generated' is a style the model never saw
$PY scripts/make_training_set.py --out build/demo-heldout --per-cell 10 --seed 777 --domains $ALL
$PY scripts/demo_caption_accuracy.py build/demo-heldout --preset demo --out build/demo-eval/captions.md
rm -rf build/demo-eval/store
$PY -m cdir eval build/demo-heldout --preset demo --store build/demo-eval/store \
    --out build/demo-eval/all -q
$PY scripts/demo_summary.py build/demo-eval/all/report.json --held-out generated \
    > build/demo-eval/summary.md
