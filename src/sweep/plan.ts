// A sweep's plan before it runs: per run its model size, steps, tokens and FLOPs (the engine's accounting), the totals,
// and an estimated time from a short measured probe of each model size (train/probe.ts). Running the plan is the
// executors'.
import { loadKernels, validateConfig, paramCounts, flopsPerToken } from '../engine/index.ts';
import { parseTokenizerSpec, loadTokenizer } from '../data/index.ts';
import { evalSteps, modelName, modelShape, runId, runName, totalSteps, type ExecOptions, type RunConfig } from '../train/config.ts';
import { timeTrainingSteps } from '../train/probe.ts';
import { externalCommand } from '../train/external.ts';
import type { SweepSpec } from './spec.ts';
import { maxOf } from '../analysis/extent.ts';
import { formatCount, formatDuration, formatSig } from '../util/format.ts';

export interface PlannedRun {
  id: string;
  name: string;
  config: RunConfig;
  steps: number;
  /** test-loss evaluations the run will make (its eval schedule) */
  evals: number;
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
  /** the probe timed CPU time (one thread per run): the estimate is for cores not shared with other jobs */
  cpuTimed?: boolean;
  /** why there is no estimate, when there is none (formatPlan shows it): 'no probe', '--probe-steps 0', ... */
  notProbed?: string;
  /** an external trainer's sweep (docs/ARCHITECTURE.md 4.9): its name and the first run's command line */
  external?: { trainer: string; command: string };
}

export interface PlanOptions {
  /**
   * false: time no steps (no model is built, nothing is trained), so the plan has no time estimate: each run's and
   * the total's est. show as unknown. For a dry run, which must not train. Default true.
   */
  probe?: boolean;
  /** why the probe is off, shown in place of the estimate (default 'no probe'; e.g. '--dry-run') */
  noProbeReason?: string;
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
    runs.push({
      id: runId(config),
      name: runName(config),
      config,
      steps,
      evals: evalSteps(config).length,
      tokens,
      vocab,
      paramsKaplan: counts.kaplan,
      paramsTotal: counts.total,
      flopsPerToken: fpt,
      flops: tokens * fpt,
    });
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
  // an external trainer's runs are not ours to time: the plan shows what will be launched instead
  const trainer = configs[0]?.trainer;
  if (trainer !== undefined) {
    plan.external = { trainer: trainer.name, command: externalCommand(configs[0], '<run_dir>', false) };
    plan.notProbed = `external trainer ${trainer.name}: not timed`;
    return plan;
  }
  if (options.probe === false) {
    plan.notProbed = options.noProbeReason ?? 'no probe';
    return plan;
  }
  if ((options.probeSteps ?? 2) <= 0) {
    plan.notProbed = '--probe-steps 0';
    return plan;
  }

  // ---- the probe: time a few real training steps of each (model size, micro-batch) on synthetic tokens
  const kernels = loadKernels({ backend: options.backend ?? 'auto', threads: options.threads });
  const timed = new Map<string, number>();
  for (const r of runs) {
    const micro = r.config.microBatch ?? r.config.batch;
    const shape = modelShape(r.config);
    const key = `${shape.nLayer}/${shape.dModel}/${shape.nHead}/${r.vocab}/${r.config.context}/${micro}`;
    let s = timed.get(key);
    if (s === undefined) {
      s = timeTrainingSteps(r.config, r.vocab, kernels, {
        steps: options.probeSteps ?? 2,
        maxSeconds: options.probeSeconds ?? 3,
        cpuTime: options.threads === 1,
      }).secondsPerMicroStep;
      timed.set(key, s);
      plan.probes.push({ label: `${modelName(r.config)} (V ${r.vocab}, T ${r.config.context}) micro ${micro}`, secondsPerMicroStep: s });
    }
    r.estimatedSeconds = s * r.steps * (r.config.batch / micro);
  }
  plan.estimatedSeconds = runs.reduce((a, r) => a + (r.estimatedSeconds ?? 0), 0) / workers;
  plan.cpuTimed = options.threads === 1;
  return plan;
}

// ---- text

/**
 * Per model size and batch size, the LRs and seeds the sweep trains, when any batch size has more than one of
 * either: a batch-size scan takes the best LR per batch size (its envelope), and seeds measure the spread.
 */
function envelopeLines(runs: readonly PlannedRun[]): string[] {
  const groups = new Map<string, { model: string; batch: number; tokens: Set<number>; lrs: Set<number>; seeds: Set<number>; runs: number }>();
  for (const r of runs) {
    const model = modelName(r.config);
    const key = `${model}/${r.config.batch}`;
    const g = groups.get(key) ?? { model, batch: r.config.batch, tokens: new Set<number>(), lrs: new Set<number>(), seeds: new Set<number>(), runs: 0 };
    g.tokens.add(r.tokens);
    g.lrs.add(r.config.lr);
    g.seeds.add(r.config.seed);
    g.runs++;
    groups.set(key, g);
  }
  const all = [...groups.values()];
  if (all.every((g) => g.lrs.size === 1 && g.seeds.size === 1)) return [];
  const sorted = (xs: Set<number>) => [...xs].sort((a, b) => a - b);
  const modelWidth = maxOf(all.map((g) => g.model.length));
  const batchWidth = maxOf(all.map((g) => String(g.batch).length));
  const lrText = (g: (typeof all)[number]) =>
    sorted(g.lrs)
      .map((x) => formatSig(x, { small: Infinity, shortExponent: true }))
      .join(' ');
  const lrWidth = maxOf(all.map((g) => lrText(g).length));
  return [
    `LRs and seeds per model and batch size (a scan takes the best LR per batch size and seed; seeds are replicas):`,
    ...all
      .sort((a, b) => (a.model === b.model ? a.batch - b.batch : a.model < b.model ? -1 : 1))
      .map(
        (g) =>
          `  ${g.model.padEnd(modelWidth)}  batch ${String(g.batch).padStart(batchWidth)}: ${g.lrs.size} LR${g.lrs.size > 1 ? 's' : ' '} ${lrText(g).padEnd(lrWidth)}  x  ${g.seeds.size} seed${g.seeds.size > 1 ? 's' : ' '} ${sorted(g.seeds).join(' ')}  (${g.runs} runs)`,
      ),
  ];
}

/** The plan as a table: a line per run, then the totals and the estimate. `state` marks runs already done. */
export function formatPlan(plan: SweepPlan, state: Map<string, string> = new Map()): string {
  const head = ['run', 'N (kaplan)', 'batch', 'micro', 'lr', 'seed', 'steps', 'evals', 'tokens', 'FLOPs', 'est.', 'state'];
  const rows = plan.runs.map((r) => [
    r.id,
    formatCount(r.paramsKaplan),
    String(r.config.batch),
    String(r.config.microBatch ?? r.config.batch),
    String(r.config.lr),
    String(r.config.seed),
    String(r.steps),
    `${r.evals}${r.config.evalSchedule === 'log' ? ' log' : ''}`,
    formatCount(r.tokens),
    formatCount(r.flops),
    r.estimatedSeconds !== undefined ? formatDuration(r.estimatedSeconds) : '-',
    state.get(r.id) ?? 'new',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, maxOf(rows.map((r) => r[i].length))));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [`sweep ${plan.sweep} (${plan.purpose}): ${plan.runs.length} runs`, line(head), ...rows.map(line)];
  out.push(...envelopeLines(plan.runs));
  out.push(`total: ${formatCount(plan.totalTokens)} tokens, ${formatCount(plan.totalFlops)} FLOPs (Kaplan 6N + attention, output head not counted)`);
  if (plan.external) out.push(`trainer ${plan.external.trainer}; the first run's command: ${plan.external.command}`);
  for (const p of plan.probes) out.push(`probe: ${p.label}: ${(p.secondsPerMicroStep * 1000).toFixed(1)} ms per micro-batch step`);
  if (plan.estimatedSeconds !== undefined) {
    const todo = plan.runs.filter((r) => !['done', 'diverged'].includes(state.get(r.id) ?? ''));
    const left = todo.reduce((a, r) => a + (r.estimatedSeconds ?? 0), 0) / plan.workers;
    out.push(
      `estimated time: ${formatDuration(plan.estimatedSeconds)} on ${plan.workers} worker(s)${todo.length < plan.runs.length ? `, ${formatDuration(left)} for the ${todo.length} runs not finished` : ''} (from the probe${plan.cpuTimed ? "'s CPU time, so for cores no other job uses" : ''}; evaluation and data preparation not counted)`,
    );
  } else out.push(`estimated time: not probed (${plan.notProbed ?? 'no probe'}), so unknown`);
  return out.join('\n');
}
