// Learning curves: test loss vs tokens for every run, coloured by model size and, within it, batch size; with runs of
// two or more trainers, a hue per model size x trainer and a dash per trainer. The curves come from data.ts
// (analysis/bcrit.ts curvesFromRuns for stored runs, analysis/importers.ts for imports); no fitting.
import { BASE_CONFIG, COUNT_LABELS, logTicks, lossTicks, lossTitle, params, skipped, thinLog, type Chart } from '../common.ts';
import { batchTokens } from './format.ts';
import type { ReportData } from '../data.ts';
import { maxOf, minOf } from '../../analysis/extent.ts';
import { OWN_TRAINER, trainerOf } from '../../analysis/bcrit.ts';

const CURVES_TITLE = 'Learning curves';

/** ColorBrewer's sequential ramps, light to dark: one per model size, a shade per batch size within it. */
const RAMPS = [
  ['#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b'],
  ['#fdd0a2', '#fdae6b', '#fd8d3c', '#f16913', '#d94801', '#a63603', '#7f2704'],
  ['#c7e9c0', '#a1d99b', '#74c476', '#41ab5d', '#238b45', '#006d2c', '#00441b'],
  ['#dadaeb', '#bcbddc', '#9e9ac8', '#807dba', '#6a51a3', '#54278f', '#3f007d'],
  ['#fcbba1', '#fc9272', '#fb6a4a', '#ef3b2c', '#cb181d', '#a50f15', '#67000d'],
  ['#d9d9d9', '#bdbdbd', '#969696', '#737373', '#525252', '#252525', '#000000'],
];

/** Stroke dashes per trainer, in order: solid for the first (our own trainer sorts first), then dashed, dotted, ... */
const DASHES = [
  [1, 0],
  [6, 3],
  [2, 2],
  [8, 3, 2, 3],
  [12, 4],
];

/** k shades of a ramp from its middle-light end to its dark end (one batch size: a middle shade). */
function shades(ramp: readonly string[], k: number): string[] {
  if (k === 1) return [ramp[4]];
  const lo = 1;
  const hi = ramp.length - 1;
  return Array.from({ length: k }, (_, j) => ramp[Math.round(lo + ((hi - lo) * j) / (k - 1))]);
}

/** Our own trainer first in legends and dashes (solid lines). */
const byTrainerOrder = (t: string): boolean => t !== OWN_TRAINER;

export function learningCurvesChart(data: ReportData): Chart {
  if (data.curves.length === 0) return skipped('learning-curves', CURVES_TITLE, 'no run has 2 or more test-loss rows');
  const byId = new Map(data.records.map((r) => [r.id, r]));
  // trainers (issue 17): ours first, then the others by name; with two or more, each one is its own hue and dash
  const trainers = [...new Set(data.records.map(trainerOf))].sort((a, b) => Number(byTrainerOrder(a)) - Number(byTrainerOrder(b)) || a.localeCompare(b));
  const several = trainers.length > 1;
  const rows = data.curves.flatMap((c) => {
    const r = byId.get(c.id);
    const trainer = r ? trainerOf(r) : '';
    const sizeText = r ? params(r.paramsKaplan) : c.n ? params(c.n) : (c.group ?? 'unknown');
    const size = several ? `${sizeText} params, ${trainer}` : `${sizeText} params`;
    const run = r?.name || c.id;
    const order = (r?.paramsKaplan ?? c.n ?? 0) * 64 + Math.max(0, trainers.indexOf(trainer));
    return thinLog(
      c.points.filter((p) => p.tokens > 0),
      (p) => p.tokens,
    ).map((p) => ({ run, size, sizeText, trainer, sizeN: order, batch: c.batchTokens, series: '', tokens: p.tokens, loss: p.loss }));
  });
  if (rows.length === 0) return skipped('learning-curves', CURVES_TITLE, 'no test-loss row has a positive token count');
  const sizes = [...new Map(rows.map((r) => [r.size, r.sizeN])).entries()].sort((a, b) => a[1] - b[1]).map(([s]) => s);
  // a hue per model size, a shade per batch size within it (light: small batches, dark: large)
  const batchesOf = new Map(sizes.map((s) => [s, [...new Set(rows.filter((r) => r.size === s).map((r) => r.batch))].sort((a, b) => a - b)]));
  const oneBatchEach = [...batchesOf.values()].every((b) => b.length === 1);
  const seriesOf = (size: string, batch: number) => (oneBatchEach ? size : `${size}, B ${batchTokens(batch)}`);
  const domain: string[] = [];
  const range: string[] = [];
  sizes.forEach((s, i) => {
    const bs = batchesOf.get(s)!;
    const cs = shades(RAMPS[i % RAMPS.length], bs.length);
    bs.forEach((b, j) => {
      domain.push(seriesOf(s, b));
      range.push(cs[j]);
    });
  });
  for (const r of rows) r.series = seriesOf(r.size, r.batch);
  const tLo = minOf(rows.map((r) => r.tokens)) / 1.2;
  const tHi = maxOf(rows.map((r) => r.tokens)) * 1.2;
  const lLo = minOf(rows.map((r) => r.loss)) * 0.97;
  const lHi = maxOf(rows.map((r) => r.loss)) * 1.03;
  const lossName = lossTitle(data.lossColumn, 'curve');
  const nSizes = new Set(rows.map((r) => r.sizeText)).size;
  const what = several ? 'model size and trainer' : 'model size';
  const batchWords =
    (oneBatchEach
      ? `coloured by ${what}`
      : `coloured by ${what} (hue) and batch size within it (shade: light for small batches, dark for large; batch sizes in tokens per step)`) +
    (several
      ? `; dashed by trainer (${trainers.map((t, i) => `${t}: ${i === 0 ? 'solid' : (['dashed', 'dotted', 'dash-dot', 'long dashes'][i - 1] ?? 'dashed')}`).join(', ')})`
      : '');
  return {
    status: 'drawn',
    id: 'learning-curves',
    title: CURVES_TITLE,
    caption: `${lossName} at each eval step against tokens processed, one line per run (${data.curves.length} runs), ${batchWords}; ${data.nWords}. Tokens = step x batch size x T.`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: BASE_CONFIG,
      title: {
        text: 'Learning curves',
        subtitle: `${data.curves.length} runs, ${nSizes} model size${nSizes === 1 ? '' : 's'}${oneBatchEach ? '' : `, ${new Set(rows.map((r) => r.batch)).size} batch sizes`}${several ? `, ${trainers.length} trainers: ${trainers.join(', ')}` : ''}`,
      },
      width: 560,
      height: 340,
      data: { values: rows },
      mark: { type: 'line', strokeWidth: 1.3, opacity: 0.85, clip: true },
      encoding: {
        x: {
          field: 'tokens',
          type: 'quantitative',
          title: 'Tokens processed',
          scale: { type: 'log', domain: [tLo, tHi], nice: false },
          axis: { values: logTicks(tLo, tHi), labelExpr: COUNT_LABELS },
        },
        y: {
          field: 'loss',
          type: 'quantitative',
          title: lossName,
          scale: { type: 'log', domain: [lLo, lHi], nice: false },
          axis: { values: lossTicks(lLo, lHi), format: '~g' },
        },
        color: {
          field: 'series',
          type: 'nominal',
          title: `${several ? 'Model size, trainer' : 'Model size'}${oneBatchEach ? '' : ', batch (tokens)'}`,
          scale: { domain, range },
          legend: { orient: 'right', columns: Math.max(1, Math.ceil(domain.length / 22)), symbolStrokeWidth: 2.5 },
        },
        ...(several
          ? {
              strokeDash: {
                field: 'trainer',
                type: 'nominal',
                title: 'Trainer',
                scale: { domain: trainers, range: trainers.map((_, i) => DASHES[i % DASHES.length]) },
                legend: { orient: 'right', symbolStrokeWidth: 2.5, symbolType: 'stroke' },
              },
            }
          : {}),
        detail: { field: 'run' },
        order: { field: 'tokens', type: 'quantitative' },
        tooltip: [
          { field: 'run' },
          { field: 'size', title: several ? 'model size, trainer' : 'model size' },
          { field: 'batch', title: 'batch tokens' },
          { field: 'tokens', format: '.3s' },
          { field: 'loss', format: '.3f' },
        ],
      },
      name: 'curves',
    } as never,
  };
}
