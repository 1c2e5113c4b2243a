// The gradient noise scale from logged rows (docs/METHODS.md section 2; McCandlish et al. 2018 App. A.1): per loss bin,
// B_simple = mean tr(Sigma) / mean |G|^2 over the rows in the bin (a ratio of means, no EMA lag), rows binned on the same
// smoothed test loss as B_crit, probes with B_big < 2 B_simple left out; and B_simple / B_crit at the B_crit levels.
// Estimating |G|^2 and tr(Sigma) per step is train/'s job.
import type { RunRecord } from './records.ts';
import { curvesFromRuns, lossAtStep, type BcritAnalysis, type BcritLevel } from './bcrit.ts';
import { maxOf, minOf } from './extent.ts';

/** One run's share of a bin. */
export interface NoiseRunBin {
  run: string;
  /** B_big: sequences per optimiser step */
  batchSize: number;
  rows: number;
  /** this run's own ratio of means, in tokens (Infinity when its mean |G|^2 <= 0) */
  bSimpleTokens: number;
  /** left out: B_big < 2 B_simple, where the estimator is biased */
  excluded: boolean;
  /** the sums behind the ratio (per sequence), so runs can be pooled again (e.g. the seeds of a batch size) */
  sumGradSq: number;
  sumTraceSigma: number;
}

export interface NoiseBin {
  /** geometric centre of the bin (test loss) */
  loss: number;
  lossRange: [number, number];
  /** rows of the runs kept */
  n: number;
  /** B_simple in tokens: sum tr(Sigma) / sum |G|^2 over the kept rows, x context */
  bSimpleTokens: number;
  /** the kept runs' own B_simple: smallest, largest, and largest / smallest */
  min: number;
  max: number;
  spread: number;
  runs: NoiseRunBin[];
  /** runs left out of this bin for B_big < 2 B_simple */
  excluded: number;
}

export interface NoiseOptions {
  /** bin centres (e.g. the B_crit levels); bins reach halfway (in log loss) to their neighbours */
  levels?: number[];
  /** otherwise: this many log-spaced bins over the rows' losses (default 12) */
  bins?: number;
  /** smoothing window of the test-loss curves the rows are placed on (docs/METHODS.md 1.2; default 5) */
  smoothWindow?: number;
  /** warm-up for runs that log no LR (docs/METHODS.md 1.1) */
  warmupSteps?: number;
  /** rows needed for a run to count in a bin (default 5) */
  minRows?: number;
}

interface Row {
  loss: number;
  gradSq: number;
  traceSigma: number;
  run: number;
}

function binEdges(rows: readonly Row[], o: NoiseOptions): { centre: number; lo: number; hi: number }[] {
  if (o.levels && o.levels.length > 0) {
    const ls = [...o.levels].sort((a, b) => a - b).map(Math.log);
    return ls.map((l, i) => {
      const lo = i > 0 ? (l + ls[i - 1]) / 2 : l - (ls.length > 1 ? (ls[1] - ls[0]) / 2 : 0.02);
      const hi = i + 1 < ls.length ? (l + ls[i + 1]) / 2 : l + (ls.length > 1 ? (ls[i] - ls[i - 1]) / 2 : 0.02);
      return { centre: Math.exp(l), lo: Math.exp(lo), hi: Math.exp(hi) };
    });
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    if (r.loss < lo) lo = r.loss;
    if (r.loss > hi) hi = r.loss;
  }
  if (!(hi > lo)) return [];
  const k = o.bins ?? 12;
  const w = (Math.log(hi) - Math.log(lo)) / k;
  return Array.from({ length: k }, (_, j) => {
    const a = Math.log(lo) + j * w;
    return { centre: Math.exp(a + w / 2), lo: Math.exp(a), hi: Math.exp(a + w) * (j === k - 1 ? 1 + 1e-12 : 1) };
  });
}

/**
 * B_simple per loss bin as a ratio of means (docs/METHODS.md section 2). Rows need the raw per-step estimates
 * gradSq and traceSigma (trainer version 2); each is placed on its run's smoothed test-loss curve.
 */
export function noiseScaleBins(records: readonly RunRecord[], o: NoiseOptions = {}): NoiseBin[] {
  const probed = records.filter((r) => r.metrics.some((m) => m.gradSq !== undefined && m.traceSigma !== undefined));
  if (probed.length === 0) return [];
  const curves = curvesFromRuns(probed, 'test');
  const rows: Row[] = [];
  probed.forEach((r, i) => {
    const at = lossAtStep(curves[i], o.smoothWindow ?? 5, o.warmupSteps);
    for (const m of r.metrics) {
      if (m.gradSq === undefined || m.traceSigma === undefined || !Number.isFinite(m.gradSq) || !Number.isFinite(m.traceSigma)) continue;
      const loss = at(m.step);
      if (loss !== undefined) rows.push({ loss, gradSq: m.gradSq, traceSigma: m.traceSigma, run: i });
    }
  });
  const minRows = o.minRows ?? 5;
  const out: NoiseBin[] = [];
  for (const e of binEdges(rows, o)) {
    const per = new Map<number, { g: number; t: number; n: number }>();
    for (const r of rows) {
      if (r.loss < e.lo || r.loss >= e.hi) continue;
      const acc = per.get(r.run) ?? { g: 0, t: 0, n: 0 };
      acc.g += r.gradSq;
      acc.t += r.traceSigma;
      acc.n++;
      per.set(r.run, acc);
    }
    const runs: NoiseRunBin[] = [];
    let g = 0;
    let t = 0;
    let n = 0;
    for (const [i, acc] of per) {
      if (acc.n < minRows) continue;
      const rec = probed[i];
      const bSeq = acc.g > 0 ? acc.t / acc.g : Infinity;
      const excluded = !(rec.batchSize >= 2 * bSeq);
      runs.push({ run: rec.id, batchSize: rec.batchSize, rows: acc.n, bSimpleTokens: bSeq * rec.context, excluded, sumGradSq: acc.g, sumTraceSigma: acc.t });
      if (!excluded) {
        g += acc.g;
        t += acc.t;
        n += acc.n;
      }
    }
    const kept = runs.filter((r) => !r.excluded);
    if (kept.length === 0 || !(g > 0)) {
      if (runs.length > 0)
        out.push({ loss: e.centre, lossRange: [e.lo, e.hi], n: 0, bSimpleTokens: NaN, min: NaN, max: NaN, spread: NaN, runs, excluded: runs.length });
      continue;
    }
    // tokens: context is shared within a group; weight by rows as the ratio of means does
    const context = probed[[...per.keys()][0]].context;
    let min = Infinity;
    let max = -Infinity;
    for (const r of kept) {
      if (r.bSimpleTokens < min) min = r.bSimpleTokens;
      if (r.bSimpleTokens > max) max = r.bSimpleTokens;
    }
    out.push({
      loss: e.centre,
      lossRange: [e.lo, e.hi],
      n,
      bSimpleTokens: (t / g) * context,
      min,
      max,
      spread: max / min,
      runs,
      excluded: runs.length - kept.length,
    });
  }
  return out;
}

export interface NoiseRatio {
  loss: number;
  bSimpleTokens: number;
  bCrit: number;
  /** B_simple / B_crit: McCandlish et al. predict order 1 (B_crit ~ B_noise) */
  ratio: number;
  /** largest / smallest per-run B_simple in the bin */
  spread: number;
}

/** B_simple / B_crit at each ok level whose bin (centred on the level, see noiseScaleBins' `levels`) has a value. */
export function noiseToBcrit(bins: readonly NoiseBin[], levels: readonly BcritLevel[]): NoiseRatio[] {
  const out: NoiseRatio[] = [];
  for (const l of levels) {
    if (l.status !== 'ok') continue;
    const b = bins.find((x) => l.loss >= x.lossRange[0] && l.loss < x.lossRange[1] && Number.isFinite(x.bSimpleTokens));
    if (b) out.push({ loss: l.loss, bSimpleTokens: b.bSimpleTokens, bCrit: l.bCrit, ratio: b.bSimpleTokens / l.bCrit, spread: b.spread });
  }
  return out;
}

/** One batch size in one bin of the agreement check: its kept runs (seeds) pooled by ratio of means. */
export interface NoiseBatchBin {
  batchSize: number;
  runs: number;
  rows: number;
  bSimpleTokens: number;
}

export interface NoiseAgreement {
  /** wide bins over the law's levels, from each batch size's best-LR runs */
  bins: NoiseBin[];
  /** per bin (same order): each batch size's B_simple, its seeds pooled */
  batchSizes: NoiseBatchBin[][];
  /** median and largest over the bins (those with >= 2 batch sizes) of (largest / smallest batch size's B_simple) */
  spreadMedian: number;
  spreadMax: number;
  runs: number;
}

/**
 * Do runs of different batch sizes measure the same B_simple at the same loss (docs/METHODS.md section 2)? Compared
 * on each batch size's best-LR runs (runs at a worse LR reach that loss elsewhere in parameter space) in `bins` wide
 * bins over the `ok` levels' range, each run needing `minRows` rows in a bin: one step's estimate is so noisy that a
 * run's ratio over a handful of rows measures the estimator's noise, not the noise scale. The question is about batch
 * sizes, so the seeds of a batch size are pooled (ratio of means over their rows) before the spread is taken.
 * Null without 2 ok levels.
 */
export function noiseAgreement(records: readonly RunRecord[], analysis: BcritAnalysis, bins = 4, minRows = 10): NoiseAgreement | null {
  const ok = analysis.levels.filter((l) => l.status === 'ok').map((l) => l.loss);
  if (ok.length < 2) return null;
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of ok) {
    if (l < lo) lo = l;
    if (l > hi) hi = l;
  }
  const best = new Set<string>();
  for (const c of analysis.curves) for (const r of records) if (r.batchTokens === c.batchTokens && (c.lr === undefined || r.lr === c.lr.best)) best.add(r.id);
  const runs = records.filter((r) => best.has(r.id));
  const context = new Map(runs.map((r) => [r.id, r.context]));
  const levels = Array.from({ length: bins }, (_, i) => Math.exp(Math.log(lo) + ((i + 0.5) * (Math.log(hi) - Math.log(lo))) / bins));
  const out = noiseScaleBins(runs, { levels, minRows });
  const batchSizes = out.map((bin) => {
    const per = new Map<number, { g: number; t: number; runs: number; rows: number; context: number }>();
    for (const r of bin.runs) {
      if (r.excluded) continue;
      const acc = per.get(r.batchSize) ?? { g: 0, t: 0, runs: 0, rows: 0, context: context.get(r.run) ?? NaN };
      acc.g += r.sumGradSq;
      acc.t += r.sumTraceSigma;
      acc.runs++;
      acc.rows += r.rows;
      per.set(r.batchSize, acc);
    }
    return [...per]
      .sort((a, b) => a[0] - b[0])
      .filter(([, a]) => a.g > 0)
      .map(([batchSize, a]) => ({ batchSize, runs: a.runs, rows: a.rows, bSimpleTokens: (a.t / a.g) * a.context }));
  });
  const spreads = batchSizes
    .filter((bs) => bs.length >= 2)
    .map((bs) => maxOf(bs.map((b) => b.bSimpleTokens)) / minOf(bs.map((b) => b.bSimpleTokens)))
    .sort((a, b) => a - b);
  if (spreads.length === 0) return { bins: out, batchSizes, spreadMedian: NaN, spreadMax: NaN, runs: runs.length };
  return { bins: out, batchSizes, spreadMedian: spreads[Math.floor(spreads.length / 2)], spreadMax: spreads[spreads.length - 1], runs: runs.length };
}
