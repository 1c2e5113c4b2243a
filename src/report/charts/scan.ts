// Seed chart 1 (docs/METHODS.md 12.1, Kaplan et al. 2020 Figure 18): batch-size scans, Step vs Tokens Processed,
// one panel per model size, with the fitted eq. 5.1 contours. The scan analysis itself is analysis/bcrit.ts.
import type { BcritAnalysis, BcritLevel } from '../../analysis/bcrit.ts';
import { BASE_CONFIG, COUNT_LABELS, logTicks, params, sci, skipped, thinLog, type Chart } from '../common.ts';
import type { ReportData, SizeGroup } from '../data.ts';
import { maxOf, minOf } from '../../analysis/extent.ts';

/** One model size's scan: the analysis, or why there is none. */
export interface ScanFit {
  group: SizeGroup;
  analysis: BcritAnalysis | null;
  reason?: string;
}

export const SCAN_TITLE = 'Batch-size scans';

/** Up to `k` usable levels spread over the loss range, for the contours. */
export function contourLevels(levels: readonly BcritLevel[], k = 4): BcritLevel[] {
  const ok = levels.filter((l) => l.status === 'ok');
  if (ok.length <= k) return ok;
  return Array.from({ length: k }, (_, i) => ok[Math.round((i * (ok.length - 1)) / (k - 1))]);
}

export function scanChart(data: ReportData, scans: readonly ScanFit[]): Chart {
  const drawn = scans.filter((s) => s.analysis !== null);
  if (drawn.length === 0) {
    const why = scans.length === 0 ? 'no model size has test-loss curves' : scans.map((s) => `${s.group.label}: ${s.reason}`).join('; ');
    return skipped('batch-scan', SCAN_TITLE, `chart 1 needs, for some model size, runs at 3 or more batch sizes with test-loss curves; ${why}`);
  }
  const allLoss = drawn.flatMap((s) => s.analysis!.curves.flatMap((c) => c.loss));
  const colorDomain = [minOf(allLoss), maxOf(allLoss)];
  const panels = drawn.map((s, i) => panel(s, i, colorDomain));
  const skippedSizes = scans.filter((s) => s.analysis === null).map((s) => `${s.group.label} (${s.reason})`);
  return {
    status: 'drawn',
    id: 'batch-scan',
    title: SCAN_TITLE,
    caption:
      `Steps S vs tokens processed E = S x B x T for each batch size (one curve per batch size: its smoothed running-minimum test loss, the envelope over its learning rates), ` +
      `coloured by test loss. Dashed: Kaplan et al. 2020 eq. 5.1 fitted per loss level, S = S_min E / (E - E_min); rings: where each batch size reaches that level. ` +
      `Panels by model size; ${data.nWords}. Batch sizes in tokens per step.` +
      (skippedSizes.length ? ` Not drawn: ${skippedSizes.join('; ')}.` : ''),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: BASE_CONFIG,
      hconcat: panels,
      resolve: { scale: { color: 'shared' } },
    } as never,
  };
}

function panel(s: ScanFit, i: number, colorDomain: number[]) {
  const a = s.analysis!;
  const curveRows = a.curves.flatMap((c) => thinLog(c.steps.map((step, k) => ({ batch: c.batchTokens, step, tokens: c.tokens[k], loss: c.loss[k] })), (r) => r.step));
  const steps = curveRows.map((r) => r.step);
  const tokens = curveRows.map((r) => r.tokens);
  const sLo = minOf(steps);
  const sHi = maxOf(steps);
  const eLo = minOf(tokens);
  const eHi = maxOf(tokens);
  const contourRows: { level: string; loss: number; step: number; tokens: number; order: number }[] = [];
  const ringRows: { level: string; step: number; tokens: number }[] = [];
  const labelRows: { level: string; step: number; tokens: number }[] = [];
  for (const l of contourLevels(a.levels)) {
    const name = `L = ${sci(l.loss, 3)}`;
    let first: { step: number; tokens: number } | null = null;
    // S = S_min E / (E - E_min), drawn around the measured points (up to 4x their largest S and E): from just
    // above E_min (S -> infinity, the horizontal arm) to large E (S -> S_min, the vertical arm)
    const sCap = Math.min(sHi * 1.2, 4 * maxOf(l.points.map((p) => p.steps)));
    const eCap = Math.min(eHi * 1.2, 4 * maxOf(l.points.map((p) => p.tokens)));
    const e0 = l.eMin * 1.0001;
    for (let k = 0; k <= 80; k++) {
      const E = Math.exp(Math.log(e0) + ((Math.log(eCap) - Math.log(e0)) * k) / 80);
      const S = (l.sMin * E) / (E - l.eMin);
      if (S > sCap || S < sLo / 1.5 || E < eLo / 1.5) continue;
      contourRows.push({ level: name, loss: l.loss, step: S, tokens: E, order: k });
      first ??= { step: S, tokens: E };
    }
    for (const p of l.points) ringRows.push({ level: name, step: p.steps, tokens: p.tokens });
    if (first) labelRows.push({ level: name, ...first });
  }
  const x = { field: 'step', type: 'quantitative', title: 'Step', scale: { type: 'log', domain: [sLo / 1.3, sHi * 1.3], nice: false }, axis: { values: logTicks(sLo / 1.3, sHi * 1.3), labelExpr: COUNT_LABELS } };
  const y = { field: 'tokens', type: 'quantitative', title: 'Tokens Processed', scale: { type: 'log', domain: [eLo / 1.3, eHi * 1.3], nice: false }, axis: { values: logTicks(eLo / 1.3, eHi * 1.3), labelExpr: COUNT_LABELS } };
  const fitNote = a.fit ? '' : ` (no B_crit(L) fit: ${a.fitReason})`;
  return {
    title: { text: `Batch Size Scan - ${Number.isFinite(s.group.n) ? params(s.group.n) : s.group.label} Params`, subtitle: `${s.group.runs[0]?.sweep ? `sweep ${s.group.runs[0].sweep}: ` : ''}${a.curves.length} batch sizes, ${a.levels.filter((l) => l.status === 'ok').length} fitted loss levels${fitNote}` },
    width: 330,
    height: 280,
    layer: [
      {
        name: `scan${i}_curves`,
        data: { values: curveRows },
        mark: { type: 'line', color: '#9a9a9a', strokeWidth: 1.2, clip: true },
        encoding: { x, y, detail: { field: 'batch', type: 'nominal' }, order: { field: 'step', type: 'quantitative' } },
      },
      {
        name: `scan${i}_points`,
        data: { values: curveRows },
        mark: { type: 'circle', size: 22, opacity: 0.95, clip: true },
        encoding: {
          x,
          y,
          color: { field: 'loss', type: 'quantitative', title: 'Test loss', scale: { scheme: 'viridis', domain: colorDomain }, legend: { type: 'gradient', gradientLength: 200 } },
          tooltip: [{ field: 'batch', title: 'batch tokens' }, { field: 'step' }, { field: 'tokens' }, { field: 'loss', format: '.3f' }],
        },
      },
      {
        name: `scan${i}_contours`,
        data: { values: contourRows },
        mark: { type: 'line', color: 'black', strokeDash: [5, 3], strokeWidth: 1.3, clip: true },
        encoding: { x, y, detail: { field: 'level', type: 'nominal' }, order: { field: 'order', type: 'quantitative' } },
      },
      {
        name: `scan${i}_rings`,
        data: { values: ringRows },
        mark: { type: 'point', shape: 'circle', size: 40, color: 'black', strokeWidth: 1, clip: true },
        encoding: { x, y },
      },
      {
        name: `scan${i}_labels`,
        data: { values: labelRows },
        mark: { type: 'text', align: 'right', baseline: 'top', dx: 0, dy: 5, fontSize: 10, color: '#222' },
        encoding: { x, y, text: { field: 'level' } },
      },
    ],
  };
}
