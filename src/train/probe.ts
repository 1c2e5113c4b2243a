// The run's model as the trainer builds it, and a timing probe on it: a few real training steps of a config's model
// on synthetic tokens, for time estimates before a sweep runs (sweep/plan.ts). No data, no store, no checkpoint.
import { GPT, AdamW, trainStep, validateConfig, type GPTConfig, type Kernels } from '../engine/index.ts';
import { modelShape, type RunConfig } from './config.ts';

export interface RunModel {
  gptConfig: GPTConfig;
  gpt: GPT;
  optimizer: AdamW;
}

/**
 * The model and optimiser of a run of `config` over a vocabulary of `vocab` tokens: what trainRun trains (same shape,
 * seed, micro-batch capacity and AdamW settings), so a probe times the step the run will take.
 */
export function buildRunModel(config: RunConfig, vocab: number, kernels: Kernels): RunModel {
  const micro = config.microBatch ?? config.batch;
  const gptConfig: GPTConfig = validateConfig({ ...modelShape(config), vocab, context: config.context });
  const gpt = new GPT(gptConfig, kernels, { seed: config.seed, maxMicroBatch: micro });
  const optimizer = new AdamW(gpt, { beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay });
  return { gptConfig, gpt, optimizer };
}

export interface StepTimingOptions {
  /** timed steps after one untimed warm-up step (default 2; at least 1) */
  steps?: number;
  /** stop early once the timed steps have taken this many seconds of wall time (default 3) */
  maxSeconds?: number;
  /**
   * Time the process's CPU time instead of the wall time. Meaningful with one thread only: on a machine shared with
   * other jobs the wall time of a few steps varies several-fold (measured: 1.2-13 ms for the same step at load 12 on
   * 2 cores), while the CPU time is what the step costs on an otherwise idle core.
   */
  cpuTime?: boolean;
}

export interface StepTiming {
  /** seconds per optimiser step over one micro-batch (a run's step takes batch / microBatch of these) */
  secondsPerMicroStep: number;
  /** steps timed (fewer than asked when maxSeconds ran out) */
  steps: number;
  cpuTime: boolean;
}

/**
 * Times training steps of `config`'s model (buildRunModel) over one micro-batch of synthetic tokens, on `kernels`.
 * Costs a model's memory and about (steps + 1) micro-batch steps of CPU.
 */
export function timeTrainingSteps(config: RunConfig, vocab: number, kernels: Kernels, options: StepTimingOptions = {}): StepTiming {
  const steps = Math.max(1, Math.floor(options.steps ?? 2));
  const maxSeconds = options.maxSeconds ?? 3;
  const cpuTime = options.cpuTime ?? false;
  const { gptConfig: g, gpt, optimizer } = buildRunModel(config, vocab, kernels);
  const micro = config.microBatch ?? config.batch;
  const n = micro * g.context;
  const batch = { inputs: new Int32Array(n), targets: new Int32Array(n) };
  for (let i = 0; i < n; i++) {
    batch.inputs[i] = (i * 7919) % g.vocab;
    batch.targets[i] = (i * 104729 + 1) % g.vocab;
  }
  const step = () => trainStep(gpt, optimizer, [batch], micro, g.context, { lr: 1e-4, clip: config.gradClip });
  step(); // warm-up: first-touch allocations
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let done = 0;
  while (done < steps) {
    step();
    done++;
    if ((performance.now() - t0) / 1000 > maxSeconds) break;
  }
  if (cpuTime) {
    const cpu = process.cpuUsage(cpu0);
    return { secondsPerMicroStep: (cpu.user + cpu.system) / 1e6 / done, steps: done, cpuTime };
  }
  return { secondsPerMicroStep: (performance.now() - t0) / 1000 / done, steps: done, cpuTime };
}
