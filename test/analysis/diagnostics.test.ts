// Issue 15's statistical cases, one test each, on the fixtures in test/fixtures/bad-input/ (make.ts writes them):
// every result states the data it stood on and carries machine-readable warnings; degenerate input is refused with a
// reason; the wrong kind of file gets its own message; and the estimates on valid input do not change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importGroupedPoints, importLossCurves, importScalingPoints, parseTable } from '../../src/analysis/importers.ts';
import { bootstrapChinchilla, fitChinchilla } from '../../src/analysis/chinchilla.ts';
import { fitKaplanND } from '../../src/analysis/kaplan.ts';
import { analyzeBatchScan } from '../../src/analysis/bcrit.ts';
import { compareApproaches } from '../../src/analysis/approaches.ts';
import { fitIsoFlop } from '../../src/analysis/isoflop.ts';
import { AnalysisInputError } from '../../src/analysis/errors.ts';
import { RMSE_LOG_WARN, WARNING_CODES } from '../../src/analysis/diagnostics.ts';

const fixture = (name: string) => new URL(`../fixtures/bad-input/${name}`, import.meta.url).pathname;
const table = (name: string) => parseTable(readFileSync(fixture(name), 'utf8'), fixture(name));
const points = (name: string) => importScalingPoints(table(name));
const codes = (ws: readonly { code: string }[]) => ws.map((w) => w.code);
const refused = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AnalysisInputError, String(e));
    assert.match(e.message, re);
    assert.ok(e.hint.length > 0);
    return true;
  });

test('a valid grid: counts stated, no warning, R^2 and rmse of log loss reported', () => {
  const imp = points('lnd-grid.csv');
  const fit = fitChinchilla(imp.points);
  assert.deepEqual(fit.counts, { runs: 20, sizes: 5, tokens: 4, budgets: fit.counts.budgets, duplicatesDropped: 0 });
  assert.deepEqual(fit.warnings, []);
  assert.ok(fit.diagnostics.rmseLog < 0.01 && fit.diagnostics.r2Log > 0.99);
  assert.deepEqual(fitKaplanND(imp.points).warnings, []);
});

test('duplicated rows: dropped with a count and a warning; the fit equals the fit without them', () => {
  const dup = points('duplicated-rows.csv');
  assert.equal(dup.duplicates, 20);
  assert.equal(dup.points.length, 20);
  const fit = fitChinchilla(dup.points, { duplicatesDropped: dup.duplicates });
  const clean = fitChinchilla(points('lnd-grid.csv').points);
  assert.deepEqual(fit.params, clean.params);
  assert.equal(fit.counts.duplicatesDropped, 20);
  assert.deepEqual(codes(fit.warnings), ['duplicate-rows']);
  assert.match(fit.warnings[0].message, /20 exact duplicate rows dropped/);
  // a grouped import drops them per group too
  const g = importGroupedPoints(table('duplicated-rows.csv'), { minRuns: 6 });
  assert.equal(g.groups[0].imp!.duplicates, 20);
});

test('conflicting duplicates (one run id, two different rows) are refused, naming both lines', () => {
  refused(() => points('conflicting-duplicates.csv'), /run "n1000000-d6000000000" appears at lines 5 and 22 with different values/);
});

test('a constant loss is refused (it used to give alpha 8.09 with zero-width intervals)', () => {
  const imp = points('constant-loss.csv');
  refused(() => fitChinchilla(imp.points), /the loss is 3 in all 20 runs/);
  refused(() => fitKaplanND(imp.points), /constant loss/);
});

test('two model sizes: refused by fit as by report (3 sizes and 2 token counts, one rule)', () => {
  const imp = points('two-sizes.csv');
  refused(() => fitChinchilla(imp.points), /2 distinct model sizes .* needs at least 3 sizes/);
  refused(() => fitKaplanND(imp.points), /2 distinct model sizes/);
  // compareApproaches still never throws: each approach says why it is not fitted
  const c = compareApproaches(imp.points, { bootstrap: 0 });
  assert.equal(c.approaches.find((a) => a.approach === 'approach3')!.fitted, false);
  assert.match(c.approaches.find((a) => a.approach === 'approach3')!.reason!, /2 distinct model sizes/);
});

test('too few points per parameter: 6 runs for 5 parameters is fitted with a few-points warning; beta at its limit is not identified', () => {
  const fit = fitChinchilla(points('six-runs.csv').points);
  assert.ok(codes(fit.warnings).includes('few-points'));
  assert.ok(fit.notIdentified.includes('beta'), JSON.stringify(fit.params));
  assert.ok(codes(fit.warnings).includes('not-identified'));
});

test('E at its bound is named as not identified on the result (the demo note existed only in report checks)', () => {
  const fit = fitChinchilla(points('e-at-bound.csv').points);
  assert.ok(fit.params.E < 1e-6, String(fit.params.E));
  assert.deepEqual(fit.notIdentified, ['E']);
  const w = fit.warnings.find((x) => x.code === 'not-identified')!;
  assert.match(w.message, /E \(the irreducible loss\) is .* at its lower bound 0: not identified/);
});

test(`pooled experiments (rmse of log loss > ${RMSE_LOG_WARN}) are flagged as a poor fit; each experiment alone is not`, () => {
  const t = table('pooled-experiments.csv');
  const pooled = importScalingPoints(t);
  const fit = fitChinchilla(pooled.points);
  assert.ok(fit.diagnostics.rmseLog > 0.4, String(fit.diagnostics.rmseLog));
  const w = fit.warnings.find((x) => x.code === 'poor-fit');
  assert.ok(w, JSON.stringify(fit.warnings));
  assert.match(w.message, /rmse of log loss 0\.\d+ \(warning above 0\.1\), R\^2 -?\d/);
  assert.match(w.message, /--group COLUMN/);
  const g = importGroupedPoints(t, { group: ['experiment'], minRuns: 6 });
  for (const x of g.groups) assert.deepEqual(codes(fitChinchilla(x.imp!.points).warnings), [], x.label);
});

test('bootstrap failures: intervals withheld when most resamples fail (3 batch sizes), with the fraction stated', () => {
  const curves = importLossCurves(table('bcrit-three-batches.csv'));
  const a = analyzeBatchScan(curves, { bootstrap: { samples: 200 } });
  assert.ok(a.fit);
  assert.ok(a.bootstrapFailureFraction! > 0.5, String(a.bootstrapFailureFraction));
  assert.equal(a.intervalsWithheld, true);
  assert.ok(a.fit.ci.alphaB.every(Number.isNaN) && a.fit.ci.bStar.every(Number.isNaN));
  assert.ok(codes(a.warnings).includes('intervals-withheld'));
  assert.deepEqual(a.counts, { runs: 3, batchSizes: 3, levels: a.counts.levels, usableLevels: a.fit.n });
});

test('B_crit falling as the loss falls (alpha_B < 0) is flagged', () => {
  const a = analyzeBatchScan(importLossCurves(table('bcrit-falls.csv')), { bootstrap: { samples: 100 } });
  assert.ok(a.fit && a.fit.alphaB < 0);
  const w = a.warnings.find((x) => x.code === 'bcrit-falls');
  assert.ok(w);
  assert.match(w.message, /B_crit falls as the loss falls \(alpha_B -0\.5\d+ < 0\)/);
});

test('Approach 2 from two minima is not a law: not fitted, with a warning code on the comparison', () => {
  const t = table('approach2-two-budgets.csv');
  const imp = importScalingPoints(t);
  const iso = fitIsoFlop(imp.points, { budget: imp.budget });
  assert.equal(iso.fitted, false);
  assert.equal(iso.nOpt, null);
  const c = compareApproaches(imp.points, { budget: imp.budget, bootstrap: 0, heldOut: false });
  assert.equal(c.approaches[0].fitted, false);
  assert.match(c.warnings.find((w) => w.code === 'approach2-not-fitted')!.message, /2 usable budgets of 2 \(need 3; a line through 2 minima tests nothing\)/);
  // the parametric fits on the same runs still run
  assert.equal(c.approaches[1].fitted, true);
});

test('bootstrap results state their failure fraction', () => {
  const imp = points('lnd-grid.csv');
  const fit = fitChinchilla(imp.points);
  const boot = bootstrapChinchilla(imp.points, fit, { samples: 10 });
  assert.equal(boot.failureFraction, 0);
  assert.equal(boot.withheld, false);
  assert.deepEqual(boot.warnings, []);
});

test('the wrong kind of file: binary, a JSON array, semicolons each get their own message naming the file', () => {
  refused(() => table('random-bytes.csv'), /random-bytes\.csv: binary data/);
  refused(() => parseTable('\u0001\u0002\u0003\u0004garbage\u0005\u0006\u0007\u0008'.repeat(20), 'x.csv'), /x\.csv: .* not text/);
  refused(() => table('array.json'), /array\.json: a JSON array, not CSV or JSON Lines/);
  refused(() => table('semicolon.csv'), /semicolon\.csv: the header "N;D;loss" is separated by semicolons/);
  refused(() => parseTable('N\tD\tloss\n1\t2\t3\n', 'tabs.csv'), /separated by tabs/);
  // a CSV whose text fields hold semicolons is still a CSV, and a .json of objects one per line is JSON Lines
  assert.equal(parseTable('N,D,loss,note\n1,2,3,a;b;c\n', 'ok.csv').rows.length, 1);
  assert.equal(parseTable('{"N":1,"D":2,"loss":3}\n{"N":2,"D":2,"loss":3}\n', 'ok.json').rows.length, 2);
});

test('every warning code is documented', () => {
  for (const [code, text] of Object.entries(WARNING_CODES)) assert.ok(text.length > 20, code);
});
