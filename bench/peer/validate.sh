#!/usr/bin/env bash
# The PyTorch peer against our trainer, step by step (issue 11): train bench/peer/validate.yaml (30 steps,
# depth 1 and 2, batch 8 and 64 with 4 micro-batches, cosine schedule) with both trainers and compare train loss,
# gradient norm and test loss per step. About a minute on 2 cores. Needs /usr/bin/python3 with python3-torch.
#   bash bench/peer/validate.sh [WORKDIR (default /tmp/peer/validate)]
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-/tmp/peer/validate}
rm -rf "$W" && mkdir -p "$W"
npx scaling-lab sweep bench/peer/validate.yaml --store "$W/ours" --workers 1 --threads 1 --probe-steps 0 --quiet
npx tsx bench/peer/export.ts bench/peer/validate.yaml --out "$W/export"
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/peer/torch_run.py "$W/export" --out "$W/torch" --threads 1
/usr/bin/python3 bench/peer/compare_steps.py --ours "$W/ours" --torch "$W/torch"
