// `scaling-lab plan`: a training recipe from fitted laws (issue 16 item 3). Reads the laws' data (a store, an end-point
// import as `fit` takes, or saved `fit --json` output), fits L(N, D) with its bootstrap and, from a store's batch scan,
// B_crit(L); then for a FLOP budget or a target loss prints N_opt, D_opt, the loss, the batch size and steps, the LR,
// the wall time on this machine and how far it extrapolates. The formulas are analysis/plan.ts's (docs/METHODS.md, "Planning").
import { statSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AnalysisInputError } from '../../analysis/errors.ts';
import { maxOf, minOf } from '../../analysis/extent.ts';
import { baseName, importGroupedPoints, parseTable } from '../../analysis/importers.ts';
import { bootstrapChinchilla, fitChinchilla, type ChinchillaParams } from '../../analysis/chinchilla.ts';
import { analyzeBatchScan, pooledLaw, type BcritAnalysis } from '../../analysis/bcrit.ts';
import type { Accounting, ScalingPoint } from '../../analysis/records.ts';
import {
  candidateGrid,
  extrapolation,
  EXTRAPOLATION_WARN,
  lrFromScan,
  planAllocation,
  planBatch,
  rankNextRuns,
  type LrPoint,
  type NextTarget,
} from '../../analysis/plan.ts';
import { loadReportInput } from '../../report/source.ts';
import { prepareData } from '../../report/data.ts';
import { loadKernels, flopsPerToken, validateConfig } from '../../engine/index.ts';
import { parseRunConfig } from '../../train/config.ts';
import { timeTrainingSteps } from '../../train/probe.ts';
import { formatDuration } from '../../util/format.ts';
import { ciText, fmt, fraction, int, positive, readSource } from '../helpers.ts';
import { addShared } from '../options.ts';

export interface PlanCliOptions {
  flops?: number;
  loss?: number;
  bcritLaw?: { bStar: number; alphaB: number };
  lrLaw?: { lr: number; refBatch: number; power: number };
  context?: number;
  probe: boolean;
  level: number;
  json: boolean;
  dropHighest: number;
  sweep?: string;
  next?: number;
  nextTarget: 'exponent' | 'loss';
  bootstrap: number;
  bootstrapSeed: number;
  nParams: 'kaplan' | 'total';
  nConvention: 'kaplan' | 'total' | 'unknown';
  threads?: number;
  backend: 'auto' | 'native' | 'ts';
}

const bcritLawParser = (v: string): { bStar: number; alphaB: number } => {
  const parts = v.split(',').map(Number);
  if (parts.length !== 2 || !parts.every((x) => Number.isFinite(x) && x > 0))
    throw new InvalidArgumentError(`--bcrit-law takes B*,alpha_B (two positive numbers: B* in tokens, e.g. 2e8,0.21), got "${v}"`);
  return { bStar: parts[0], alphaB: parts[1] };
};

const lrLawParser = (v: string): { lr: number; refBatch: number; power: number } => {
  const p = v.split(',').map(Number);
  if (p.length !== 3 || !(p[0] > 0 && p[1] > 0 && p[2] >= 0) || !p.every(Number.isFinite))
    throw new InvalidArgumentError(`--lr-law takes lr,refBatch,power (lr = lr (B/refBatch)^power, B in sequences, as a sweep's couple.lr), got "${v}"`);
  return { lr: p[0], refBatch: p[1], power: p[2] };
};

/** The depth probed at most: d_model 512, 25M non-embedding parameters (a larger N_opt is timed at this size and scaled by FLOPs). */
const MAX_PROBE_DEPTH = 8;

export function registerPlan(program: Command): void {
  const cmd = program
    .command('plan')
    .description(
      'A training recipe from fitted laws: for a FLOP budget or a target loss, N_opt and D_opt with intervals, the predicted loss, the critical batch size, steps, LR and wall time on this machine.',
    )
    .argument(
      '<source>',
      'what the laws are fitted to: a runs directory or postgres:// store, a CSV/JSONL of run end points (N, D and/or C, loss; as `fit` reads), or saved `fit --json` output (.json)',
    )
    .option('--flops <C>', 'the FLOP budget C (C = 6ND)', positive('--flops'))
    .option('--loss <L>', 'the target loss instead of a budget: the smallest budget whose compute-optimal loss reaches it', positive('--loss'))
    .option(
      '--bcrit-law <B*,alpha_B>',
      'the critical batch-size law B_crit(L) = B* / L^(1/alpha_B), B* in tokens (default: fitted from a batch scan in the store; `scaling-lab bcrit` prints one)',
      bcritLawParser,
    )
    .option('--lr-law <lr,refBatch,power>', "an LR rule lr (B/refBatch)^power, B in sequences (a sweep's couple.lr), instead of the store's scan", lrLawParser)
    .option('--context <T>', "tokens per sequence, to turn batch tokens into sequences (default: the store's runs' context, else 64)", positive('--context'))
    .option('--no-probe', 'skip the timing probe (a few training steps on this machine) and so the wall-time estimate')
    .option('--level <p>', 'confidence level of the intervals', fraction('--level'), 0.95)
    .option('--json', 'print one JSON object instead of text', false)
    .option('--drop-highest <k>', 'for an import: drop the k highest-loss rows first (Besiroglu et al. 2024 drop 5)', int('--drop-highest', 0), 0)
    .option('--sweep <name>', 'for a store: only the runs of this sweep')
    .option('--next <k>', 'also rank k candidate runs by how much each narrows the interval of --next-target per FLOP', int('--next', 1))
    .addOption(
      new Option('--next-target <target>', 'what --next narrows: exponent (a in N_opt ~ C^a) or loss (the compute-optimal loss at --flops)')
        .choices(['exponent', 'loss'])
        .default('exponent'),
    );
  addShared(cmd, 'bootstrap', 'bootstrapSeed', 'nParams', 'nConvention', 'threads', 'backend');
  cmd.addHelpText(
    'after',
    `\nExamples:\n  scaling-lab plan runs --flops 1e13\n  scaling-lab plan chinchilla.csv --flops 5.76e23 --drop-highest 5 --bcrit-law 2e8,0.21 --no-probe\n  scaling-lab plan runs --loss 2.1 --next 5\n\nA budget more than ${EXTRAPOLATION_WARN.toExponential(0)}x past the largest run's FLOPs gets a warning naming the factor.`,
  );
  cmd.action(async (source: string, opts: PlanCliOptions) => {
    const { text, ...result } = await runPlan(source, opts);
    console.log(opts.json ? JSON.stringify(result, null, 2) : text);
  });
}

interface Laws {
  from: string;
  params: ChinchillaParams;
  boot: { x: Float64Array[]; level: number } | null;
  x: Float64Array | null;
  residuals: ArrayLike<number>;
  points: ScalingPoint[];
  rmseLog: number;
  fitWarnings: { code: string; message: string }[];
  /** from a store's batch scan */
  bcrit?: {
    bStar: number;
    alphaB: number;
    samples?: { bStar: ArrayLike<number>; alphaB: ArrayLike<number>; level: number };
    from: string;
    lossRange: [number, number];
  };
  bcritReason?: string;
  lr: LrPoint[];
  lrFrom?: string;
  context?: number;
  vocab?: number;
  largestRunFlops?: number;
}

const NO_LND = 'run a size x data sweep first (scaling-lab sweep --design isoflop --budgets ... writes one), or give a CSV of run end points (N, D or C, loss)';

function fitLaws(points: ScalingPoint[], o: PlanCliOptions, from: string, accounting?: Accounting): Omit<Laws, 'lr'> {
  let fit;
  try {
    fit = fitChinchilla(points, { accounting });
  } catch (err) {
    if (err instanceof AnalysisInputError) throw new AnalysisInputError(`${from}: no L(N, D) fit is possible: ${err.message}`, NO_LND);
    throw err;
  }
  const boot = o.bootstrap > 0 ? bootstrapChinchilla(points, fit, { samples: o.bootstrap, seed: o.bootstrapSeed, level: o.level }) : null;
  return {
    from,
    params: fit.params,
    x: fit.x,
    boot: boot && boot.x.length ? { x: boot.x, level: o.level } : null,
    residuals: fit.residuals.map((r) => -r), // log L - log L_pred
    points,
    rmseLog: fit.diagnostics.rmseLog,
    fitWarnings: [...fit.warnings, ...(boot?.warnings ?? [])],
    largestRunFlops: maxOf(points.map((p) => p.c)),
  };
}

async function loadLaws(source: string, o: PlanCliOptions): Promise<Laws> {
  const isUrl = /^postgres(ql)?:\/\//.test(source);
  let isDir = false;
  if (!isUrl) {
    try {
      isDir = statSync(source).isDirectory();
    } catch (err) {
      throw new AnalysisInputError(
        `cannot read ${source}: ${(err as Error).message}`,
        'give a runs directory, a postgres:// URL, a CSV/JSONL of run end points, or saved `fit --json` output',
      );
    }
  }
  if (isDir || isUrl) return loadStoreLaws(source, o);
  if (/\.json$/i.test(source)) return loadSavedFit(source);
  const table = parseTable(readSource(source), source);
  let g: ReturnType<typeof importGroupedPoints>;
  try {
    g = importGroupedPoints(table, { nConvention: o.nConvention, dropHighest: o.dropHighest, minRuns: 6, label: baseName(source) });
  } catch (err) {
    if (err instanceof AnalysisInputError && / a fit needs at least /.test(err.message))
      throw new AnalysisInputError(`no L(N, D) fit is possible: ${err.message}`, NO_LND);
    throw err;
  }
  const only = g.groups[0];
  if (!only.imp) throw new AnalysisInputError(`${source}: no L(N, D) fit is possible: ${only.reason}`, NO_LND);
  return {
    ...fitLaws(
      only.imp.points,
      o,
      `${baseName(source)} (${only.imp.points.length} runs${only.imp.dropped ? `, ${only.imp.dropped} dropped` : ''})`,
      only.imp.accounting,
    ),
    lr: [],
  };
}

/** Saved `fit --json` output: the point estimates only (it keeps no bootstrap samples, so no intervals). */
function loadSavedFit(file: string): Laws {
  let j: { law?: string; params?: Partial<ChinchillaParams>; residuals?: number[] };
  try {
    j = JSON.parse(readSource(file));
  } catch (err) {
    throw new AnalysisInputError(`${file}: not JSON: ${(err as Error).message}`, 'give the output of `scaling-lab fit FILE --json`');
  }
  const p = j.params ?? {};
  if (j.law !== 'chinchilla' || !(['E', 'A', 'B', 'alpha', 'beta'] as const).every((k) => typeof p[k] === 'number')) {
    throw new AnalysisInputError(
      `${file}: not a saved Chinchilla fit (law ${j.law ?? 'missing'}; needs params E, A, B, alpha, beta)`,
      'save one with `scaling-lab fit FILE --law chinchilla --json > fit.json`',
    );
  }
  return {
    from: `${baseName(file)} (saved fit: point estimates, no bootstrap samples)`,
    params: p as ChinchillaParams,
    x: null,
    boot: null,
    residuals: [],
    points: [],
    rmseLog: NaN,
    fitWarnings: [],
    lr: [],
  };
}

async function loadStoreLaws(source: string, o: PlanCliOptions): Promise<Laws> {
  const input = await loadReportInput(source, { sweep: o.sweep });
  const data = prepareData(input, o.nParams);
  const contexts = [...new Set(input.records.map((r) => r.context))];
  const vocab = input.records.find((r) => r.model)?.model?.vocab;
  if (!data.points || data.points.points.length === 0)
    throw new AnalysisInputError(`${input.source}: no L(N, D) fit is possible: ${data.pointsReason ?? 'no run end points'}`, NO_LND);
  const sizes = new Set(data.points.points.map((p) => p.n)).size;
  if (sizes < 3)
    throw new AnalysisInputError(
      `${input.source}: no L(N, D) fit is possible: the runs span ${sizes} model size${sizes === 1 ? '' : 's'} (3 or more needed)`,
      NO_LND,
    );
  const laws: Laws = {
    ...fitLaws(data.points.points, o, `${input.source} (${data.points.points.length} runs)`, data.points.accounting),
    lr: [],
    context: contexts.length === 1 ? contexts[0] : undefined,
    vocab,
  };
  // the batch scan: every size group with 3 or more batch sizes; the pooled law when several agree, else the largest model's
  const scans: { label: string; a: BcritAnalysis }[] = [];
  const reasons: string[] = [];
  for (const g of data.groups.filter((x) => x.batchTokens.length >= 3)) {
    try {
      scans.push({
        label: g.label,
        a: analyzeBatchScan(g.curves, { bootstrap: { samples: Math.max(1, Math.min(o.bootstrap, 200)), seed: o.bootstrapSeed, level: o.level } }),
      });
    } catch (err) {
      if (!(err instanceof AnalysisInputError)) throw err;
      reasons.push(`${g.label}: ${err.message}`);
    }
  }
  const fitted = scans.filter((s) => s.a.fit);
  const lossesOf = (a: BcritAnalysis): number[] => a.levels.filter((l) => l.status === 'ok').map((l) => l.loss);
  if (fitted.length > 1) {
    const pooled = pooledLaw(
      fitted.map((s) => s.a),
      o.level,
    );
    if (pooled) {
      const ls = fitted.flatMap((s) => lossesOf(s.a));
      laws.bcrit = {
        bStar: pooled.bStar,
        alphaB: pooled.alphaB,
        from: `pooled batch scans of ${fitted.map((s) => s.label).join(', ')}`,
        lossRange: [minOf(ls), maxOf(ls)],
      };
    }
  }
  if (!laws.bcrit && fitted.length) {
    const s = fitted[fitted.length - 1];
    const f = s.a.fit!;
    const ls = lossesOf(s.a);
    laws.bcrit = {
      bStar: f.bStar,
      alphaB: f.alphaB,
      samples: { bStar: f.bootstrap.samples.bStar, alphaB: f.bootstrap.samples.alphaB, level: o.level },
      from: `batch scan of ${s.label}`,
      lossRange: [minOf(ls), maxOf(ls)],
    };
  }
  if (!laws.bcrit)
    laws.bcritReason = scans.length
      ? `the store's batch scans gave no B_crit(L) fit (${scans.map((s) => `${s.label}: ${s.a.fitReason}`).join('; ')})`
      : `the store holds no batch scan (a model size with 3 or more batch sizes)${reasons.length ? `: ${reasons.join('; ')}` : ''}`;
  // LR: the largest model's scan, best LR per batch size
  const lrScan = scans.filter((s) => s.a.curves.some((c) => c.lr && c.lr.tried.length > 1));
  if (lrScan.length) {
    const s = lrScan[lrScan.length - 1];
    laws.lr = s.a.curves.flatMap((c) => (c.lr && c.lr.tried.length > 1 ? [{ batchTokens: c.batchTokens, lr: c.lr.best, edge: c.lr.edge }] : []));
    laws.lrFrom = `the best LR per batch size of the scan of ${s.label}`;
  }
  return laws;
}

/**
 * FLOPs per second on this machine: a few training steps of the depth-dial model nearest N (at most MAX_PROBE_DEPTH), on
 * at most PROBE_TOKENS tokens per micro-batch and a context of at most PROBE_CONTEXT (a long context's attention would
 * need gigabytes); a larger model or context is estimated from this throughput (so the estimate is optimistic there:
 * attention's share grows with the context).
 */
function probeThroughput(
  n: number,
  context: number,
  vocab: number,
  batchSeqs: number,
  o: PlanCliOptions,
): { flopsPerSecond: number; depth: number; nearestDepth: number; context: number; micro: number } {
  const nearestDepth = Math.max(1, Math.round(Math.cbrt(n / (12 * 64 * 64))));
  const depth = Math.min(nearestDepth, MAX_PROBE_DEPTH);
  const ctx = Math.min(context, PROBE_CONTEXT);
  const micro = Math.max(1, Math.min(batchSeqs, Math.floor(PROBE_TOKENS / ctx)));
  const config = parseRunConfig({ depth, context: ctx, batch: micro, steps: 1 });
  const kernels = loadKernels({ backend: o.backend, threads: o.threads });
  const t = timeTrainingSteps(config, vocab, kernels, { steps: 2, maxSeconds: 3 });
  const fpt = flopsPerToken(validateConfig({ nLayer: depth, dModel: 64 * depth, nHead: depth, vocab, context: ctx })).kaplan;
  return { flopsPerSecond: (fpt * micro * ctx) / t.secondsPerMicroStep, depth, nearestDepth, context: ctx, micro };
}
const PROBE_CONTEXT = 256;
const PROBE_TOKENS = 2048;

const sci = (v: number, d = 3): string => (Number.isFinite(v) ? v.toExponential(d - 1) : '-');

async function runPlan(source: string, o: PlanCliOptions): Promise<Record<string, unknown> & { text: string }> {
  if ((o.flops === undefined) === (o.loss === undefined))
    throw new AnalysisInputError(
      o.flops === undefined ? 'plan needs a FLOP budget or a target loss' : 'give a FLOP budget or a target loss, not both',
      'add --flops C (e.g. --flops 1e13) or --loss L (e.g. --loss 2.2)',
    );
  const laws = await loadLaws(source, o);
  const target = o.flops !== undefined ? { flops: o.flops } : { loss: o.loss! };
  const alloc = planAllocation(laws.params, target, laws.boot, laws.residuals, o.bootstrapSeed);
  const warnings: { code: string; message: string }[] = [...laws.fitWarnings];
  const lines: string[] = [];
  const level = Math.round(o.level * 100);
  const ci = (s: { ci: [number, number] }) => (laws.boot ? ` ${ciText(s.ci)}` : '');
  lines.push(
    `laws from ${laws.from}: L(N, D) = ${fmt(laws.params.E)} + ${fmt(laws.params.A)}/N^${fmt(laws.params.alpha)} + ${fmt(laws.params.B)}/D^${fmt(laws.params.beta)}   (Hoffmann et al. 2022 Approach 3)`,
  );
  lines.push(
    laws.boot
      ? `intervals: ${level}%, percentile over ${laws.boot.x.length} bootstrap refits (each refit's own allocation)`
      : 'intervals: none (no bootstrap samples: --bootstrap 0 or a saved fit)',
  );
  if (alloc.mode === 'loss') lines.push(`target loss ${fmt(o.loss!)}: budget C = ${sci(alloc.c.estimate)} FLOPs${ci(alloc.c)}`);
  else lines.push(`budget C = ${sci(o.flops!)} FLOPs (C = 6ND)`);
  lines.push(`  N_opt = ${sci(alloc.nOpt.estimate, 4)} parameters${ci(alloc.nOpt)}`);
  lines.push(
    `  D_opt = ${sci(alloc.dOpt.estimate, 4)} tokens${ci(alloc.dOpt)}   (${fmt(alloc.tokensPerParam.estimate)} tokens per parameter${ci(alloc.tokensPerParam)})`,
  );
  lines.push(`  N_opt ~ C^${fmt(alloc.a.estimate)}${ci(alloc.a)}, D_opt ~ C^${fmt(alloc.b.estimate)}${ci(alloc.b)}   (Hoffmann et al. 2022 eq. 4)`);
  lines.push(
    `  loss: ${fmt(alloc.loss.estimate)}${ci(alloc.loss)} expected; one run: ${ciText(alloc.predictionInterval)} (${level}% prediction interval: refits x the fit's log residuals)`,
  );
  // ---- extrapolation
  let extra: ReturnType<typeof extrapolation> | null = null;
  if (laws.largestRunFlops) {
    extra = extrapolation(alloc.c.estimate, laws.largestRunFlops);
    lines.push(`  ${extra.text}`);
    if (extra.warn)
      warnings.push({
        code: 'extrapolation',
        message: `the budget is ${extra.factor.toPrecision(2)}x the largest run's FLOPs, past the ${EXTRAPOLATION_WARN.toExponential(0)}x this command trusts: the exponents' small errors compound over ${Math.log10(extra.factor).toFixed(1)} decades; add runs at larger budgets`,
      });
  } else lines.push("  extrapolation: unknown (a saved fit does not record its runs' FLOPs)");
  // ---- batch size and steps
  const context = o.context ?? laws.context ?? 64;
  const law = o.bcritLaw ? { ...o.bcritLaw, from: '--bcrit-law' } : laws.bcrit;
  let batch: ReturnType<typeof planBatch> | null = null;
  if (law) {
    batch = planBatch(law.bStar, law.alphaB, alloc.loss.estimate, alloc.dOpt.estimate, context, 'samples' in law ? law.samples : undefined);
    const r = batch.recommended;
    lines.push(`batch (B_crit(L) = B*/L^(1/alpha_B), B* ${fmt(law.bStar)}, alpha_B ${fmt(law.alphaB)}, from ${law.from}; Kaplan et al. 2020 eq. 5.3):`);
    lines.push(
      `  B_crit at L ${fmt(alloc.loss.estimate)}: ${fmt(batch.bCrit.estimate)} tokens${Number.isFinite(batch.bCrit.ci[0]) ? ` ${ciText(batch.bCrit.ci)}` : ''}`,
    );
    lines.push(
      `  recommended: ${r.batchSequences} sequences of ${context} tokens (${r.batchTokens} tokens), ${r.steps} steps, ${sci(r.tokens)} tokens: at B_crit, S = 2 S_min (${fmt(batch.sMin)}) and E = 2 E_min (${sci(batch.eMin)}) (eq. 5.4-5.5)`,
    );
    for (const a of batch.alternatives)
      lines.push(
        `  ${a.factor > 1 ? '2x larger' : '2x smaller'} (${a.batchSequences} sequences): ${a.steps} steps (${fmt(a.stepsRatio)}x), ${sci(a.tokens)} tokens (${fmt(a.tokensRatio)}x compute) to the same loss, from (S/S_min - 1)(E/E_min - 1) = 1`,
      );
    if (laws.bcrit && !o.bcritLaw && (alloc.loss.estimate < laws.bcrit.lossRange[0] || alloc.loss.estimate > laws.bcrit.lossRange[1]))
      lines.push(
        `  note: L ${fmt(alloc.loss.estimate)} lies outside the losses the scan measured B_crit at (${fmt(laws.bcrit.lossRange[0])}-${fmt(laws.bcrit.lossRange[1])}): the law is extrapolated`,
      );
  } else {
    const why = laws.bcritReason ?? 'the source is not a store, so it holds no batch scan';
    warnings.push({ code: 'no-bcrit-law', message: `no B_crit(L) law: ${why}` });
    lines.push(
      `batch: no B_crit(L) law (${why}), so no batch size or steps; run a batch-size scan (scaling-lab sweep --design batch-scan) into the store, or pass --bcrit-law B*,alpha_B (scaling-lab bcrit prints both)`,
    );
  }
  // ---- LR
  let lr: ReturnType<typeof lrFromScan> = null;
  if (batch && o.lrLaw) {
    // the rule as couple.lr applies it (sweep/spec.ts): base (batch / refBatch)^power
    laws.lrFrom = `--lr-law ${o.lrLaw.lr} (B/${o.lrLaw.refBatch})^${o.lrLaw.power}`;
    lr = { lr: o.lrLaw.lr * (batch.recommended.batchSequences / o.lrLaw.refBatch) ** o.lrLaw.power, clamped: false, edge: false };
    lines.push(`learning rate: ${fmt(lr.lr)} from ${laws.lrFrom} at ${batch.recommended.batchSequences} sequences`);
  } else if (batch && laws.lr.length) {
    lr = lrFromScan(laws.lr, batch.recommended.batchTokens);
    if (lr)
      lines.push(
        `learning rate: ${fmt(lr.lr)} from ${laws.lrFrom}${lr.clamped ? ' (the batch lies outside the scanned ones: the nearest end)' : ''}${lr.edge ? ' (a best LR at the edge of the LRs tried: a bound)' : ''}; tuned at the scan's model size, not at N_opt`,
      );
  }
  if (!lr)
    lines.push(
      `learning rate: none available (${batch ? 'no batch-size scan with several LRs per batch size, no --lr-law' : 'no batch size to set it for'}); scan one with \`scaling-lab sweep --design batch-scan\` (couple.lr.scan) and plan from that store, or give --lr-law lr,refBatch,power`,
    );
  // ---- wall time
  let wall: { seconds: number; flopsPerSecond: number; probedDepth: number; nearestDepth: number } | null = null;
  if (o.probe) {
    const t = probeThroughput(alloc.nOpt.estimate, context, laws.vocab ?? 256, batch?.recommended.batchSequences ?? 16, o);
    const flops = batch ? 6 * alloc.nOpt.estimate * batch.recommended.tokens : alloc.c.estimate;
    wall = { seconds: flops / t.flopsPerSecond, flopsPerSecond: t.flopsPerSecond, probedDepth: t.depth, nearestDepth: t.nearestDepth };
    lines.push(
      `wall time on this machine: ~${wall.seconds > 3.156e7 ? `${sci(wall.seconds / 3.156e7)} years` : formatDuration(wall.seconds)} (${sci(flops)} FLOPs at ${sci(t.flopsPerSecond)} FLOP/s, timed on depth ${t.depth}, context ${t.context}, micro-batch ${t.micro}${t.depth < t.nearestDepth || t.context < context ? `; N_opt's model (depth ~${t.nearestDepth}, context ${context}) is estimated from this throughput` : ''}; --no-probe skips)`,
    );
  } else lines.push('wall time: not probed (--no-probe)');
  // ---- next runs
  let next: ReturnType<typeof rankNextRuns> | null = null;
  if (o.next) {
    if (!laws.x || laws.points.length === 0)
      throw new AnalysisInputError('--next needs the runs behind the fit', 'give the store or the end-point file, not a saved fit');
    const t: NextTarget = o.nextTarget === 'loss' ? { kind: 'loss', flops: alloc.c.estimate } : { kind: 'exponent' };
    const cs = laws.points.map((p) => p.c);
    const cands = candidateGrid(laws.params, minOf(cs), 10 * maxOf(cs));
    next = rankNextRuns(laws.x, laws.points, laws.rmseLog, t, cands, o.next);
    lines.push(
      `next ${o.next} runs, ranked by the drop in the linearised variance of ${t.kind === 'exponent' ? 'a (N_opt ~ C^a)' : `the loss at C ${sci(alloc.c.estimate)}`} per FLOP (Fisher information, greedy):`,
    );
    next.ranked.forEach((r, i) =>
      lines.push(
        `  ${i + 1}. N ${sci(r.n)}, D ${sci(r.d)}, C ${sci(r.flops)}: sd ${fmt(Math.sqrt(r.varianceBefore))} -> ${fmt(Math.sqrt(Math.max(0, r.varianceAfter)))}`,
      ),
    );
  }
  for (const w of warnings) lines.push(`warning: ${w.message}`);
  return {
    source: laws.from,
    params: laws.params,
    level: o.level,
    samples: laws.boot?.x.length ?? 0,
    allocation: alloc,
    extrapolation: extra ? { factor: extra.factor, warn: extra.warn, threshold: EXTRAPOLATION_WARN, largestRunFlops: laws.largestRunFlops } : null,
    bcritLaw: law ? { bStar: law.bStar, alphaB: law.alphaB, from: law.from } : null,
    batch,
    lr: lr ? { ...lr, from: laws.lrFrom } : null,
    wallTime: wall,
    next: next ? next.ranked : null,
    warnings,
    text: lines.join('\n'),
  };
}
