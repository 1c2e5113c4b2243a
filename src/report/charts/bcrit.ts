// Seed chart 2 (docs/METHODS.md 12.2, Kaplan et al. 2020 Figure 10): critical batch size vs loss, empirical B_crit
// per model size, the fitted eq. 5.3 line and noise-scale points. The numbers come from analysis/bcrit.ts, noise.ts.
import type { NoiseAgreement, NoiseBin } from '../../analysis/noise.ts';
import { BASE_CONFIG, COUNT_LABELS, logTicks, lossTicks, lossTitle, skipped, type Chart } from '../common.ts';
import { interval, num, power } from './format.ts';
import type { ReportData } from '../data.ts';
import type { ScanFit } from './scan.ts';
import { maxOf, minOf } from '../../analysis/extent.ts';

const BCRIT_TITLE = 'Critical batch size vs loss';

/** One size's noise-scale summary (B_simple in tokens, per loss bin), and which loss it is plotted against. */
export interface NoiseSeries {
  label: string;
  bins: NoiseBin[];
  loss: 'train' | 'test';
  /** agreement across batch sizes on their best-LR runs (analysis/noise.ts noiseAgreement), when the scan has a law */
  agreement?: NoiseAgreement | null;
}

const HUES = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const LIGHT = ['#7fb2dc', '#ec8a8b', '#8fd18f', '#c3a9d9', '#ffb570', '#c49c94', '#f1b7e1', '#8bdde6'];

/**
 * "B_crit = 2.1e8 tokens * L^-4.8" (Kaplan et al. 2020 eq. 5.3 with the fitted numbers); the exponent's sign written
 * once whatever alpha_B's sign ("L^1.9" when alpha_B < 0: B_crit falling as the loss falls, flagged).
 */
function bcritLabel(bStar: number, alphaB: number): string {
  return `B_crit = ${num(bStar)} tokens * ${power('L', -1 / alphaB)}${alphaB < 0 ? " (falls as loss falls: not eq. 5.3's trend)" : ''}`;
}

export function bcritChart(data: ReportData, scans: readonly ScanFit[], noise: readonly NoiseSeries[]): Chart {
  const maxSizes = Math.max(0, maxOf(data.groups.map((g) => g.batchTokens.length)));
  if (maxSizes < 3) {
    return skipped(
      'bcrit',
      BCRIT_TITLE,
      `chart 2 needs at least 3 batch sizes per model size; this ${data.records.length ? 'store' : 'import'} has ${maxSizes} (${data.groups.map((g) => `${g.label}: ${g.batchTokens.length}`).join(', ')})`,
    );
  }
  const withLevels = scans.filter((s) => s.analysis && s.analysis.levels.some((l) => l.status === 'ok'));
  if (withLevels.length === 0) {
    const why = scans.map((s) => `${s.group.label}: ${s.reason ?? s.analysis?.levels.map((l) => l.status).join(', ')}`).join('; ');
    return skipped('bcrit', BCRIT_TITLE, `no loss level is reached by 3 batch sizes with a usable eq. 5.1 fit (${why})`);
  }
  const domain: string[] = [];
  const range: string[] = [];
  const emp: Record<string, unknown>[] = [];
  const fits: Record<string, unknown>[] = [];
  const noisePts: Record<string, unknown>[] = [];
  const subtitle: string[] = [];
  withLevels.forEach((s, i) => {
    const a = s.analysis!;
    const ok = a.levels.filter((l) => l.status === 'ok');
    const name = `${s.group.label} params: empirical B_crit`;
    domain.push(name);
    range.push(HUES[i % HUES.length]);
    for (const l of ok)
      emp.push({ series: name, loss: l.loss, bCrit: l.bCrit, lo: l.ci?.[0] ?? l.bCrit, hi: l.ci?.[1] ?? l.bCrit, sizes: l.batchSizes, r2: l.r2 });
    if (a.fit) {
      const f = a.fit;
      const fname = `${s.group.label} fit: ${bcritLabel(f.bStar, f.alphaB)}`;
      domain.push(fname);
      range.push(HUES[i % HUES.length]);
      // the law over the levels it was fitted to, not beyond
      const lo = minOf(ok.map((l) => l.loss));
      const hi = maxOf(ok.map((l) => l.loss));
      for (let k = 0; k <= 20; k++) {
        const L = lo * (hi / lo) ** (k / 20);
        fits.push({ series: fname, loss: L, bCrit: f.bStar * L ** (-1 / f.alphaB) });
      }
      const ci =
        interval(f.ci.bStar) || interval(f.ci.alphaB)
          ? ` (${Math.round(f.bootstrap.level * 100)}% bootstrap over batch sizes)`
          : ' (no interval: too few resamples succeeded)';
      subtitle.push(
        `${s.group.label}: B* = ${num(f.bStar)} tokens ${interval(f.ci.bStar)}, alpha_B = ${num(f.alphaB)} ${interval(f.ci.alphaB)}${ci}, ${f.n} levels`.replace(
          / {2,}/g,
          ' ',
        ),
      );
    } else {
      subtitle.push(`${s.group.label}: no B_crit(L) fit (${a.fitReason})`);
    }
  });
  const losses = [...emp, ...fits].map((r) => r.loss as number);
  // a margin of a twentieth of the span (a fixed 6% left a quarter of a narrow axis empty)
  const lPad = Math.max(1.005, (maxOf(losses) / minOf(losses)) ** 0.05);
  const lLo = minOf(losses) / lPad;
  const lHi = maxOf(losses) * lPad;
  noise.forEach((n, i) => {
    const bins = n.bins.filter((b) => b.loss >= lLo && b.loss <= lHi && Number.isFinite(b.bSimpleTokens));
    if (bins.length === 0) return;
    const name = `${n.label} params: noise scale B_simple (ratio of means; range over runs)`;
    domain.push(name);
    range.push(LIGHT[i % LIGHT.length]);
    for (const b of bins)
      noisePts.push({ series: name, loss: b.loss, median: b.bSimpleTokens, q25: b.min, q75: b.max, n: b.n, spread: b.spread, excluded: b.excluded });
  });
  const ys = [...emp.map((r) => r.bCrit as number), ...fits.map((r) => r.bCrit as number), ...noisePts.flatMap((r) => [r.q25 as number, r.q75 as number])];
  const yLo = minOf(ys) / 1.4;
  const yHi = maxOf(ys) * 1.4;
  const x = {
    field: 'loss',
    type: 'quantitative',
    title: `${lossTitle(data.lossColumn, 'smoothed')} (log scale, decreasing to the right)`,
    scale: { type: 'log', reverse: true, domain: [lLo, lHi], nice: false },
    axis: { values: lossTicks(lLo, lHi), format: '~g', grid: true },
  };
  const y = {
    field: 'bCrit',
    type: 'quantitative',
    title: 'Critical batch size B_crit (tokens)',
    scale: { type: 'log', domain: [yLo, yHi], nice: false },
    axis: { values: logTicks(yLo, yHi), labelExpr: COUNT_LABELS },
  };
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain, range },
    legend: { orient: 'bottom', direction: 'vertical', columns: 1, symbolStrokeWidth: 2 },
  };
  const noiseY = { ...y, field: 'median' };
  const noiseSkipped = noise.length === 0 ? ' No run logged the noise scale (bSimple), so there are no noise-scale points.' : '';
  return {
    status: 'drawn',
    id: 'bcrit',
    title: BCRIT_TITLE,
    caption:
      `Empirical B_crit(L) = E_min / S_min (Kaplan et al. 2020 eq. 5.2) at test-loss levels reached by 3 or more batch sizes, one line per model size; ` +
      `dashed: the fit B_crit(L) = B* / L^(1/alpha_B) (eq. 5.3) over the levels outside warm-up; light points: the gradient noise scale B_simple = tr(Sigma)/|G|^2 ` +
      `(McCandlish et al. 2018) per test-loss bin as a ratio of means (mean tr(Sigma) / mean |G|^2 over the bin's rows), with the range of the runs' own values; probes with B_big < 2 B_simple left out; in tokens (sequences x T). Batch sizes in tokens; ${data.nWords}.${noiseSkipped}`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: BASE_CONFIG,
      title: { text: 'Critical Batch Size vs Performance', subtitle },
      width: 560,
      height: 340,
      layer: [
        {
          name: 'bcrit_noise_iqr',
          data: { values: noisePts },
          mark: { type: 'rule', strokeWidth: 2, opacity: 0.7 },
          encoding: { x, y: { ...y, field: 'q25' }, y2: { field: 'q75' }, color },
        },
        {
          name: 'bcrit_noise',
          data: { values: noisePts },
          mark: { type: 'point', shape: 'diamond', filled: true, size: 60, opacity: 0.9 },
          encoding: { x, y: noiseY, color, tooltip: [{ field: 'loss', format: '.3f' }, { field: 'median', format: '.3s' }, { field: 'n' }] },
        },
        {
          name: 'bcrit_fit',
          data: { values: fits },
          mark: { type: 'line', strokeDash: [7, 4], strokeWidth: 2 },
          encoding: { x, y, color, detail: { field: 'series' } },
        },
        {
          name: 'bcrit_empirical',
          data: { values: emp },
          mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 2 },
          encoding: {
            x,
            y,
            color,
            order: { field: 'loss', type: 'quantitative' },
            tooltip: [{ field: 'loss', format: '.3f' }, { field: 'bCrit', format: '.3s' }, { field: 'sizes', title: 'batch sizes' }, { field: 'warmup' }],
          },
        },
      ],
    } as never,
  };
}
