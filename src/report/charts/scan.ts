// Seed chart 1 (docs/METHODS.md 12.1, Kaplan et al. 2020 Figure 18): batch-size scans, Step vs Tokens Processed,
// one panel per model size, with the fitted eq. 5.1 contours. The scan analysis itself is analysis/bcrit.ts.
import type { BcritAnalysis, BcritLevel } from '../../analysis/bcrit.ts';
import { BASE_CONFIG, COUNT_LABELS, logTicks, lossTitle, params, sci, skipped, thinLog, type Chart } from '../common.ts';
import { textWidth } from '../render.ts';
import { batchTokens } from './format.ts';
import type { ReportData, SizeGroup } from '../data.ts';
import { maxOf, minOf } from '../../analysis/extent.ts';

/** One model size's scan: the analysis, or why there is none. */
export interface ScanFit {
  group: SizeGroup;
  analysis: BcritAnalysis | null;
  reason?: string;
}

const SCAN_TITLE = 'Batch-size scans';

/** Up to `k` usable levels spread over the loss range, for the contours. */
function contourLevels(levels: readonly BcritLevel[], k = 4): BcritLevel[] {
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
  const lossName = lossTitle(data.lossColumn, 'smoothed');
  const panels = drawn.map((s, i) => panel(s, i, colorDomain, lossName));
  const skippedSizes = scans.filter((s) => s.analysis === null).map((s) => `${s.group.label} (${s.reason})`);
  return {
    status: 'drawn',
    id: 'batch-scan',
    title: SCAN_TITLE,
    caption:
      `Steps S vs tokens processed E = S x B x T for each batch size (one curve per batch size: its smoothed running-minimum test loss, the envelope over its learning rates), ` +
      `coloured by ${lossName.toLowerCase()}, labelled with its batch size in tokens (B). Dashed: Kaplan et al. 2020 eq. 5.1 fitted per loss level, S = S_min E / (E - E_min), drawn between the batch sizes that reach it; rings: where each batch size reaches that level. ` +
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

const PANEL = { width: 330, height: 280 } as const;
const LABEL_FONT = 10;
/** Height of a label's box in pixels (DejaVu's ascent + descent at LABEL_FONT, with a pixel to spare). */
const LABEL_H = 13;

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}
type Align = 'left' | 'right' | 'center';

/** The box of a label anchored at (x, y), baseline middle. */
function boxOf(text: string, x: number, y: number, align: Align): Box {
  const w = textWidth(text, LABEL_FONT);
  const x0 = align === 'left' ? x : align === 'right' ? x - w : x - w / 2;
  return { x0, y0: y - LABEL_H / 2, x1: x0 + w, y1: y + LABEL_H / 2 };
}

const overlaps = (a: Box, b: Box): boolean => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/** Whether the segment p-q crosses or lies in the box (Liang-Barsky clipping). */
function segmentHits(b: Box, px: number, py: number, qx: number, qy: number): boolean {
  let t0 = 0;
  let t1 = 1;
  const dx = qx - px;
  const dy = qy - py;
  for (const [p, q] of [
    [-dx, px - b.x0],
    [dx, b.x1 - px],
    [-dy, py - b.y0],
    [dy, b.y1 - py],
  ]) {
    if (p === 0) {
      if (q < 0) return false;
    } else {
      const r = q / p;
      if (p < 0) t0 = Math.max(t0, r);
      else t1 = Math.min(t1, r);
      if (t0 > t1) return false;
    }
  }
  return true;
}

/** How many of the polylines' segments the box touches. */
function lineHits(b: Box, lines: readonly { x: number; y: number }[][]): number {
  let n = 0;
  for (const l of lines) for (let k = 1; k < l.length; k++) if (segmentHits(b, l[k - 1].x, l[k - 1].y, l[k].x, l[k].y)) n++;
  return n;
}

function panel(s: ScanFit, i: number, colorDomain: number[], lossName: string) {
  const a = s.analysis!;
  const { width: W, height: H } = PANEL;
  const curveRows = a.curves.flatMap((c) =>
    thinLog(
      c.steps.map((step, k) => ({ batch: c.batchTokens, step, tokens: c.tokens[k], loss: c.loss[k] })),
      (r) => r.step,
    ),
  );
  // each level's contour S = S_min E / (E - E_min) over its own batch sizes only: from the smallest to the largest E
  // at which a batch size reached the level (the fit says nothing beyond them)
  const contourRows: { level: string; loss: number; step: number; tokens: number; order: number }[] = [];
  const ringRows: { level: string; step: number; tokens: number; batch: number }[] = [];
  const levels = contourLevels(a.levels).map((l) => ({ l, name: `L = ${sci(l.loss, 3)}` }));
  for (const { l, name } of levels) {
    const es = l.points.map((p) => p.tokens);
    const e0 = Math.max(minOf(es), l.eMin * 1.0001);
    const e1 = maxOf(es);
    for (let k = 0; k <= 60 && e1 > e0; k++) {
      const E = e0 * (e1 / e0) ** (k / 60);
      contourRows.push({ level: name, loss: l.loss, step: (l.sMin * E) / (E - l.eMin), tokens: E, order: k });
    }
    for (const p of l.points) ringRows.push({ level: name, step: p.steps, tokens: p.tokens, batch: p.batchTokens });
  }
  const steps = [...curveRows.map((r) => r.step), ...contourRows.map((r) => r.step)].filter((v) => v > 0 && Number.isFinite(v));
  const tokens = [...curveRows.map((r) => r.tokens), ...contourRows.map((r) => r.tokens)].filter((v) => v > 0 && Number.isFinite(v));
  let xLo = minOf(steps) / 1.3;
  const xHi = maxOf(steps) * 1.3;
  const yLo = minOf(tokens) / 1.3;
  const yHi = maxOf(tokens) * 1.3;
  // a label per batch size at the start of its line, on the left (the lines are parallel diagonals: to the right
  // of one line's end lies the next line); the Step axis is widened to the left until every label fits in the panel
  const starts = a.curves
    .filter((c) => c.steps.length > 0)
    .map((c) => ({ batch: c.batchTokens, text: `B ${batchTokens(c.batchTokens)}`, step: c.steps[0], tokens: c.tokens[0] }));
  for (const e of starts) {
    const t = textWidth(e.text, LABEL_FONT) + 8;
    const f = Math.exp((t * (Math.log(xHi) - Math.log(e.step))) / (W - t));
    xLo = Math.min(xLo, e.step / f);
  }
  const px = (S: number) => (W * (Math.log(S) - Math.log(xLo))) / (Math.log(xHi) - Math.log(xLo));
  const py = (E: number) => H * (1 - (Math.log(E) - Math.log(yLo)) / (Math.log(yHi) - Math.log(yLo)));
  const toStep = (x: number) => Math.exp(Math.log(xLo) + (x / W) * (Math.log(xHi) - Math.log(xLo)));
  const toTokens = (y: number) => Math.exp(Math.log(yLo) + (1 - y / H) * (Math.log(yHi) - Math.log(yLo)));
  const inside = (b: Box) => b.x0 >= 1 && b.x1 <= W - 1 && b.y0 >= 1 && b.y1 <= H - 1;
  const placed: Box[] = [];
  const labelRows: { kind: 'batch' | 'level'; text: string; step: number; tokens: number; align: Align }[] = [];
  // batch labels: left of the line's start, nudged down past a label already there
  for (const e of [...starts].sort((p, q) => py(p.tokens) - py(q.tokens))) {
    const x = px(e.step) - 5;
    let y = Math.min(H - LABEL_H / 2 - 1, Math.max(LABEL_H / 2 + 1, py(e.tokens)));
    for (let k = 0; k < 12 && placed.some((b) => overlaps(b, boxOf(e.text, x, y, 'right'))); k++) y = Math.min(H - LABEL_H / 2 - 1, y + LABEL_H / 2);
    placed.push(boxOf(e.text, x, y, 'right'));
    labelRows.push({ kind: 'batch', text: e.text, step: toStep(x), tokens: toTokens(y), align: 'right' });
  }
  // level labels: the spot near the contour, preferring its large-E end, that overlaps no other label and crosses as
  // few lines as it can; a level whose label finds no free spot is not drawn (a contour without its loss says nothing)
  const curveLines = a.curves.map((c) =>
    thinLog(
      c.steps.map((st, k) => ({ st, e: c.tokens[k] })),
      (r) => r.st,
    ).map((r) => ({ x: px(r.st), y: py(r.e) })),
  );
  const contourLine = (name: string) => contourRows.filter((r) => r.level === name).map((r) => ({ x: px(r.step), y: py(r.tokens) }));
  const rings = ringRows.map((r) => ({ x0: px(r.step) - 4, y0: py(r.tokens) - 4, x1: px(r.step) + 4, y1: py(r.tokens) + 4 }));
  const offsets: [number, number, Align][] = [];
  for (const [d, e] of [
    [7, 10],
    [16, 18],
    [28, 28],
  ]) {
    offsets.push([-d, 0, 'right'], [d, 0, 'left'], [0, -e, 'center'], [0, e, 'center'], [-d, -e, 'right'], [d, e, 'left'], [-d, e, 'right'], [d, -e, 'left']);
  }
  const unlabelled = new Set<string>();
  const cards: { step: number; step2: number; tokens: number; tokens2: number }[] = [];
  for (const { name } of [...levels].reverse()) {
    const lines = [...curveLines, ...levels.filter((l) => !unlabelled.has(l.name)).map((l) => contourLine(l.name))];
    const anchors = [
      ...ringRows
        .filter((r) => r.level === name)
        .sort((p, q) => q.tokens - p.tokens)
        .map((r) => ({ x: px(r.step), y: py(r.tokens) })),
      ...contourRows
        .filter((r) => r.level === name)
        .reverse()
        .filter((_, k) => k % 3 === 0)
        .map((r) => ({ x: px(r.step), y: py(r.tokens) })),
    ];
    let best: { x: number; y: number; align: Align; cost: number } | null = null;
    anchors.forEach((p, k) => {
      for (const [dx, dy, align] of offsets) {
        const b = boxOf(name, p.x + dx, p.y + dy, align);
        if (!inside(b)) continue;
        const crossed = lines.filter((l) => lineHits(b, [l]) > 0).length;
        const cost =
          1000 * placed.filter((q) => overlaps(q, b)).length +
          20 * crossed +
          5 * rings.filter((q) => overlaps(q, b)).length +
          0.05 * Math.hypot(dx, dy) +
          k * 0.1;
        if (!best || cost < best.cost) best = { x: p.x + dx, y: p.y + dy, align, cost };
      }
    });
    const b = best as { x: number; y: number; align: Align; cost: number } | null;
    if (!b || b.cost >= 1000) {
      unlabelled.add(name);
      continue;
    }
    const box = boxOf(name, b.x, b.y, b.align);
    placed.push(box);
    labelRows.push({ kind: 'level', text: name, step: toStep(b.x), tokens: toTokens(b.y), align: b.align });
    // a white card under the label, so that it reads where the lines are dense
    cards.push({ step: toStep(box.x0 - 1), step2: toStep(box.x1 + 1), tokens: toTokens(box.y1 - 1), tokens2: toTokens(box.y0 + 1) });
  }
  const shownContours = contourRows.filter((r) => !unlabelled.has(r.level));
  const shownRings = ringRows.filter((r) => !unlabelled.has(r.level));
  const x = {
    field: 'step',
    type: 'quantitative',
    title: 'Step, LR-weighted (a warm-up step counts lr / peak lr)',
    scale: { type: 'log', domain: [xLo, xHi], nice: false },
    axis: { values: logTicks(xLo, xHi), labelExpr: COUNT_LABELS },
  };
  const y = {
    field: 'tokens',
    type: 'quantitative',
    title: 'Tokens Processed',
    scale: { type: 'log', domain: [yLo, yHi], nice: false },
    axis: { values: logTicks(yLo, yHi), labelExpr: COUNT_LABELS },
  };
  const fitNote = a.fit ? '' : ` (no B_crit(L) fit: ${a.fitReason})`;
  // a text layer per alignment (Vega-Lite has no align channel: a mark's align is fixed)
  const text = (kind: 'batch' | 'level', color: string) =>
    (['left', 'right', 'center'] as const)
      .filter((al) => labelRows.some((r) => r.kind === kind && r.align === al))
      .map((al) => ({
        name: `scan${i}_${kind === 'batch' ? 'batch_labels' : 'labels'}_${al}`,
        data: { values: labelRows.filter((r) => r.kind === kind && r.align === al) },
        mark: { type: 'text', align: al, baseline: 'middle', fontSize: LABEL_FONT, color, ...(kind === 'level' ? { fontStyle: 'italic' } : {}) },
        encoding: { x, y, text: { field: 'text' } },
      }));
  return {
    title: {
      // the scan's other parts (trainer, sweep, schedule, data where they differ) after the size: "49K Params (torch)"
      text: Number.isFinite(s.group.n)
        ? `Batch Size Scan - ${params(s.group.n)} Params${s.group.label.includes(' · ') ? ` (${s.group.label.split(' · ').slice(1).join(', ')})` : ''}`
        : `Batch Size Scan - ${s.group.label} Params`,
      subtitle: `${s.group.runs[0]?.sweep ? `sweep ${s.group.runs[0].sweep}: ` : ''}${a.curves.length} batch sizes, ${a.levels.filter((l) => l.status === 'ok').length} fitted loss levels (${levels.length - unlabelled.size} drawn)${fitNote}`,
    },
    width: W,
    height: H,
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
          color: {
            field: 'loss',
            type: 'quantitative',
            title: lossName,
            scale: { scheme: 'viridis', domain: colorDomain },
            legend: { type: 'gradient', gradientLength: 200 },
          },
          tooltip: [{ field: 'batch', title: 'batch tokens' }, { field: 'step' }, { field: 'tokens' }, { field: 'loss', format: '.3f' }],
        },
      },
      {
        name: `scan${i}_contours`,
        data: { values: shownContours },
        mark: { type: 'line', color: 'black', strokeDash: [5, 3], strokeWidth: 1.3, clip: true },
        encoding: { x, y, detail: { field: 'level', type: 'nominal' }, order: { field: 'order', type: 'quantitative' } },
      },
      {
        name: `scan${i}_rings`,
        data: { values: shownRings },
        mark: { type: 'point', shape: 'circle', size: 40, color: 'black', strokeWidth: 1, clip: true },
        encoding: { x, y },
      },
      ...(cards.length
        ? [
            {
              name: `scan${i}_label_cards`,
              data: { values: cards },
              mark: { type: 'rect', color: 'white', opacity: 0.85 },
              encoding: { x, x2: { field: 'step2' }, y, y2: { field: 'tokens2' } },
            },
          ]
        : []),
      ...text('batch', '#555'),
      ...text('level', '#222'),
    ],
  };
}
