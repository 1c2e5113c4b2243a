// `bench train`: times full training steps (forward, backward, gradient norm and clipping, AdamW) of the
// real GPT on random tokens, after warm-up; reports the median step, tokens/s and achieved GFLOP/s.
import { AdamW, GPT, Rng, flopsPerToken, fromDepth, loadKernels, paramCounts, trainStep, type BackendName } from '../src/engine/index.ts';
import { machineNote, median, timeRuns, type MachineNote } from './timing.ts';

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
  const inputs = new Int32Array(n), targets = new Int32Array(n);
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
