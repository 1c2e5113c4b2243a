// Renders every chart from fixture records and checks the SVG as a reader would: log axes, titles, legends,
// the number of curves, captions with the accounting; and bad input. The browser check is browser.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, type Report } from '../../src/report/build.ts';
import { ReportInputError } from '../../src/report/common.ts';
import { svgToPng } from '../../src/report/render.ts';
import { scanRecords, gridRecords, SCAN_LAW, GRID_LAW } from './fixtures.ts';
import { axisLabels, countItems, countPaths, drawn, encodings, skippedChart } from './helpers.ts';

let scanReport: Promise<Report> | undefined;
let gridReport: Promise<Report> | undefined;
const scan = () => (scanReport ??= buildReport({ source: 'scan-fixture', records: scanRecords() }, { bootstrap: 30, seed: 1 }));
const grid = () => (gridReport ??= buildReport({ source: 'grid-fixture', records: gridRecords() }, { bootstrap: 10, seed: 1 }));

test('batch-size scan: one log-log panel per model size, one curve per batch size, colour bar, eq. 5.1 contours', async () => {
  const r = await scan();
  const c = drawn(r.charts, 'batch-scan');
  const svg = c.svg!;
  assert.match(svg, /Batch Size Scan - 390K Params/);
  assert.match(svg, /Batch Size Scan - 3\.1M Params/);
  for (const e of encodings(c.spec)) {
    assert.equal(e.x.scale?.type, 'log', 'Step axis is log');
    // the x values are LR-weighted steps (docs/METHODS.md 1.1), which the axis must say: warm-up steps count < 1
    assert.match(String(e.x.title), /LR-weighted/);
    assert.equal(e.y.scale?.type, 'log', 'Tokens axis is log');
  }
  assert.equal(countPaths(svg, 'scan0_curves'), 5, 'five batch sizes in the first panel');
  assert.equal(countPaths(svg, 'scan1_curves'), 5, 'five batch sizes in the second panel');
  const contours = countPaths(svg, 'scan0_contours');
  assert.ok(contours >= 3 && contours <= 4, `3-4 fitted contours, got ${contours}`);
  assert.match(svg, /Gradient legend titled 'Test loss, smoothed'/, 'a continuous colour bar for the (smoothed) test loss');
  const labels = axisLabels(svg);
  assert.ok(labels.includes('10k') && labels.includes('1M'), `log tick labels read 10k, 1M: ${labels.slice(0, 12).join(' ')}`);
  assert.match(c.caption, /non-embedding/);
  assert.match(c.caption, /eq\. 5\.1/);
});

test('critical batch size: reversed log loss axis, one empirical line per size, the fitted law labelled with its numbers, noise points', async () => {
  const r = await scan();
  const c = drawn(r.charts, 'bcrit');
  const svg = c.svg!;
  const enc = encodings(c.spec);
  assert.ok(
    enc.every((e) => e.x.scale?.type === 'log' && e.x.scale.reverse === true),
    'loss axis is log and decreases to the right',
  );
  assert.ok(
    enc.every((e) => e.y.scale?.type === 'log'),
    'B_crit axis is log',
  );
  assert.equal(countPaths(svg, 'bcrit_empirical'), 2, 'one empirical line per model size');
  assert.equal(countPaths(svg, 'bcrit_fit'), 2, 'one fitted line per model size');
  assert.ok(countItems(svg, 'bcrit_noise') >= 6, 'noise-scale points drawn');
  assert.match(svg, /B_crit = [\d.]+e5 tokens \* L\^-[\d.]+/, 'the fitted law with its numbers in the legend');
  // the fixtures were generated with B* = 4e5, alpha_B = 0.2: the chart shows the recovered law
  for (const b of r.headline.bcrit) {
    assert.ok(Math.abs(b.alphaB - SCAN_LAW.alphaB) < 0.03, `alpha_B ${b.alphaB}`);
    assert.ok(b.bStar > SCAN_LAW.bStar / 2 && b.bStar < SCAN_LAW.bStar * 2, `B* ${b.bStar}`);
    assert.ok(b.alphaBCi[0] <= b.alphaB && b.alphaB <= b.alphaBCi[1]);
  }
  const xLabels = axisLabels(svg);
  const pos = (t: string) =>
    Number(new RegExp(`translate\\(([\\d.]+),[\\d.]+\\)"[^>]*>${t.replace('.', '\\.')}</text>`).exec(svg.split('role-axis-label')[1])?.[1]);
  // the loss axis spans the levels (the fitted law is drawn over them only): 2.5, 3, 3.5 here
  const lossTicks = xLabels.filter((t) => Number(t) < 10).map(Number);
  assert.ok(lossTicks.length >= 2, `loss ticks: ${xLabels.join(' ')}`);
  const [hi, lo] = [Math.max(...lossTicks), Math.min(...lossTicks)].map(String);
  assert.ok(pos(hi) < pos(lo), `loss ${hi} is left of loss ${lo} (reversed axis)`);
  assert.match(c.caption, /tokens/);
  assert.match(c.caption, /non-embedding/);
});

test('L(N, D): two fits side by side with formulas, FLOPs colour bar, Plotly 3D figure and 2D projections', async () => {
  const r = await grid();
  const c = drawn(r.charts, 'lnd-3d');
  assert.match(c.svg!, /Chinchilla form/);
  assert.match(c.svg!, /Kaplan form/);
  assert.match(c.svg!, /L\(N,D\) = [\d.]+ \+ [\d.e]+\/N\^[\d.]+ \+ [\d.e]+\/D\^[\d.]+/, 'Chinchilla formula with numbers in the title');
  assert.match(c.svg!, /Gradient legend titled 'Training FLOPs'/);
  assert.equal(countItems(c.svg!, 'lnd0_points'), 18, 'every run is a point');
  assert.ok(countPaths(c.svg!, 'lnd0_surface') >= 8, 'the fitted surface wireframe');
  assert.match(c.caption, /oblique projection/);
  assert.match(c.caption, /non-embedding|Kaplan/);
  const scenes = c.plotly!.data.filter((d) => d.type === 'scatter3d');
  assert.equal(scenes.length, 2);
  assert.equal((c.plotly!.layout.scene as { xaxis: { type: string } }).xaxis.type, 'log');
  for (const id of ['lnd-vs-n', 'lnd-vs-d'] as const) {
    const p = drawn(r.charts, id);
    assert.ok(
      encodings(p.spec).every((e) => e.x.scale?.type === 'log'),
      `${id}: log x`,
    );
    assert.equal(countItems(p.svg!, 'proj0_points') + countItems(p.svg!, 'proj2_points'), 18);
  }
  // the grid was generated from GRID_LAW with 1% noise: the Chinchilla fit recovers its exponents roughly
  const ch = r.headline.chinchilla!;
  assert.ok(Math.abs(ch.params.alpha - GRID_LAW.alpha) < 0.1 && Math.abs(ch.params.beta - GRID_LAW.beta) < 0.1, JSON.stringify(ch.params));
  assert.ok(r.headline.allocation && Math.abs(r.headline.allocation.a - 0.5) < 0.1);
});

test('IsoFLOP profiles and frontier: one parabola per budget, minima inside, log axes', async () => {
  const r = await grid();
  const iso = drawn(r.charts, 'isoflop');
  assert.equal(countPaths(iso.svg!, 'iso_parabolas'), 3);
  assert.equal(countItems(iso.svg!, 'iso_vertices'), 3);
  assert.match(iso.caption, /Approach 2/);
  const f = drawn(r.charts, 'frontier');
  assert.ok(encodings(f.spec).every((e) => e.x.scale?.type === 'log' && e.y.scale?.type === 'log'));
  // the legend names each line (as text, not only in the marks' aria labels: a legend: null on the bands once hid it)
  assert.match(f.svg!, />[^<"]*N_opt ~ C\^0\.\d+[^<"]*</);
  assert.match(f.caption, /6ND/);
  const lc = drawn(r.charts, 'learning-curves');
  assert.equal(countPaths(lc.svg!, 'curves'), 18, 'one learning curve per run');
  assert.ok(r.headline.isoflop && r.headline.isoflop.profiles === 3);
});

test('a scan report explains why L(N, D) cannot be drawn; a grid report explains why the scan charts cannot', async () => {
  const s = await scan();
  assert.match(skippedChart(s.charts, 'lnd-3d').reason, /3 or more model sizes/);
  const g = await grid();
  assert.match(skippedChart(g.charts, 'bcrit').reason, /chart 2 needs at least 3 batch sizes per model size; this store has 1/);
  assert.match(skippedChart(g.charts, 'batch-scan').reason, /3 or more batch sizes/);
  assert.match(g.html, /Not drawn\.<\/b> chart 2 needs at least 3 batch sizes/);
});

test('bad input: an empty store, one batch size, missing test-loss rows', async () => {
  await assert.rejects(
    buildReport({ source: 'empty', records: [] }),
    (e: unknown) => e instanceof ReportInputError && /holds no runs/.test(e.message) && e.hint.length > 0,
  );
  const one = await buildReport({ source: 'one-batch', records: scanRecords({ depths: [2], batchSizes: [32] }) }, { bootstrap: 5, render: false });
  assert.match(skippedChart(one.charts, 'bcrit').reason, /at least 3 batch sizes per model size; this store has 1/);
  assert.equal(skippedChart(one.charts, 'batch-scan').status, 'skipped');
  assert.equal(drawn(one.charts, 'learning-curves').status, 'drawn');
  await assert.rejects(
    buildReport({ source: 'no-test', records: scanRecords({ noTestLoss: true }) }, { render: false }),
    (e: unknown) => e instanceof ReportInputError && /none of the 10 runs has a test-loss row/.test(e.message),
  );
  const mixed = [...scanRecords({ depths: [2] }), ...scanRecords({ depths: [4], noTestLoss: true })];
  const m = await buildReport({ source: 'mixed', records: mixed }, { bootstrap: 5, render: false });
  assert.match(m.warnings.join('\n'), /5 of 10 runs have no test-loss rows/);
  assert.equal(m.fits.scans.filter((x) => x.analysis).length, 1, 'only the size with test loss is scanned');
});

test('PNG: resvg rasterises a chart at twice its size', async () => {
  const r = await scan();
  const svg = drawn(r.charts, 'bcrit').svg!;
  const png = svgToPng(svg, 2);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const width = png.readUInt32BE(16);
  assert.equal(width, 2 * Number(/width="(\d+)"/.exec(svg)![1]));
});
