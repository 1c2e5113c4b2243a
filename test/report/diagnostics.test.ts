// The report carries every fit's warnings (issue 15): report.diagnostics ({code, message, fit}) and the page's
// warnings, for an import whose Approach 3 fit runs E to 0 (the demo's "E not identified" note was in report checks
// only), for duplicated rows, and for two sizes (refused by report as by fit, with the same reason). Also --out checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReport } from '../../src/report/build.ts';
import { importFile } from '../../src/report/source.ts';
import { checkReportOut, writeReportAtomic } from '../../src/report/output.ts';
import { ReportInputError } from '../../src/report/common.ts';

const fixture = (name: string) => new URL(`../fixtures/bad-input/${name}`, import.meta.url).pathname;
const report = async (name: string) => buildReport({ source: fixture(name), records: [], ...importFile(fixture(name)) }, { bootstrap: 0, render: false });

test('E at its bound: the report names it not identified, on the fit and on the page', async () => {
  const r = await report('e-at-bound.csv');
  const w = r.diagnostics.find((d) => d.code === 'not-identified');
  assert.ok(w, JSON.stringify(r.diagnostics));
  assert.equal(w.fit, 'L(N, D) Chinchilla form on e-at-bound.csv');
  assert.match(w.message, /E \(the irreducible loss\) is .* not identified/);
  assert.ok(r.warnings.some((x) => x.startsWith('[not-identified] L(N, D) Chinchilla form on e-at-bound.csv: E')));
  assert.match(r.html, /not-identified/);
});

test('duplicated rows: the report fits the rows once and says how many were dropped', async () => {
  const r = await report('duplicated-rows.csv');
  assert.equal(r.headline.chinchilla!.runs, 20);
  assert.ok(r.diagnostics.some((d) => d.code === 'duplicate-rows' && /20 exact duplicate rows/.test(d.message)));
  const clean = await report('lnd-grid.csv');
  assert.deepEqual(r.headline.chinchilla!.params, clean.headline.chinchilla!.params);
  // the clean grid's only note: its N x D steps put 4 and 3 runs on exactly equal C (1M x 6e9 = 3M x 2e9 = ...), two
  // IsoFLOP budgets, and Approach 2 through 2 minima is not fitted (a line through 2 points tests nothing)
  assert.deepEqual(
    clean.diagnostics.map((d) => d.code),
    ['approach2-not-fitted'],
  );
  assert.match(clean.diagnostics[0].message, /2 usable budgets of 2/);
});

test('two model sizes: no L(N, D) in the report either, with the rule fit uses', async () => {
  const r = await report('two-sizes.csv');
  assert.equal(r.headline.chinchilla, null);
  assert.match(r.fits.lndReason!, /3 or more model sizes/);
});

test('checkReportOut: a file or an unwritable place refused; a new folder, an earlier report, a folder of other files are fine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaling-lab-out-'));
  try {
    writeFileSync(join(dir, 'f'), '');
    assert.throws(
      () => checkReportOut(join(dir, 'f')),
      (e: unknown) => e instanceof ReportInputError && /a file is there/.test(e.message) && /--out/.test(e.hint),
    );
    assert.throws(
      () => checkReportOut('/proc/none/r'),
      (e: unknown) => e instanceof ReportInputError && /cannot write in \/proc/.test(e.message),
    );
    mkdirSync(join(dir, 'old'));
    writeFileSync(join(dir, 'old', 'bcrit.svg'), '<svg/>');
    writeFileSync(join(dir, 'old', 'report.html'), '');
    checkReportOut(join(dir, 'old'));
    checkReportOut(join(dir, 'new', 'nested'));
    writeFileSync(join(dir, 'old', 'data.csv'), '');
    checkReportOut(join(dir, 'old'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeReportAtomic: a failure while writing leaves the earlier report as it was and no partial folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaling-lab-out-'));
  try {
    const out = join(dir, 'r');
    mkdirSync(out);
    writeFileSync(join(out, 'lnd-vs-n.svg'), '<svg>earlier</svg>');
    // built without rendering: writing SVG fails on the first drawn chart
    const r = await report('lnd-grid.csv');
    assert.throws(() => writeReportAtomic(out, r, ['svg', 'html']), /was not rendered/);
    assert.deepEqual(readdirSync(dir), ['r']);
    assert.equal(readFileSync(join(out, 'lnd-vs-n.svg'), 'utf8'), '<svg>earlier</svg>');
    // complete: the earlier report's files replaced by this one's (here, stand-in SVGs)
    const drawn = r.charts.filter((c) => c.status === 'drawn');
    for (const c of drawn) c.svg = `<svg id="${c.id}"/>`;
    writeReportAtomic(out, r, ['svg', 'html']);
    assert.deepEqual(readdirSync(out).sort(), [...drawn.map((c) => `${c.id}.svg`), 'report.html'].sort());
    assert.ok(drawn.some((c) => c.id === 'lnd-vs-n'));
    assert.equal(readFileSync(join(out, 'lnd-vs-n.svg'), 'utf8'), '<svg id="lnd-vs-n"/>');
    assert.deepEqual(readdirSync(dir), ['r']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
