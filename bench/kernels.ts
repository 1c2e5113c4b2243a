// `bench kernels`: milliseconds per kernel call on the shapes of one GPT config (one layer's tensors, the
// output head, AdamW over the whole slab), for the native kernels and the TypeScript reference side by side.
import { fromDepth, loadKernels, paramCounts, Rng, type Kernels } from '../src/engine/index.ts';
import { machineNote, median, timeRuns, type MachineNote } from './timing.ts';

export interface KernelTiming {
  kernel: string;
  /** backend name -> median milliseconds per call */
  ms: Record<string, number>;
}

export interface KernelsBenchResult {
  bench: 'kernels';
  depth: number;
  context: number;
  vocab: number;
  batch: number;
  threads: number;
  backends: string[];
  kernels: KernelTiming[];
  machine: MachineNote;
}

type Case = [name: string, run: (k: Kernels) => void];

function cases(depth: number, T: number, V: number, B: number): Case[] {
  const config = fromDepth(depth, { vocab: V, context: T });
  const C = config.dModel, NH = config.nHead, BT = B * T, N = paramCounts(config).total;
  const rng = new Rng(11);
  const rand = (n: number, std = 1): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * std);
  const tok = Int32Array.from({ length: BT }, () => rng.int(V));
  const x = rand(BT * C), dx = rand(BT * C), y = new Float32Array(BT * C), mean = new Float32Array(BT), rstd = new Float32Array(BT);
  const w = rand(C), bw = rand(C), dw = new Float32Array(C), db = new Float32Array(C);
  const wte = rand(V * C, 0.02), wpe = rand(T * C, 0.02), dwte = new Float32Array(V * C), dwpe = new Float32Array(T * C);
  const qkv = rand(BT * 3 * C), dqkv = new Float32Array(BT * 3 * C), att = new Float32Array(B * NH * T * T);
  const pre = new Float32Array(B * NH * T * T), datt = new Float32Array(B * NH * T * T), dpre = new Float32Array(B * NH * T * T);
  const h = rand(BT * 4 * C), dh = new Float32Array(BT * 4 * C);
  const logits = rand(BT * V), probs = new Float32Array(BT * V), dlogits = new Float32Array(BT * V), losses = new Float32Array(BT);
  const p = rand(N, 0.02), g = rand(N, 0.01), m = new Float32Array(N), v = new Float32Array(N);
  const mm = (name: string, IC: number, OC: number): Case[] => {
    const wt = rand(OC * IC, 0.02), bias = rand(OC), inp = rand(BT * IC), out = new Float32Array(BT * OC), dout = rand(BT * OC);
    const dinp = new Float32Array(BT * IC), dwt = new Float32Array(OC * IC), dbias = new Float32Array(OC);
    return [
      [`matmulForward ${name} (${IC}->${OC})`, (k) => k.matmulForward(out, inp, wt, bias, B, T, IC, OC)],
      [`matmulBackward ${name} (${IC}->${OC})`, (k) => k.matmulBackward(dinp, dwt, dbias, dout, inp, wt, B, T, IC, OC)],
    ];
  };
  return [
    ['encoderForward', (k) => k.encoderForward(y, tok, wte, wpe, B, T, C)],
    ['encoderBackward', (k) => k.encoderBackward(dwte, dwpe, dx, tok, B, T, C)],
    ['layernormForward', (k) => k.layernormForward(y, mean, rstd, x, w, bw, B, T, C)],
    ['layernormBackward', (k) => k.layernormBackward(y, dw, db, dx, x, w, mean, rstd, B, T, C)],
    ...mm('qkv', C, 3 * C),
    ...mm('attproj', C, C),
    ...mm('fc', C, 4 * C),
    ...mm('fcproj', 4 * C, C),
    ...mm('head', C, V),
    ['attentionForward', (k) => k.attentionForward(y, pre, att, qkv, B, T, C, NH)],
    ['attentionBackward', (k) => k.attentionBackward(dqkv, dpre, datt, dx, qkv, att, B, T, C, NH)],
    ['geluForward', (k) => k.geluForward(dh, h, BT * 4 * C)],
    ['geluBackward', (k) => k.geluBackward(dh, h, h, BT * 4 * C)],
    ['residualForward', (k) => k.residualForward(y, x, dx, BT * C)],
    ['residualBackward', (k) => k.residualBackward(y, dx, x, BT * C)],
    ['softmaxCrossEntropyForward', (k) => k.softmaxCrossEntropyForward(losses, probs, logits, tok, B, T, V)],
    ['softmaxCrossEntropyBackward', (k) => k.softmaxCrossEntropyBackward(dlogits, probs, tok, 1 / BT, B, T, V)],
    [`adamw (${N} params)`, (k) => k.adamw(p, g, m, v, N, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1)],
    [`sumSquares (${N})`, (k) => void k.sumSquares(g, N)],
  ];
}

export function benchKernels(o: { depth: number; context: number; vocab: number; batch: number; threads?: number; reps: number; backends: ('native' | 'ts')[] }): KernelsBenchResult {
  const impls = o.backends.map((b) => loadKernels({ backend: b, threads: o.threads }));
  const list = cases(o.depth, o.context, o.vocab, o.batch);
  const kernels: KernelTiming[] = list.map(([kernel, run]) => {
    const ms: Record<string, number> = {};
    for (const k of impls) {
      // the reference is slow (seconds per call on big shapes): fewer repetitions there
      const reps = k.backend === 'ts' ? Math.min(o.reps, 2) : o.reps;
      ms[k.backend] = median(timeRuns(() => run(k), reps, 1));
    }
    return { kernel, ms };
  });
  return { bench: 'kernels', depth: o.depth, context: o.context, vocab: o.vocab, batch: o.batch, threads: impls.find((k) => k.backend === 'native')?.threads ?? 1,
    backends: impls.map((k) => k.backend), kernels, machine: machineNote() };
}
