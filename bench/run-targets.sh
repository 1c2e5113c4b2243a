#!/usr/bin/env bash
# The issue-2 speed comparison in one go: for both target models, our training step (native at 1 and 2
# threads, and the TypeScript kernels) and PyTorch's (1 and 2 threads), then tokens/s and ratios.
# Usage: bench/run-targets.sh [steps]   (TORCH_BLAS_DIR=dir with OpenBLAS's libblas.so.3, see torch_train_step.py)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-7}
LD=${TORCH_BLAS_DIR:+LD_LIBRARY_PATH=$TORCH_BLAS_DIR}
OUT=$(mktemp)
for cfg in "2 64 256" "4 128 4096"; do
  set -- $cfg
  flags="--depth $1 --context $2 --vocab $3 --batch 32"
  echo "# $(date -u +%FT%TZ) $(uptime | sed 's/.*load/load/') -- depth $1" >&2
  for t in 1 2; do node bin/scaling-lab.js bench train $flags --steps "$STEPS" --warmup 2 --threads "$t" --json >> "$OUT"; done
  tsteps=$([ "$1" = 2 ] && echo 3 || echo 1)
  node bin/scaling-lab.js bench train $flags --steps "$tsteps" --warmup 0 --backend ts --json >> "$OUT"
  env $LD /usr/bin/python3 bench/torch_train_step.py $flags --steps "$STEPS" --warmup 2 --threads 1,2 --json >> "$OUT"
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
for (const depth of [2, 4]) {
  const ours = rows.filter((r) => r.bench === "train" && r.depth === depth);
  const torch = rows.find((r) => r.bench === "torch-train" && r.depth === depth);
  const best = torch.bestTokensPerSecond;
  console.log(`depth ${depth}: PyTorch ${torch.results.map((r) => `${r.threads}t ${r.tokensPerSecond.toFixed(0)}`).join(", ")} tok/s (best ${best.toFixed(0)}; load ${torch.load1}; BLAS ${torch.blas.find((b) => /libblas|openblas/.test(b)) ?? "?"})`);
  for (const r of ours) console.log(`  ours ${r.backend} ${r.threads}t: ${r.tokensPerSecond.toFixed(0)} tok/s, step ${r.stepMs.toFixed(1)} ms, ${r.gflops.toFixed(1)} GFLOP/s, ratio ${(r.tokensPerSecond / best).toFixed(2)} (load ${r.machine.load1})`);
}' "$OUT"
echo "raw JSON lines: $OUT" >&2
