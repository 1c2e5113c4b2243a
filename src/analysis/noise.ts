// The gradient noise scale as logged by training runs: B_simple against loss, summarised per loss bin for
// the chart, and the ratio B_simple / B_crit at matching losses. Estimating B_simple itself is train/'s job.
import type { RunRecord } from './records.ts';
import type { BcritLevel } from './bcrit.ts';
import { quantile } from './stats.ts';
import { maxOf, minOf } from './extent.ts';

export interface NoisePoint {
  run: string;
  step: number;
  loss: number;
  /** B_simple in tokens */
  bSimpleTokens: number;
}

/**
 * McCandlish et al. 2018 section 2.2: B_simple = tr(Sigma) / |G|^2, logged by train/ as an EMA (MetricRow
 * bSimple in sequences, bSimpleTokens in tokens). Points with a finite positive estimate, against train
 * loss (Kaplan et al. 2020 Figure 10 plots against training loss) or test loss where logged. Rows before
 * `fromStep` are skipped: the EMA is young there.
 */
export function noiseScalePoints(runs: readonly RunRecord[], options: { loss?: 'train' | 'test'; fromStep?: number } = {}): NoisePoint[] {
  const which = options.loss ?? 'train';
  const out: NoisePoint[] = [];
  for (const r of runs) {
    for (const m of r.metrics) {
      if (m.step < (options.fromStep ?? 0)) continue;
      const b = m.bSimpleTokens ?? (m.bSimple !== undefined ? m.bSimple * r.context : undefined);
      const loss = which === 'train' ? m.trainLoss : m.testLoss;
      if (b !== undefined && b > 0 && Number.isFinite(b) && loss !== undefined && loss > 0) out.push({ run: r.id, step: m.step, loss, bSimpleTokens: b });
    }
  }
  return out;
}

export interface NoiseBin {
  /** geometric centre of the bin */
  loss: number;
  lossRange: [number, number];
  n: number;
  median: number;
  q25: number;
  q75: number;
}

/** Median and quartiles of B_simple (tokens) in `bins` log-spaced loss bins; empty bins are left out. */
export function noiseScaleSummary(points: readonly NoisePoint[], bins = 12): NoiseBin[] {
  if (points.length === 0) return [];
  const lo = Math.log(minOf(points.map((p) => p.loss)));
  const hi = Math.log(maxOf(points.map((p) => p.loss)));
  const width = (hi - lo) / bins || 1;
  const groups: number[][] = Array.from({ length: bins }, () => []);
  for (const p of points) groups[Math.min(bins - 1, Math.floor((Math.log(p.loss) - lo) / width))].push(p.bSimpleTokens);
  const out: NoiseBin[] = [];
  groups.forEach((g, j) => {
    if (g.length === 0) return;
    const a = Math.exp(lo + j * width);
    const b = Math.exp(lo + (j + 1) * width);
    out.push({ loss: Math.sqrt(a * b), lossRange: [a, b], n: g.length, median: quantile(g, 0.5), q25: quantile(g, 0.25), q75: quantile(g, 0.75) });
  });
  return out;
}

export interface NoiseRatio {
  loss: number;
  bSimpleTokens: number;
  bCrit: number;
  /** B_simple / B_crit: McCandlish et al. predict order 1 (B_crit ~ B_noise) */
  ratio: number;
}

/**
 * B_simple / B_crit at the loss of each usable critical-batch level, B_simple interpolated linearly in
 * (log loss, log median) between summary bins; levels outside the bins' loss range are left out.
 */
export function noiseToBcrit(summary: readonly NoiseBin[], levels: readonly BcritLevel[]): NoiseRatio[] {
  const s = [...summary].sort((a, b) => a.loss - b.loss);
  const out: NoiseRatio[] = [];
  if (s.length === 0) return out;
  for (const l of levels) {
    if (l.status !== 'ok' || l.loss < s[0].loss || l.loss > s[s.length - 1].loss) continue;
    let k = 0;
    while (k + 1 < s.length && s[k + 1].loss < l.loss) k++;
    const a = s[k];
    const b = s[Math.min(k + 1, s.length - 1)];
    const t = b.loss === a.loss ? 0 : (Math.log(l.loss) - Math.log(a.loss)) / (Math.log(b.loss) - Math.log(a.loss));
    const bs = Math.exp(Math.log(a.median) + t * (Math.log(b.median) - Math.log(a.median)));
    out.push({ loss: l.loss, bSimpleTokens: bs, bCrit: l.bCrit, ratio: bs / l.bCrit });
  }
  return out;
}
