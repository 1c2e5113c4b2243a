// `bench gemm`: GFLOP/s of the native GEMM on the matmul shapes of a GPT config, for each of the three
// products a linear layer needs (forward out = inp @ W^T; backward dinp += dout @ W; dW += dout^T @ inp).
import { createNativeKernels } from '../src/engine/native.ts';
import { Rng } from '../src/util/random.ts';
import { machineNote, median, timeRuns, type MachineNote } from './timing.ts';

export type GemmVariant = 'forward' | 'dinp' | 'dweight';

export interface GemmShapeResult {
  layer: string;
  variant: GemmVariant;
  /** C (m,n) += A (m,k) @ B (k,n) */
  m: number;
  n: number;
  k: number;
  ms: number;
  gflops: number;
}

export interface GemmBenchResult {
  bench: 'gemm';
  isa: string;
  threads: number;
  depth: number;
  context: number;
  vocab: number;
  batch: number;
  shapes: GemmShapeResult[];
  /** total FLOPs / total time over every layer shape of the model, per variant and overall */
  byVariant: Record<GemmVariant, number>;
  overall: number;
  machine: MachineNote;
}

export function benchGemm(o: { depth: number; context: number; vocab: number; batch: number; threads?: number; reps: number }): GemmBenchResult {
  const k = createNativeKernels(o.threads);
  const C = 64 * o.depth, BT = o.batch * o.context, V = o.vocab;
  // (name, C_in, OC): the linear layers of one block, and the tied output head
  const layers: [string, number, number][] = [['qkv', C, 3 * C], ['attproj', C, C], ['fc', C, 4 * C], ['fcproj', 4 * C, C], ['head', C, V]];
  const rng = new Rng(7);
  const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
  const shapes: GemmShapeResult[] = [];
  for (const [layer, IC, OC] of layers) {
    const inp = rand(BT * IC), w = rand(OC * IC), dout = rand(BT * OC);
    const out = new Float32Array(BT * OC), dinp = new Float32Array(BT * IC), dw = new Float32Array(OC * IC);
    const runs: [GemmVariant, number, number, number, () => void][] = [
      // out (BT,OC) = inp (BT,IC) @ W (OC,IC)^T
      ['forward', BT, OC, IC, () => k.gemm(out, OC, inp, IC, 1, w, 1, IC, BT, OC, IC)],
      // dinp (BT,IC) += dout (BT,OC) @ W (OC,IC)
      ['dinp', BT, IC, OC, () => k.gemm(dinp, IC, dout, OC, 1, w, IC, 1, BT, IC, OC)],
      // dW (OC,IC) += dout^T (OC,BT) @ inp (BT,IC)
      ['dweight', OC, IC, BT, () => k.gemm(dw, IC, dout, 1, OC, inp, IC, 1, OC, IC, BT)],
    ];
    for (const [variant, m, n, kk, fn] of runs) {
      const ms = median(timeRuns(fn, o.reps, 2));
      shapes.push({ layer, variant, m, n, k: kk, ms, gflops: (2 * m * n * kk) / (ms * 1e6) });
    }
  }
  const rate = (xs: GemmShapeResult[]): number => xs.reduce((s, x) => s + 2 * x.m * x.n * x.k, 0) / (xs.reduce((s, x) => s + x.ms, 0) * 1e6);
  const byVariant = {
    forward: rate(shapes.filter((s) => s.variant === 'forward')),
    dinp: rate(shapes.filter((s) => s.variant === 'dinp')),
    dweight: rate(shapes.filter((s) => s.variant === 'dweight')),
  };
  return { bench: 'gemm', isa: k.isa, threads: k.threads, depth: o.depth, context: o.context, vocab: o.vocab, batch: o.batch,
    shapes, byVariant, overall: rate(shapes), machine: machineNote() };
}
