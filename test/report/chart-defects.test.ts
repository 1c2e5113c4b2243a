// The chart defects of issue 15, checked in the rendered SVG of every chart: from demo-like runs (a batch-size scan
// and an IsoFLOP grid, test/report/fixtures.ts), from a scan whose B_crit falls with the loss, and from paper-scale
// imports (the Open-Athena IsoFLOP collection, every experiment; Epoch's Chinchilla extraction). What a reader would
// see: numbers printed with a doubled sign ("L^--1.94", "(+--)"), counts in mixed units ("1000M"), curves drawn
// beyond the plot or beyond their data, upside-down IsoFLOP parabolas, batch-scan lines without labels or with level
// labels on top of them, learning curves in one colour per model size, loss axes that do not say which loss, and
// library warnings on stdout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, type Report } from '../../src/report/build.ts';
import { importFile } from '../../src/report/source.ts';
import { prepareData } from '../../src/report/data.ts';
import { isoflopChart, frontierChart } from '../../src/report/charts/isoflop.ts';
import { renderSvg, textWidth } from '../../src/report/render.ts';
import { fitIsoFlop } from '../../src/analysis/isoflop.ts';
import type { DrawnChart } from '../../src/report/common.ts';
import { scanRecords, gridRecords } from './fixtures.ts';
import { drawn } from './helpers.ts';

const ATHENA = new URL('../fixtures/analysis/isoflops_open_athena.csv', import.meta.url).pathname;
const CHINCHILLA = new URL('../fixtures/analysis/chinchilla_epoch_svg_extracted.csv', import.meta.url).pathname;

// ---- quiet: nothing on stdout or stderr while reports are built and rendered

/**
 * Runs `f` with process.stdout/stderr and console captured. Buffers pass through: node:test's child process talks to
 * its parent in serialized Buffers on stdout, while libraries and console write strings.
 */
async function quietly<T>(f: () => Promise<T>): Promise<{ value: T; printed: string }> {
  const printed: string[] = [];
  const streams = [process.stdout, process.stderr] as const;
  const writes = streams.map((s) => s.write);
  const consoles = { log: console.log, warn: console.warn, error: console.error, info: console.info, debug: console.debug };
  streams.forEach((s, k) => {
    s.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string') {
        printed.push(chunk);
        return true;
      }
      return (writes[k] as (...a: unknown[]) => boolean).call(s, chunk, ...rest);
    }) as never;
  });
  for (const k of Object.keys(consoles) as (keyof typeof consoles)[]) console[k] = (...m: unknown[]) => void printed.push(m.map(String).join(' '));
  try {
    return { value: await f(), printed: printed.join('') };
  } finally {
    streams.forEach((s, k) => (s.write = writes[k]));
    Object.assign(console, consoles);
  }
}

// ---- reading the SVG

interface Tag {
  name: string;
  attrs: Record<string, string>;
  text?: string;
}

interface Cell {
  w: number;
  h: number;
}

/** A mark item with the plot cell it is drawn in: its points in the cell's pixels. */
interface Item {
  mark: string;
  /** the mark group's class: "mark-line role-mark scan0_curves_marks" */
  cls: string;
  cell: Cell | null;
  points: [number, number][];
  tag: Tag;
}

function attrsOf(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([a-zA-Z_:-]+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

const translate = (t: string | undefined): [number, number] => {
  const m = /translate\(([-\d.e]+),\s*([-\d.e]+)\)/.exec(t ?? '');
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
};

/** Points of a path made of M, L, H, V, C, Z commands and relative m, l, h, v (as Vega writes lines, areas, rects). */
function pathPoints(d: string): [number, number][] {
  const out: [number, number][] = [];
  let x = 0;
  let y = 0;
  for (const m of d.matchAll(/([MLHVCZmlhvcz])([^MLHVCZmlhvcz]*)/g)) {
    const n = (m[2].match(/-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?/g) ?? []).map(Number);
    switch (m[1]) {
      case 'M':
      case 'L':
        for (let k = 0; k + 1 < n.length; k += 2) out.push([(x = n[k]), (y = n[k + 1])]);
        break;
      case 'H':
        for (const v of n) out.push([(x = v), y]);
        break;
      case 'V':
        for (const v of n) out.push([x, (y = v)]);
        break;
      case 'C':
        for (let k = 0; k + 5 < n.length; k += 6) out.push([(x = n[k + 4]), (y = n[k + 5])]);
        break;
      case 'm':
      case 'l':
        for (let k = 0; k + 1 < n.length; k += 2) out.push([(x += n[k]), (y += n[k + 1])]);
        break;
      case 'h':
        for (const v of n) out.push([(x += v), y]);
        break;
      case 'v':
        for (const v of n) out.push([x, (y += v)]);
        break;
      case 'Z':
      case 'z':
        break;
      default:
        throw new Error(`path command ${m[1]} not expected in a line or area: ${d.slice(0, 80)}`);
    }
  }
  return out;
}

/**
 * Every item of every mark group (role-mark) with the plot cell around it: a cell is a group whose background path
 * has a non-zero size (the view's width x height); a mark's cell is its nearest enclosing one.
 */
function markItems(svg: string): Item[] {
  const stack: { tag: Tag; cell: Cell | null; mark?: string; cls?: string }[] = [];
  const items: Item[] = [];
  const re = /<(\/?)([a-zA-Z]+)((?:\s+[a-zA-Z_:-]+="[^"]*")*)\s*(\/?)>([^<]*)/g;
  for (const m of svg.matchAll(re)) {
    const [, close, name, rawAttrs, selfClose, after] = m;
    if (close) {
      if (name === 'g') stack.pop();
      continue;
    }
    const attrs = attrsOf(rawAttrs);
    const tag: Tag = { name, attrs, text: after };
    const top = stack[stack.length - 1];
    const cellHere = (): Cell | null => {
      for (let k = stack.length - 1; k >= 0; k--) if (stack[k].cell) return stack[k].cell;
      return null;
    };
    const markHere = () => {
      for (let k = stack.length - 1; k >= 0; k--) if (stack[k].mark) return { mark: stack[k].mark!, cls: stack[k].cls! };
      return null;
    };
    if (name === 'g') {
      const cls = attrs.class ?? '';
      const mm = /mark-([a-z]+) role-mark\b/.exec(cls);
      if (!selfClose) stack.push({ tag, cell: null, ...(mm ? { mark: mm[1], cls } : {}) });
      continue;
    }
    if (name === 'path' && attrs.class === 'background' && top) {
      const bm = /h(-?[\d.]+)v(-?[\d.]+)/.exec(attrs.d ?? '');
      if (bm && Number(bm[1]) > 0 && Number(bm[2]) > 0) top.cell = { w: Number(bm[1]), h: Number(bm[2]) };
      continue;
    }
    const mark = markHere();
    if (!mark) continue;
    const [tx, ty] = translate(attrs.transform);
    let points: [number, number][] = [];
    if (name === 'path' && (mark.mark === 'line' || mark.mark === 'area' || mark.mark === 'rect'))
      points = pathPoints(attrs.d ?? '').map(([x, y]) => [x + tx, y + ty]);
    else if (name === 'path' || name === 'text') points = [[tx, ty]];
    else if (name === 'line')
      points = [
        [tx, ty],
        [tx + Number(attrs.x2 ?? 0), ty + Number(attrs.y2 ?? 0)],
      ];
    else continue;
    items.push({ mark: mark.mark, cls: mark.cls, cell: cellHere(), points, tag });
  }
  return items;
}

/** Text of every <text> element (legend labels, titles, axis titles, mark labels), entities decoded. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1]
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'"),
  );
}

/** Axis titles (Vega marks them role-axis-title). */
function axisTitles(svg: string): string[] {
  const out: string[] = [];
  for (const part of svg.split('role-axis-title').slice(1))
    for (const m of part.slice(0, part.indexOf('</g>')).matchAll(/<text[^>]*>([^<]*)<\/text>/g)) out.push(m[1]);
  return out;
}

// ---- the checks every chart gets

/** Number text a reader would stumble on: a doubled sign, "+-" before a dash, NaN, a count in the wrong unit. */
function badNumbers(svg: string): string[] {
  return texts(svg).filter((t) => /\^--|\+--|\+-(?![\d.])|--\d|- -\d|\+ -\d|\bNaN\b|undefined|Infinity|(^|[^\d.])\d{4,}(\.\d+)?[kMBT]\b/.test(t));
}

/** Points of mark items outside their plot cell (1.5 px of slack for strokes and rounding). */
function outside(svg: string): string[] {
  const out: string[] = [];
  for (const it of markItems(svg)) {
    if (!it.cell) continue;
    const bad = it.points.find(([x, y]) => !(x >= -1.5 && y >= -1.5 && x <= it.cell!.w + 1.5 && y <= it.cell!.h + 1.5));
    if (bad)
      out.push(
        `${it.cls.split(' ').pop()} ${it.tag.name} at (${bad[0]}, ${bad[1]}) outside ${it.cell.w} x ${it.cell.h}${it.tag.text ? ` "${it.tag.text}"` : ''}`,
      );
  }
  return out;
}

function checkChart(c: DrawnChart, where: string): void {
  const svg = c.svg!;
  assert.deepEqual(badNumbers(svg), [], `${where} ${c.id}: labels with a doubled sign, NaN or a count like "1000M"`);
  assert.deepEqual(outside(svg), [], `${where} ${c.id}: marks drawn outside the plot area`);
}

/** The charts of a report, each checked; returns the drawn ones by id. */
function checkReport(r: Report, where: string): Map<string, DrawnChart> {
  const out = new Map<string, DrawnChart>();
  for (const c of r.charts) {
    if (c.status !== 'drawn') continue;
    checkChart(c, where);
    out.set(c.id, c);
  }
  return out;
}

const LOSS_WORDS = /\b(train|test|validation|final)\b[^,;]* loss|\bloss\b[^,;]*\(as imported/i;

/** The loss axes (titles mentioning loss) say which loss; none claims "validation" for data that are not. */
function checkLossTitles(c: DrawnChart, where: string, expect: RegExp): void {
  const titles = [...axisTitles(c.svg!), ...texts(c.svg!).filter((t) => /loss/i.test(t) && /^[A-Z]/.test(t) && t.length < 80)].filter((t) => /loss/i.test(t));
  assert.ok(titles.length > 0, `${where} ${c.id}: a loss axis or legend title`);
  for (const t of titles.filter((x) => axisTitles(c.svg!).includes(x))) {
    assert.match(t, LOSS_WORDS, `${where} ${c.id}: axis title "${t}" says which loss`);
    assert.match(t, expect, `${where} ${c.id}: axis title "${t}" names the data's loss`);
  }
}

// ---- batch-scan labels

interface Label {
  text: string;
  box: { x0: number; y0: number; x1: number; y1: number };
}

/** Label boxes in the cell's pixels, measured with DejaVu Sans widths (the font resvg draws with). */
function labelBoxes(svg: string, group: RegExp): Label[] {
  const out: Label[] = [];
  for (const it of markItems(svg)) {
    if (it.mark !== 'text' || !group.test(it.cls)) continue;
    const size = Number(/font-size="([\d.]+)px"/.exec(`${it.tag.attrs['font-size'] ?? ''}px`)?.[1] ?? 10);
    const w = textWidth(it.tag.text ?? '', size);
    const [x, y] = it.points[0];
    const anchor = it.tag.attrs['text-anchor'] ?? 'start';
    const x0 = anchor === 'end' ? x - w : anchor === 'middle' ? x - w / 2 : x;
    // the translate is at the baseline (Vega shifts middle-baseline text by dy): the box spans the cap height above
    const dy = Number(/([-\d.]+)/.exec(it.tag.attrs.dy ?? '0')?.[1] ?? 0);
    const base = y + (it.tag.attrs.dy?.endsWith('em') ? dy * size : dy);
    out.push({ text: it.tag.text ?? '', box: { x0, y0: base - 0.76 * size, x1: x0 + w, y1: base + 0.24 * size } });
  }
  return out;
}

const hit = (a: Label['box'], b: Label['box']) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

function segmentInBox(b: Label['box'], p: [number, number], q: [number, number]): boolean {
  // sample the segment: enough for a 10 px label
  const n = Math.max(2, Math.ceil(Math.hypot(q[0] - p[0], q[1] - p[1]) / 2));
  for (let k = 0; k <= n; k++) {
    const x = p[0] + ((q[0] - p[0]) * k) / n;
    const y = p[1] + ((q[1] - p[1]) * k) / n;
    if (x > b.x0 && x < b.x1 && y > b.y0 && y < b.y1) return true;
  }
  return false;
}

function checkScanLabels(c: DrawnChart, r: Report, where: string): void {
  const svg = c.svg!;
  const scans = r.fits.scans.filter((s) => s.analysis);
  scans.forEach((s, i) => {
    const batch = labelBoxes(svg, new RegExp(`\\bscan${i}_batch_labels(_[a-z]+)?_marks\\b`));
    const level = labelBoxes(svg, new RegExp(`\\bscan${i}_labels(_[a-z]+)?_marks\\b`));
    assert.equal(batch.length, s.analysis!.curves.length, `${where} panel ${i}: a label per batch size (${batch.map((b) => b.text).join(', ')})`);
    assert.equal(new Set(batch.map((b) => b.text)).size, batch.length, `${where} panel ${i}: batch labels are distinct`);
    assert.ok(level.length >= 1, `${where} panel ${i}: at least one loss level labelled`);
    const lines = markItems(svg).filter((it) => it.mark === 'line' && new RegExp(`\\bscan${i}_curves_marks\\b`).test(it.cls));
    assert.equal(lines.length, s.analysis!.curves.length, `${where} panel ${i}: one line per batch size`);
    for (const l of level) {
      for (const b of batch) assert.ok(!hit(l.box, b.box), `${where} panel ${i}: level label "${l.text}" overlaps batch label "${b.text}"`);
      for (const other of level)
        if (other !== l) assert.ok(!hit(l.box, other.box), `${where} panel ${i}: level labels "${l.text}" and "${other.text}" overlap`);
      for (const line of lines) {
        const crosses = line.points.some((p, k) => k > 0 && segmentInBox(l.box, line.points[k - 1], p));
        assert.ok(!crosses, `${where} panel ${i}: level label "${l.text}" lies on a batch-size line`);
      }
    }
  });
}

// ---- IsoFLOP parabolas

/** Stroke colour -> the x extent of that colour's points (the budget's runs). */
function isoChecks(c: DrawnChart, fit: ReturnType<typeof fitIsoFlop>, where: string): void {
  const items = markItems(c.svg!);
  const runs = items.filter((it) => /\biso_runs_marks\b/.test(it.cls));
  const extent = new Map<string, [number, number]>();
  for (const it of runs) {
    const col = it.tag.attrs.fill ?? '';
    const [x] = it.points[0];
    const e = extent.get(col) ?? [Infinity, -Infinity];
    extent.set(col, [Math.min(e[0], x), Math.max(e[1], x)]);
  }
  for (const p of items.filter((it) => /\biso_parabolas_marks\b/.test(it.cls))) {
    const col = p.tag.attrs.stroke ?? '';
    const e = extent.get(col);
    assert.ok(e, `${where}: a parabola (${col}) whose budget has no points`);
    const xs = p.points.map(([x]) => x);
    assert.ok(
      Math.min(...xs) >= e[0] - 1 && Math.max(...xs) <= e[1] + 1,
      `${where}: a parabola spans ${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)} px, its budget's runs ${e[0].toFixed(1)}-${e[1].toFixed(1)} px`,
    );
    // opens upward: in SVG pixels (y down) every point lies on or below the chord between its ends
    const pts = [...p.points].sort((a, b) => a[0] - b[0]);
    const [a, b] = [pts[0], pts[pts.length - 1]];
    for (const [x, y] of pts) {
      const chord = a[1] + ((b[1] - a[1]) * (x - a[0])) / (b[0] - a[0] || 1);
      assert.ok(y >= chord - 0.75, `${where}: a parabola (${col}) opens downward (y ${y.toFixed(1)} above its chord ${chord.toFixed(1)})`);
    }
  }
  if (fit.profiles.some((pr) => pr.status === 'not-convex'))
    assert.match(c.svg!, /not fitted/, `${where}: budgets whose parabola opens downward are said not to be fitted`);
}

// ---- the reports

let demo: Promise<{ value: Report; printed: string }> | undefined;
const demoReport = () =>
  (demo ??= quietly(() => buildReport({ source: 'demo-like', records: [...scanRecords(), ...gridRecords()] }, { bootstrap: 20, seed: 1 })));

test('demo-like report: every chart drawn without defects, labels per batch size, test loss named, nothing printed', { timeout: 300_000 }, async () => {
  const { value: r, printed } = await demoReport();
  assert.equal(printed, '', 'building and rendering printed nothing');
  const charts = checkReport(r, 'demo');
  for (const id of ['batch-scan', 'bcrit', 'lnd-3d', 'lnd-vs-n', 'lnd-vs-d', 'learning-curves', 'isoflop', 'frontier'])
    assert.ok(charts.has(id), `demo draws ${id}`);
  checkScanLabels(drawn(r.charts, 'batch-scan'), r, 'demo');
  for (const id of ['bcrit', 'learning-curves', 'isoflop', 'lnd-vs-n', 'lnd-vs-d'] as const) checkLossTitles(drawn(r.charts, id), 'demo', /test loss/i);
  isoChecks(drawn(r.charts, 'isoflop'), r.fits.isoflop!, 'demo isoflop');
});

test('learning curves: coloured by batch size within a model size', { timeout: 300_000 }, async () => {
  const { value: r } = await demoReport();
  const svg = drawn(r.charts, 'learning-curves').svg!;
  const lines = markItems(svg).filter((it) => /\bcurves_marks\b/.test(it.cls) && it.mark === 'line');
  const scanRuns = r.data.records.filter((x) => x.sweep === 'scan');
  const combos = new Set(scanRuns.map((x) => `${x.paramsKaplan}/${x.batchTokens}`));
  const colours = new Set(lines.map((l) => l.tag.attrs.stroke));
  assert.ok(colours.size >= combos.size, `${colours.size} colours for ${combos.size} (model size, batch size) pairs of the scan`);
  const named = texts(svg).filter((t) => /\bB \d/.test(t));
  assert.ok(named.length >= combos.size, `the legend names each (model size, batch size) pair: ${named.join(', ')}`);
});

test('a scan whose B_crit falls as the loss falls: the law printed with one sign, flagged', { timeout: 300_000 }, async () => {
  const { value: r, printed } = await quietly(() =>
    buildReport({ source: 'falling', records: scanRecords({ law: { bStar: 1e3, alphaB: -0.5 } }) }, { bootstrap: 20, seed: 1 }),
  );
  assert.equal(printed, '');
  checkReport(r, 'falling B_crit');
  const c = drawn(r.charts, 'bcrit');
  const fits = r.fits.scans.filter((s) => s.analysis?.fit);
  assert.ok(fits.length > 0, 'a B_crit(L) law was fitted');
  assert.ok(
    fits.some((s) => s.analysis!.fit!.alphaB < 0),
    `alpha_B < 0 (${fits.map((s) => s.analysis!.fit!.alphaB).join(', ')})`,
  );
  assert.match(c.svg!, /L\^\d/, 'the exponent printed positive: B_crit = B* L^(1/|alpha_B|)');
  checkScanLabels(drawn(r.charts, 'batch-scan'), r, 'falling B_crit');
});

test("Open-Athena import (paper scale): every chart of the report and each experiment's IsoFLOP and frontier charts", { timeout: 600_000 }, async () => {
  const input = { source: 'isoflops_open_athena.csv', records: [], ...importFile(ATHENA, { group: ['experiment'] }) };
  const { value: r, printed } = await quietly(() => buildReport(input, { bootstrap: 0, seed: 1 }));
  assert.equal(printed, '', 'building and rendering printed nothing');
  const charts = checkReport(r, 'open-athena');
  for (const id of ['lnd-3d', 'lnd-vs-n', 'lnd-vs-d', 'isoflop', 'frontier']) assert.ok(charts.has(id), `open-athena draws ${id}`);
  for (const id of ['isoflop', 'lnd-vs-n', 'lnd-vs-d'] as const) checkLossTitles(drawn(r.charts, id), 'open-athena', /as imported: "loss"/);
  isoChecks(drawn(r.charts, 'isoflop'), r.fits.isoflop!, 'open-athena');
  // every experiment on its own, outliers kept (ill-posed budgets, concave parabolas, are among them), and the whole
  // file as one data set (as `report isoflops_open_athena.csv` reads it: 928 runs of seven experiments)
  let concave = 0;
  const whole = importFile(ATHENA).points!;
  for (const set of [...(importFile(ATHENA, { group: ['experiment'], keepOutliers: true }).pointGroups ?? []), whole]) {
    const data = prepareData({ source: set.label, records: [], points: set });
    const fit = fitIsoFlop(set.points, { accounting: set.accounting, budget: set.budget });
    concave += fit.profiles.filter((p) => p.status === 'not-convex').length;
    for (const chart of [isoflopChart(data, fit), frontierChart(data, fit, [])]) {
      if (chart.status !== 'drawn') continue;
      const { value: svg, printed: p2 } = await quietly(() => renderSvg(chart.spec));
      assert.equal(p2, '', `${set.label} ${chart.id}: rendering printed nothing`);
      checkChart({ ...chart, svg }, set.label);
      if (chart.id === 'isoflop') {
        isoChecks({ ...chart, svg }, fit, set.label);
        checkLossTitles({ ...chart, svg }, set.label, /"loss"/);
      }
    }
  }
  assert.ok(concave > 0, 'the collection has budgets whose parabola opens downward (the case under test)');
});

test("Chinchilla (Epoch's extraction of Hoffmann et al. Figure 4): the charts of an end-point import", { timeout: 600_000 }, async () => {
  const input = { source: 'chinchilla_epoch_svg_extracted.csv', records: [], ...importFile(CHINCHILLA) };
  const { value: r, printed } = await quietly(() => buildReport(input, { bootstrap: 0, seed: 1 }));
  assert.equal(printed, '');
  const charts = checkReport(r, 'chinchilla');
  assert.ok(charts.has('lnd-vs-d') && charts.has('isoflop'), `drawn: ${[...charts.keys()].join(', ')}`);
  isoChecks(drawn(r.charts, 'isoflop'), r.fits.isoflop!, 'chinchilla');
});

test('library warnings never reach stdout: a spec Vega warns about renders quietly, the warning collected', async () => {
  const warnings: string[] = [];
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: {
      values: [
        { x: 0, y: 1 },
        { x: 1, y: 2 },
      ],
    },
    mark: 'line',
    // no row has "missing": Vega warns of an infinite extent while running the view
    encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'missing', type: 'quantitative' } },
  };
  const { value: svg, printed } = await quietly(() => renderSvg(spec as never, (m) => warnings.push(m)));
  assert.equal(printed, '');
  assert.match(svg, /<svg/);
  assert.ok(
    warnings.some((w) => /extent/i.test(w)),
    `the warning is collected: ${warnings.join('; ')}`,
  );
  const { printed: p2 } = await quietly(() => renderSvg(spec as never));
  assert.equal(p2, '', 'without a warning sink nothing is printed either');
});
