#!/usr/bin/env bash
# Both trainers' batch-size scans for the peer comparison (issue 11), one trainer at a time, 1 thread, niced:
#   bash bench/peer/run_scans.sh [DEPTHS (default "1 2")]      logs and outputs under /tmp/peer/
# Ours -> /tmp/peer-runs-ours (file store) -> /tmp/peer/ours-d<D>.csv; PyTorch -> /tmp/peer/torch-d<D>/scan.csv.
# Re-running skips finished runs of either trainer. CODE=<dir> runs our trainer and the exporter from a copy of
# the repository (e.g. `git archive HEAD` unpacked, node_modules linked, build/ copied), so edits others make
# to src/ while the scans run cannot break them; default: this checkout.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
CODE=${CODE:-$REPO}
mkdir -p /tmp/peer
for D in ${1:-1 2}; do
  S=bench/peer/scan-d$D.yaml
  echo "== $(date -u +%H:%M:%S) depth $D: ours (code: $CODE)"
  (cd "$CODE" && /usr/bin/time -f "ours d$D wall %e s" nice -n 10 node bin/scaling-lab.js sweep "$REPO/$S" --store /tmp/peer-runs-ours --workers 1 --threads 1 --probe-steps 0 --quiet)
  /usr/bin/python3 bench/peer/ours_to_csv.py /tmp/peer-runs-ours --sweep peer-scan-d$D --out /tmp/peer/ours-d$D.csv
  echo "== $(date -u +%H:%M:%S) depth $D: export + PyTorch"
  (cd "$CODE" && nice -n 10 node_modules/.bin/tsx bench/peer/export.ts "$REPO/$S" --out /tmp/peer/export-d$D)
  OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "torch d$D wall %e s" nice -n 10 /usr/bin/python3 bench/peer/torch_run.py /tmp/peer/export-d$D --out /tmp/peer/torch-d$D --threads 1
done
echo "== $(date -u +%H:%M:%S) done"
