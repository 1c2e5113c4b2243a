// Timing the engine: full training steps (forward, backward, clipping, AdamW) of the real GPT on random tokens, the
// native GEMM on a model's linear-layer shapes, and each kernel on a model's shapes (native and TypeScript side by
// side), with the load the machine was under. `scaling-lab bench train|gemm|kernels` prints them; the scripts in
// bench/ (speed targets, comparisons with PyTorch) call them too.
import { loadavg, availableParallelism } from 'node:os';
import { AdamW, GPT, Rng, flopsPerToken, fromDepth, loadKernels, paramCounts, trainStep, type BackendName, type Kernels } from './index.ts';
import { createNativeKernels } from './native.ts';

// ---- timing

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Runs fn `warmup` times untimed, then `reps` times timed; returns each timed run's milliseconds. */
export function timeRuns(fn: () => void, reps: number, warmup: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = nowMs();
    fn();
    ms.push(nowMs() - t0);
  }
  return ms;
}

export interface MachineNote {
  cores: number;
  /** 1-minute load average when the benchmark finished */
  load1: number;
}

export function machineNote(): MachineNote {
  return { cores: availableParallelism(), load1: Math.round(loadavg()[0] * 100) / 100 };
}

// ---- bench train: full training steps

export interface TrainBenchOptions {
  depth: number;
  context: number;
  vocab: number;
  /** sequences per step (one micro-batch) */
  batch: number;
  steps: number;
  warmup: number;
  backend: BackendName;
  threads?: number;
}

export interface TrainBenchResult {
  bench: 'train';
  backend: 'native' | 'ts';
  isa: string | null;
  threads: number;
  depth: number;
  nLayer: number;
  dModel: number;
  nHead: number;
  context: number;
  vocab: number;
  batch: number;
  /** every parameter (Chinchilla's N) */
  params: number;
  /** Kaplan's non-embedding N = 12 L d^2 */
  paramsKaplan: number;
  tokensPerStep: number;
  /** median over the timed steps */
  stepMs: number;
  stepMsAll: number[];
  tokensPerSecond: number;
  /** training FLOPs per token: 6N + attention + the tied output head (config.ts flopsPerToken().withHead) */
  flopsPerToken: number;
  /** achieved: flopsPerToken * tokensPerSecond / 1e9 */
  gflops: number;
  machine: MachineNote;
}

export function benchTrain(o: TrainBenchOptions): TrainBenchResult {
  const kernels = loadKernels({ backend: o.backend, threads: o.threads });
  const config = fromDepth(o.depth, { vocab: o.vocab, context: o.context });
  const gpt = new GPT(config, kernels, { seed: 0, maxMicroBatch: o.batch });
  const optimizer = new AdamW(gpt);
  const rng = new Rng(1234);
  const n = o.batch * o.context;
  const inputs = new Int32Array(n),
    targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    inputs[i] = rng.int(o.vocab);
    targets[i] = rng.int(o.vocab);
  }
  const step = (): void => {
    trainStep(gpt, optimizer, [{ inputs, targets }], o.batch, o.context, { lr: 1e-4, clip: 1 });
  };
  const ms = timeRuns(step, o.steps, o.warmup);
  const stepMs = median(ms);
  const tokensPerSecond = n / (stepMs / 1000);
  const fpt = flopsPerToken(config, o.context).withHead;
  const counts = paramCounts(config);
  return {
    bench: 'train',
    backend: kernels.backend,
    isa: 'isa' in kernels ? String((kernels as { isa: string }).isa) : null,
    threads: kernels.threads,
    depth: o.depth,
    nLayer: config.nLayer,
    dModel: config.dModel,
    nHead: config.nHead,
    context: o.context,
    vocab: o.vocab,
    batch: o.batch,
    params: counts.total,
    paramsKaplan: counts.kaplan,
    tokensPerStep: n,
    stepMs,
    stepMsAll: ms,
    tokensPerSecond,
    flopsPerToken: fpt,
    gflops: (fpt * tokensPerSecond) / 1e9,
    machine: machineNote(),
  };
}

// ---- bench gemm: the native GEMM on a model's linear-layer shapes, for each of the three products a layer needs
// (forward out = inp @ W^T; backward dinp += dout @ W; dW += dout^T @ inp)

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
  const C = 64 * o.depth,
    BT = o.batch * o.context,
    V = o.vocab;
  // (name, C_in, OC): the linear layers of one block, and the tied output head
  const layers: [string, number, number][] = [
    ['qkv', C, 3 * C],
    ['attproj', C, C],
    ['fc', C, 4 * C],
    ['fcproj', 4 * C, C],
    ['head', C, V],
  ];
  const rng = new Rng(7);
  const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
  const shapes: GemmShapeResult[] = [];
  for (const [layer, IC, OC] of layers) {
    const inp = rand(BT * IC),
      w = rand(OC * IC),
      dout = rand(BT * OC);
    const out = new Float32Array(BT * OC),
      dinp = new Float32Array(BT * IC),
      dw = new Float32Array(OC * IC);
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
  return {
    bench: 'gemm',
    isa: k.isa,
    threads: k.threads,
    depth: o.depth,
    context: o.context,
    vocab: o.vocab,
    batch: o.batch,
    shapes,
    byVariant,
    overall: rate(shapes),
    machine: machineNote(),
  };
}

// ---- bench kernels: milliseconds per kernel call on one config's shapes (one layer's tensors, the output head,
// AdamW over the whole slab)

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
  const C = config.dModel,
    NH = config.nHead,
    BT = B * T,
    N = paramCounts(config).total;
  const rng = new Rng(11);
  const rand = (n: number, std = 1): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * std);
  const tok = Int32Array.from({ length: BT }, () => rng.int(V));
  const x = rand(BT * C),
    dx = rand(BT * C),
    y = new Float32Array(BT * C),
    mean = new Float32Array(BT),
    rstd = new Float32Array(BT);
  const w = rand(C),
    bw = rand(C),
    dw = new Float32Array(C),
    db = new Float32Array(C);
  const wte = rand(V * C, 0.02),
    wpe = rand(T * C, 0.02),
    dwte = new Float32Array(V * C),
    dwpe = new Float32Array(T * C);
  const qkv = rand(BT * 3 * C),
    dqkv = new Float32Array(BT * 3 * C),
    att = new Float32Array(B * NH * T * T);
  const pre = new Float32Array(B * NH * T * T),
    datt = new Float32Array(B * NH * T * T),
    dpre = new Float32Array(B * NH * T * T);
  const h = rand(BT * 4 * C),
    dh = new Float32Array(BT * 4 * C);
  const logits = rand(BT * V),
    probs = new Float32Array(BT * V),
    dlogits = new Float32Array(BT * V),
    losses = new Float32Array(BT);
  const p = rand(N, 0.02),
    g = rand(N, 0.01),
    m = new Float32Array(N),
    v = new Float32Array(N);
  const mm = (name: string, IC: number, OC: number): Case[] => {
    const wt = rand(OC * IC, 0.02),
      bias = rand(OC),
      inp = rand(BT * IC),
      out = new Float32Array(BT * OC),
      dout = rand(BT * OC);
    const dinp = new Float32Array(BT * IC),
      dwt = new Float32Array(OC * IC),
      dbias = new Float32Array(OC);
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

export function benchKernels(o: {
  depth: number;
  context: number;
  vocab: number;
  batch: number;
  threads?: number;
  reps: number;
  backends: ('native' | 'ts')[];
}): KernelsBenchResult {
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
  return {
    bench: 'kernels',
    depth: o.depth,
    context: o.context,
    vocab: o.vocab,
    batch: o.batch,
    threads: impls.find((k) => k.backend === 'native')?.threads ?? 1,
    backends: impls.map((k) => k.backend),
    kernels,
    machine: machineNote(),
  };
}
