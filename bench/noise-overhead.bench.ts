// What the gradient-noise probe costs per step: the passes over the parameter slab that per-micro-batch
// norms add to gradient accumulation (zero a second slab, |g|^2, scale, add), plus the probe's scalar
// update, measured against a full training step of the same model. Prints a table; --json for machines.
// Usage: npx tsx bench/noise-overhead.bench.ts [--json] [--threads N]
import { GPT, AdamW, trainStep, fromDepth, loadKernels } from '../src/engine/index.ts';
import { NoiseProbe } from '../src/train/noise.ts';
import { Rng } from '../src/util/random.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const threadsArg = args.indexOf('--threads');
const kernels = loadKernels({ backend: 'auto', threads: threadsArg >= 0 ? Number(args[threadsArg + 1]) : undefined });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function time(fn: () => void, reps: number): number {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const configs = [
  { depth: 1, T: 64, V: 256, batch: 32, micro: 8 },
  { depth: 2, T: 64, V: 256, batch: 32, micro: 8 },
  { depth: 4, T: 128, V: 4096, batch: 32, micro: 8 },
];
const results = configs.map(({ depth, T, V, batch, micro }) => {
  const m = batch / micro;
  const gpt = new GPT(fromDepth(depth, { vocab: V, context: T }), kernels, { seed: 0, maxMicroBatch: micro });
  const opt = new AdamW(gpt, {});
  const rng = new Rng(1);
  const mbs = Array.from({ length: m }, () => ({
    inputs: Int32Array.from({ length: micro * T }, () => rng.int(V)),
    targets: Int32Array.from({ length: micro * T }, () => rng.int(V)),
  }));
  for (let i = 0; i < 2; i++) trainStep(gpt, opt, mbs, micro, T, { lr: 1e-4, clip: 1 }); // warm-up
  const stepMs = time(() => trainStep(gpt, opt, mbs, micro, T, { lr: 1e-4, clip: 1 }), depth >= 4 ? 5 : 15);

  // the extra slab passes forwardBackward makes to report each micro-batch's own |g|^2
  const P = gpt.params.length;
  const a = new Float32Array(P),
    b = new Float32Array(P).fill(1e-3);
  const extraMs = time(() => {
    kernels.sumSquares(b, P); // first micro-batch: its norm
    for (let k = 1; k < m; k++) {
      a.fill(0); // the second slab
      kernels.sumSquares(b, P); // its norm
      kernels.residualForward(b, b, a, P); // added into the accumulated gradient
    }
  }, 50);
  const probe = new NoiseProbe();
  const microGradSq = Array.from({ length: m }, () => 1.5);
  const probeMs =
    time(() => {
      for (let i = 0; i < 1000; i++) probe.update({ bSmall: micro, bBig: batch, microGradSq, gradSq: 1 });
    }, 5) / 1000;
  return { depth, T, V, batch, micro, params: P, stepMs, probeExtraMs: extraMs + probeMs, overheadPercent: (100 * (extraMs + probeMs)) / stepMs };
});

if (json) console.log(JSON.stringify({ backend: kernels.backend, threads: kernels.threads, results }));
else {
  console.log(`noise-probe overhead (${kernels.backend}, ${kernels.threads} threads)`);
  for (const r of results) {
    console.log(
      `  d${r.depth} T${r.T} V${r.V} batch ${r.batch} (${r.batch / r.micro} x ${r.micro}): step ${r.stepMs.toFixed(2)} ms, probe ${r.probeExtraMs.toFixed(3)} ms = ${r.overheadPercent.toFixed(2)}% of the step`,
    );
  }
}
