// Learning curves: test loss vs tokens for every run, coloured by model size. The curves come from data.ts
// (analysis/bcrit.ts curvesFromRuns for stored runs, analysis/importers.ts for imports); no fitting here.
import { BASE_CONFIG, COUNT_LABELS, logTicks, lossTicks, params, skipped, thinLog, type Chart } from '../common.ts';
import type { ReportData } from '../data.ts';
import { maxOf, minOf } from '../../analysis/extent.ts';

export const CURVES_TITLE = 'Learning curves';

export function learningCurvesChart(data: ReportData): Chart {
  if (data.curves.length === 0) return skipped('learning-curves', CURVES_TITLE, 'no run has 2 or more test-loss rows');
  const byId = new Map(data.records.map((r) => [r.id, r]));
  const rows = data.curves.flatMap((c) => {
    const r = byId.get(c.id);
    const size = r ? params(r.paramsKaplan) : c.n ? params(c.n) : 'unknown';
    const run = r?.name || c.id;
    return thinLog(c.points.filter((p) => p.tokens > 0), (p) => p.tokens).map((p) => ({ run, size, sizeN: r?.paramsKaplan ?? c.n ?? 0, batch: c.batchTokens, tokens: p.tokens, loss: p.loss }));
  });
  if (rows.length === 0) return skipped('learning-curves', CURVES_TITLE, 'no test-loss row has a positive token count');
  const sizes = [...new Map(rows.map((r) => [r.size, r.sizeN])).entries()].sort((a, b) => a[1] - b[1]).map(([s]) => s);
  const tLo = minOf(rows.map((r) => r.tokens)) / 1.2;
  const tHi = maxOf(rows.map((r) => r.tokens)) * 1.2;
  const lLo = minOf(rows.map((r) => r.loss)) * 0.97;
  const lHi = maxOf(rows.map((r) => r.loss)) * 1.03;
  return {
    status: 'drawn',
    id: 'learning-curves',
    title: CURVES_TITLE,
    caption: `Test loss at each eval step against tokens processed, one line per run (${data.curves.length} runs), coloured by model size; ${data.nWords}. Tokens = step x batch size x T.`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: BASE_CONFIG,
      title: { text: 'Learning curves', subtitle: `${data.curves.length} runs, ${sizes.length} model size${sizes.length === 1 ? '' : 's'}` },
      width: 560,
      height: 340,
      data: { values: rows },
      mark: { type: 'line', strokeWidth: 1.3, opacity: 0.85, clip: true },
      encoding: {
        x: { field: 'tokens', type: 'quantitative', title: 'Tokens processed', scale: { type: 'log', domain: [tLo, tHi], nice: false }, axis: { values: logTicks(tLo, tHi), labelExpr: COUNT_LABELS } },
        y: { field: 'loss', type: 'quantitative', title: 'Test loss', scale: { type: 'log', domain: [lLo, lHi], nice: false }, axis: { values: lossTicks(lLo, lHi), format: '~g' } },
        color: { field: 'size', type: 'ordinal', title: 'Model size (params)', scale: { domain: sizes, scheme: 'viridis' }, legend: { orient: 'right' } },
        detail: { field: 'run' },
        order: { field: 'tokens', type: 'quantitative' },
        tooltip: [{ field: 'run' }, { field: 'batch', title: 'batch tokens' }, { field: 'tokens', format: '.3s' }, { field: 'loss', format: '.3f' }],
      },
      name: 'curves',
    } as never,
  };
}
