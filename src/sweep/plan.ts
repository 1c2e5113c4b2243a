// A sweep's plan before it runs: per run its model size, steps, tokens and FLOPs (the engine's accounting), the totals,
// and an estimated time from a short measured probe of each model size. Running the plan is the executors'.
import { GPT, AdamW, trainStep, loadKernels, validateConfig, paramCounts, flopsPerToken, type GPTConfig } from '../engine/index.ts';
import { parseTokenizerSpec, loadTokenizer } from '../data/index.ts';
import { modelName, modelShape, runId, runName, totalSteps, type ExecOptions, type RunConfig } from '../train/config.ts';
import type { SweepSpec } from './spec.ts';
import { maxOf } from '../analysis/extent.ts';

export interface PlannedRun {
  id: string;
  name: string;
  config: RunConfig;
  steps: number;
  /** trained tokens: steps * batch * context */
  tokens: number;
  vocab: number;
  paramsKaplan: number;
  paramsTotal: number;
  /** Kaplan et al. 2020 Table 1: 6N + 6 n_layer n_ctx d_model per token, N non-embedding (no output head) */
  flopsPerToken: number;
  flops: number;
  /** from the probe, when one ran */
  estimatedSeconds?: number;
}

export interface ProbeResult {
  /** model size and micro-batch probed, e.g. 'd2 (V 256, T 64) micro 16' */
  label: string;
  secondsPerMicroStep: number;
}

export interface SweepPlan {
  sweep: string;
  purpose: string;
  runs: PlannedRun[];
  totalTokens: number;
  totalFlops: number;
  probes: ProbeResult[];
  workers: number;
  /** sum of run estimates / workers (ideal packing; evaluation and data preparation not counted); absent without a probe */
  estimatedSeconds?: number;
}

export interface PlanOptions {
  /** timed steps per (model size, micro-batch) after one warm-up step; 0 skips the probe and the estimate */
  probeSteps?: number;
  /** each probe stops early after this many seconds of timed steps */
  probeSeconds?: number;
  backend?: ExecOptions['backend'];
  /** threads per worker (what each run will get) */
  threads?: number;
  workers?: number;
}

/** Vocabulary size the tokenizer will have, without training it (bpe-<V> is assumed to reach V). */
async function vocabOf(tokenizer: string, cache: Map<string, number>): Promise<number> {
  const hit = cache.get(tokenizer);
  if (hit !== undefined) return hit;
  const t = parseTokenizerSpec(tokenizer);
  let v: number;
  switch (t.kind) {
    case 'byte':
      v = 256;
      break;
    case 'gpt2':
      v = 50257;
      break;
    case 'bpe':
      v = t.vocabSize;
      break;
    case 'file':
      v = (await loadTokenizer(t)).vocabSize;
      break;
    default:
      return t satisfies never;
  }
  cache.set(tokenizer, v);
  return v;
}

export async function planSweep(spec: SweepSpec, configs: RunConfig[], options: PlanOptions = {}): Promise<SweepPlan> {
  const vocabs = new Map<string, number>();
  const runs: PlannedRun[] = [];
  for (const config of configs) {
    const vocab = await vocabOf(config.tokenizer, vocabs);
    const g = validateConfig({ ...modelShape(config), vocab, context: config.context });
    const counts = paramCounts(g);
    const fpt = flopsPerToken(g).kaplan;
    const steps = totalSteps(config);
    const tokens = steps * config.batch * config.context;
    runs.push({ id: runId(config), name: runName(config), config, steps, tokens, vocab, paramsKaplan: counts.kaplan, paramsTotal: counts.total, flopsPerToken: fpt, flops: tokens * fpt });
  }
  const workers = Math.max(1, options.workers ?? 1);
  const plan: SweepPlan = {
    sweep: spec.name,
    purpose: spec.purpose,
    runs,
    totalTokens: runs.reduce((a, r) => a + r.tokens, 0),
    totalFlops: runs.reduce((a, r) => a + r.flops, 0),
    probes: [],
    workers,
  };
  if ((options.probeSteps ?? 2) <= 0) return plan;

  // ---- the probe: time a few real training steps of each (model size, micro-batch) on random tokens
  const kernels = loadKernels({ backend: options.backend ?? 'auto', threads: options.threads });
  const timed = new Map<string, number>();
  for (const r of runs) {
    const micro = r.config.microBatch ?? r.config.batch;
    const g: GPTConfig = validateConfig({ ...modelShape(r.config), vocab: r.vocab, context: r.config.context });
    const key = `${g.nLayer}/${g.dModel}/${g.nHead}/${g.vocab}/${g.context}/${micro}`;
    let s = timed.get(key);
    if (s === undefined) {
      s = probe(g, micro, kernels, options.probeSteps ?? 2, options.probeSeconds ?? 3);
      timed.set(key, s);
      plan.probes.push({ label: `${modelName(r.config)} (V ${g.vocab}, T ${g.context}) micro ${micro}`, secondsPerMicroStep: s });
    }
    r.estimatedSeconds = s * r.steps * (r.config.batch / micro);
  }
  plan.estimatedSeconds = runs.reduce((a, r) => a + (r.estimatedSeconds ?? 0), 0) / workers;
  return plan;
}

function probe(g: GPTConfig, micro: number, kernels: ReturnType<typeof loadKernels>, steps: number, maxSeconds: number): number {
  const gpt = new GPT(g, kernels, { seed: 0, maxMicroBatch: micro });
  const opt = new AdamW(gpt, {});
  const n = micro * g.context;
  const batch = { inputs: new Int32Array(n), targets: new Int32Array(n) };
  for (let i = 0; i < n; i++) {
    batch.inputs[i] = (i * 7919) % g.vocab;
    batch.targets[i] = (i * 104729 + 1) % g.vocab;
  }
  trainStep(gpt, opt, [batch], micro, g.context, { lr: 1e-4, clip: 1 }); // warm-up: first-touch allocations
  const t0 = performance.now();
  let done = 0;
  while (done < steps) {
    trainStep(gpt, opt, [batch], micro, g.context, { lr: 1e-4, clip: 1 });
    done++;
    if ((performance.now() - t0) / 1000 > maxSeconds) break;
  }
  return (performance.now() - t0) / 1000 / done;
}

// ---- text

export function formatCount(x: number): string {
  const units: [number, string][] = [[1e18, 'E'], [1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [v, u] of units) if (Math.abs(x) >= v) return `${(x / v).toPrecision(3)}${u}`;
  return String(Math.round(x));
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(0)}s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/** The plan as a table: a line per run, then the totals and the estimate. `state` marks runs already done. */
export function formatPlan(plan: SweepPlan, state: Map<string, string> = new Map()): string {
  const head = ['run', 'N (kaplan)', 'batch', 'micro', 'lr', 'steps', 'tokens', 'FLOPs', 'est.', 'state'];
  const rows = plan.runs.map((r) => [
    r.id,
    formatCount(r.paramsKaplan),
    String(r.config.batch),
    String(r.config.microBatch ?? r.config.batch),
    String(r.config.lr),
    String(r.steps),
    formatCount(r.tokens),
    formatCount(r.flops),
    r.estimatedSeconds !== undefined ? formatDuration(r.estimatedSeconds) : '-',
    state.get(r.id) ?? 'new',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, maxOf(rows.map((r) => r[i].length))));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [`sweep ${plan.sweep} (${plan.purpose}): ${plan.runs.length} runs`, line(head), ...rows.map(line)];
  out.push(`total: ${formatCount(plan.totalTokens)} tokens, ${formatCount(plan.totalFlops)} FLOPs (Kaplan 6N + attention, output head not counted)`);
  for (const p of plan.probes) out.push(`probe: ${p.label}: ${(p.secondsPerMicroStep * 1000).toFixed(1)} ms per micro-batch step`);
  if (plan.estimatedSeconds !== undefined) {
    const todo = plan.runs.filter((r) => !['done', 'diverged'].includes(state.get(r.id) ?? ''));
    const left = todo.reduce((a, r) => a + (r.estimatedSeconds ?? 0), 0) / plan.workers;
    out.push(`estimated time: ${formatDuration(plan.estimatedSeconds)} on ${plan.workers} worker(s)${todo.length < plan.runs.length ? `, ${formatDuration(left)} for the ${todo.length} runs not finished` : ''} (from the probe; evaluation and data preparation not counted)`);
  } else out.push('estimated time: not probed (--probe-steps 0)');
  return out.join('\n');
}
