// Designed sweeps (issue 16 item 2): sweep specs written from a few numbers instead of by hand. An IsoFLOP design places,
// for each FLOP budget C, model sizes around the expected optimum (C ~ 6 N D, N Kaplan's non-embedding count
// 12 n_layer d_model^2, Kaplan et al. 2020 section 2.1) and the token count that spends C as the trainer counts FLOPs
// (6 N + 6 n_layer context d_model per token, engine/config.ts flopsPerToken: the FLOPs the runs log, which the IsoFLOP
// analysis clusters into budgets; at width 16 attention is a third on top of 6 N); a batch-scan design lays a batch
// ladder with token budgets growing with the batch size and an LR envelope (couple.lr with scan), as
// examples/demo/scan.yaml does by hand. The output is an ordinary sweep spec (parseSweepSpec accepts it), written out so
// it can be read, edited and re-run; nothing here trains.
import YAML from 'yaml';
import { parseSweepSpec, SweepSpecError, type SweepSpecInput } from './spec.ts';
import { flopsPerToken } from '../engine/config.ts';

// ---- model shapes

export interface Shape {
  /** the depth dial (d_model = 64 depth, heads = depth) when the shape is on it */
  depth?: number;
  nLayer: number;
  dModel: number;
  nHead: number;
  /** Kaplan's N = 12 n_layer d_model^2 (engine/config.ts paramCounts().kaplan) */
  n: number;
}

export const kaplanN = (nLayer: number, dModel: number): number => 12 * nLayer * dModel * dModel;

/** Widths are multiples of this (the depth dial's are of 64: too coarse below depth 3, a factor 8 from depth 1 to 2). */
const WIDTH_STEP = 16;

/**
 * The shape nearest (in log N) to `target` parameters with the depth dial's aspect ratio d_model ~ 64 n_layer: for each
 * n_layer the width sqrt(N / (12 n_layer)) rounded to a multiple of WIDTH_STEP, keeping the n_layer whose d_model / n_layer
 * lies nearest 64 in log (ties: the smaller N error). Heads of size 64 where the width allows (the dial's), else of 16 or
 * 32. A shape that is on the dial is written as `depth`.
 */
export function shapeFor(target: number): Shape {
  let best: Shape | null = null;
  let bestScore = Infinity;
  for (let L = 1; L <= 48; L++) {
    const d = Math.max(WIDTH_STEP, Math.round(Math.sqrt(target / (12 * L)) / WIDTH_STEP) * WIDTH_STEP);
    const n = kaplanN(L, d);
    const score = Math.abs(Math.log(d / (64 * L))) + 4 * Math.abs(Math.log(n / target));
    if (score < bestScore) {
      bestScore = score;
      const nHead = d % 64 === 0 ? d / 64 : d % 32 === 0 ? d / 32 : d / 16;
      best = { nLayer: L, dModel: d, nHead, n, ...(d === 64 * L ? { depth: L } : {}) };
    }
  }
  return best!;
}

/**
 * A width ladder for a fixed number of layers (`--n-layer`): widths in steps of 4 below 32, 8 below 64 and 16 above,
 * so a ladder of tiny models (d_model 8-64) is not forced onto multiples of 16 (a factor 4 in N from 16 to 32), and
 * one head up to width 64, then heads of at most 64 (one family: only the width changes along the ladder).
 */
export function shapeForDepth(target: number, nLayer: number): Shape {
  const raw = Math.sqrt(target / (12 * nLayer));
  const step = raw < 30 ? 4 : raw < 60 ? 8 : WIDTH_STEP;
  const d = Math.max(8, Math.round(raw / step) * step);
  let nHead = Math.ceil(d / 64);
  while (d % nHead !== 0) nHead++;
  return { nLayer, dModel: d, nHead, n: kaplanN(nLayer, d), ...(d === 64 * nLayer && nHead === nLayer ? { depth: nLayer } : {}) };
}

const shapeKeys = (s: Shape): Record<string, number> => (s.depth !== undefined ? { depth: s.depth } : { nLayer: s.nLayer, dModel: s.dModel, nHead: s.nHead });

// ---- IsoFLOP

export interface IsoFlopDesignOptions {
  budgets: number[];
  /** model sizes per budget (default 5) */
  sizesPerBudget?: number;
  /** the prior: D/N at the optimum (default 20, Hoffmann et al. 2022's ~20 tokens per parameter), so N* = sqrt(C / (6 x 20)) */
  tokensPerParam?: number;
  /** sizes span N* / spread .. N* x spread, log-spaced (default 4) */
  spread?: number;
  /** keep every size at this many layers and vary only the width (shapeForDepth); default: the depth dial's aspect (shapeFor) */
  nLayer?: number;
  /**
   * the LR per size: base.lr x (64 / d_model)^p. 0 (the default) gives every size base.lr; 1 is the 1/width rule of
   * muP for Adam's hidden weights (Yang et al. 2021), which a scan at this scale supports (docs/LOG.md, 2026-11-29)
   */
  lrWidthPower?: number;
  /** the base run config (batch and context set the step; defaults: the demo grid's) */
  base?: Record<string, unknown>;
  name?: string;
}

/** Runs whose step rounding could move their FLOPs by more than this fraction of the budget are left out (50+ steps):
 * within 2%, a designed budget clusters as one (analysis/isoflop.ts clusterBudgets, `exact` 0.01 decades = 2.3%). */
export const ISOFLOP_TOLERANCE = 0.02;

export interface DesignedRun {
  budget: number;
  shape: Shape;
  tokens: number;
  /** 6 N D with N Kaplan's count and D the rounded tokens */
  flops: number;
  /** batch-scan designs: sequences per step */
  batch?: number;
  /** set when the design gives this run its own LR (lrWidthPower) */
  lr?: number;
}

export interface Design {
  spec: SweepSpecInput;
  runs: DesignedRun[];
  /** what the design chose and what it left out, for the spec's header comment */
  notes: string[];
}

const ISOFLOP_BASE = {
  context: 64,
  tokenizer: 'byte',
  batch: 32,
  lr: 3e-3,
  schedule: 'cosine',
  warmupSteps: 20,
  evalInterval: 25,
  evalWindows: 64,
  noiseInterval: 0,
};

/** An LR to 3 significant figures (so specs read 0.0048, not 0.004800000000000001). */
const roundLr = (x: number): number => Number(x.toPrecision(3));

/**
 * For each budget C: the prior optimum N* = sqrt(C / (6 k)) (k tokens per parameter: C = 6 N D with D = k N), target
 * sizes N* spread^(2i/(m-1) - 1), i = 0..m-1, each made a shape (shapeFor; sizes that round to the same shape are kept
 * once), and D = C / (6 N) rounded to whole steps of batch x context tokens. Runs shorter than 1 / ISOFLOP_TOLERANCE
 * steps (their rounding alone could move C by more than the tolerance) are left out with a note.
 */
export function designIsoFlop(o: IsoFlopDesignOptions): Design {
  if (o.budgets.length === 0 || !o.budgets.every((c) => Number.isFinite(c) && c > 0))
    throw new SweepSpecError(`--budgets takes positive FLOP budgets, got ${o.budgets.join(', ') || 'none'}`, 'e.g. --budgets 1e11,1e12,1e13');
  const m = Math.max(1, Math.floor(o.sizesPerBudget ?? 5));
  const k = o.tokensPerParam ?? 20;
  const spread = o.spread ?? 4;
  const power = o.lrWidthPower ?? 0;
  if (o.nLayer !== undefined && !(Number.isInteger(o.nLayer) && o.nLayer >= 1))
    throw new SweepSpecError(`--n-layer takes a whole number >= 1, got ${o.nLayer}`, 'e.g. --n-layer 1 (a width ladder of one-layer models)');
  const base = { ...ISOFLOP_BASE, ...o.base };
  // the base must not fix the model or the budget: the design sets them per run
  for (const key of ['depth', 'nLayer', 'dModel', 'nHead', 'tokens', 'steps']) delete (base as Record<string, unknown>)[key];
  const step = Number(base.batch) * Number(base.context);
  const runs: DesignedRun[] = [];
  const notes: string[] = [];
  for (const c of [...o.budgets].sort((a, b) => a - b)) {
    const nStar = Math.sqrt(c / (6 * k));
    const seen = new Set<string>();
    for (let i = 0; i < m; i++) {
      const target = nStar * spread ** (m === 1 ? 0 : (2 * i) / (m - 1) - 1);
      const shape = o.nLayer !== undefined ? shapeForDepth(target, o.nLayer) : shapeFor(target);
      const key = `${shape.nLayer}/${shape.dModel}`;
      if (seen.has(key)) continue;
      seen.add(key);
      // FLOPs per token as the trainer logs them (vocab does not enter the Kaplan count)
      const perToken = flopsPerToken({ nLayer: shape.nLayer, dModel: shape.dModel, nHead: shape.nHead, vocab: 256, context: Number(base.context) }).kaplan;
      const steps = Math.round(c / perToken / step);
      if (steps < 1 / ISOFLOP_TOLERANCE) {
        notes.push(`C ${c.toExponential(1)}: N ${shape.n} left out (${steps} steps of ${step} tokens; fewer than ${1 / ISOFLOP_TOLERANCE})`);
        continue;
      }
      const tokens = steps * step;
      runs.push({ budget: c, shape, tokens, flops: perToken * tokens, ...(power !== 0 && { lr: roundLr(Number(base.lr) * (64 / shape.dModel) ** power) }) });
    }
  }
  if (runs.length === 0)
    throw new SweepSpecError(
      'the budgets are too small for any run of 20 steps at this batch and context',
      'raise --budgets, or lower base.batch / base.context',
    );
  notes.unshift(
    `IsoFLOP design: ${o.budgets.length} budgets, up to ${m} sizes each around N* = sqrt(C / (6 x ${k})) (${k} tokens per parameter), spanning N*/${spread} to N* x ${spread};`,
    `D spends C as the runs will log it (6 N + 6 n_layer context d_model FLOPs per token, N Kaplan's 12 n_layer d_model^2), rounded to whole steps of ${step} tokens (within ${ISOFLOP_TOLERANCE * 100}% of each budget);`,
    o.nLayer !== undefined
      ? `shapes: ${o.nLayer} layer(s), widths from a ladder (steps of 4 below 32, 8 below 64, 16 above), one head up to width 64;`
      : `shapes keep d_model ~ 64 n_layer (the depth dial's aspect) in widths of ${WIDTH_STEP};`,
    power === 0
      ? `one LR for every size (base.lr ${base.lr}): scan it per size for a real experiment.`
      : `LR per size: ${base.lr} x (64 / d_model)^${power} (${power === 1 ? "muP's 1/width rule for Adam" : 'a width rule'}; base.lr at width 64).`,
  );
  const name = o.name ?? `isoflop-${o.budgets.length}x${m}`;
  const spec: SweepSpecInput = {
    name,
    purpose: 'size-data',
    description: `IsoFLOP design: budgets ${o.budgets.map((c) => c.toExponential(1)).join(', ')} FLOPs, ${m} sizes each around ${k} tokens per parameter`,
    base,
    runs: runs.map((r) => ({ ...shapeKeys(r.shape), tokens: r.tokens, ...(r.lr !== undefined && { lr: r.lr }) })),
  };
  return { spec, runs, notes };
}

// ---- batch-size scan

export interface BatchScanDesignOptions {
  /** model sizes on the depth dial (default [1, 2]) */
  depths?: number[];
  /** batch sizes in sequences (default 8 .. 256, doubling) */
  batches?: number[];
  /** token budget at the smallest batch (default 600000) */
  tokens?: number;
  /**
   * a guess of B_crit in sequences (default 24, the demo's): budgets grow as (1 + B / guess) / (1 + B_0 / guess), so every
   * batch size reaches about the same loss (S = S_min (1 + B_crit/B), E = E_min (1 + B/B_crit); Kaplan et al. 2020 eq. 5.1)
   */
  bCritGuess?: number;
  /** the LR rule's centre at `refBatch` (default 2.5e-3 at 64) and its power (default 0.5: the square-root rule) */
  lr?: number;
  refBatch?: number;
  lrPower?: number;
  /** multipliers of the rule's LR tried at every batch size: the envelope (default [0.5, 1, 2]) */
  lrScan?: number[];
  base?: Record<string, unknown>;
  name?: string;
}

const SCAN_BASE = { context: 64, tokenizer: 'byte', schedule: 'constant', warmupSteps: 20, evalSchedule: 'log', evals: 40, evalWindows: 64 };

/**
 * A batch-size scan: every depth x batch size, token budgets growing with the batch (bCritGuess), constant LR after
 * warm-up (a scan compares steps to a loss), test loss at 40 log-spaced steps, an LR envelope per batch size from one
 * couple.lr rule (lr (B / refBatch)^power x each of lrScan), and micro-batches of at most 64 sequences with at least 4
 * per step (the noise-scale probe needs 2 or more; McCandlish et al. 2018 App. A.1).
 */
export function designBatchScan(o: BatchScanDesignOptions = {}): Design {
  const depths = o.depths ?? [1, 2];
  const batches = [...(o.batches ?? [8, 16, 32, 64, 128, 256])].sort((a, b) => a - b);
  if (!batches.every((b) => Number.isInteger(b) && b >= 1) || !depths.every((d) => Number.isInteger(d) && d >= 1))
    throw new SweepSpecError('--batches and --depths take whole numbers >= 1', 'e.g. --batches 8,16,32,64 --depths 1,2');
  const t0 = o.tokens ?? 600_000;
  const guess = o.bCritGuess ?? 24;
  const base = { ...SCAN_BASE, ...o.base };
  for (const key of ['depth', 'nLayer', 'dModel', 'nHead', 'tokens', 'steps', 'batch', 'lr']) delete (base as Record<string, unknown>)[key];
  const ctx = Number(base.context);
  const runs: DesignedRun[] = [];
  // the longest runs first, so parallel workers finish together (as the demo's scan orders them)
  for (const depth of [...depths].sort((a, b) => b - a)) {
    for (const b of [...batches].reverse()) {
      const want = (t0 * (1 + b / guess)) / (1 + batches[0] / guess);
      const steps = Math.max(1, Math.round(want / (b * ctx)));
      const n = kaplanN(depth, 64 * depth);
      runs.push({
        budget: NaN,
        shape: { depth, nLayer: depth, dModel: 64 * depth, nHead: depth, n },
        tokens: steps * b * ctx,
        flops: 6 * n * steps * b * ctx,
        batch: b,
      });
    }
  }
  const lr = { base: o.lr ?? 2.5e-3, refBatch: o.refBatch ?? 64, power: o.lrPower ?? 0.5, scan: o.lrScan ?? [0.5, 1, 2] };
  const notes = [
    `batch-scan design: depths ${depths.join(', ')} x batches ${batches.join(', ')} sequences of ${ctx} tokens;`,
    `tokens grow as (1 + B/${guess}) from ${t0} at batch ${batches[0]} (a B_crit guess of ${guess} sequences), so every batch size reaches about the same loss;`,
    `LR envelope: ${lr.base} (B/${lr.refBatch})^${lr.power} x ${lr.scan.join(', ')} at every batch size (the analysis takes the best per batch size).`,
  ];
  const spec: SweepSpecInput = {
    name: o.name ?? `batch-scan-d${depths.join('-')}`,
    purpose: 'batch-scan',
    description: `depths ${depths.join(', ')} x batches ${batches[0]}..${batches[batches.length - 1]} sequences, budgets growing with the batch size, ${lr.scan.length} LRs per batch size`,
    base,
    runs: runs.map((r) => ({ depth: r.shape.depth!, batch: r.batch!, tokens: r.tokens })),
    couple: { microBatch: { max: 64, minSplits: 4 }, lr },
  };
  return { spec, runs, notes };
}

/** The design as a YAML sweep spec with its notes as a header comment; validated by parseSweepSpec first. */
export function designToYaml(d: Design, command: string): string {
  parseSweepSpec(d.spec, 'designed sweep spec');
  const head = [`# written by: ${command}`, ...d.notes.map((n) => `# ${n}`), `# run it: scaling-lab sweep FILE (--dry-run prints the plan)`];
  return `${head.join('\n')}\n${YAML.stringify(d.spec, { lineWidth: 0 })}`;
}
