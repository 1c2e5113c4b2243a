// The demo's sanity gate: a good scan and grid pass every check; an inverted B_crit trend, a noise scale far
// from B_crit and a negative exponent each fail, naming what was seen. Fits are built by the real report code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, type Report } from '../../src/report/build.ts';
import { sanityChecks, fitCaveats, irreducibleLoss, spearman } from '../../src/report/checks.ts';
import type { BcritLevel } from '../../src/analysis/bcrit.ts';
import { scanRecords, gridRecords } from './fixtures.ts';

test('spearman: perfect, inverse and tied rankings', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 0.9487) < 1e-3);
});

let good: Report;
test('a good scan and grid pass every check, and only scans get scan checks', async () => {
  good = await buildReport({ source: 'fixture', records: [...scanRecords(), ...gridRecords()] }, { bootstrap: 20, render: false });
  const checks = sanityChecks(good);
  for (const c of checks) assert.ok(c.passed, `${c.name}: ${c.detail}`);
  // two scanned sizes x (B_crit trend + noise vs B_crit) + L(N, D); the grid's six sizes have one batch size each
  assert.equal(checks.length, 5, checks.map((c) => c.name).join('\n'));
  assert.match(checks[0].detail, /Spearman rho\(L, B_crit\) -(0\.\d+|1\.00) over \d+ levels/);
});

/** The good report with its first scan's fit replaced: the checks only read fits and the headline. */
function withFirstScan(levels: BcritLevel[], alphaB: number): Report {
  const i = good.fits.scans.findIndex((s) => s.group.batchTokens.length > 1);
  const first = good.fits.scans[i];
  const analysis = { ...first.analysis!, levels, fit: { ...first.analysis!.fit!, alphaB } };
  return { ...good, fits: { ...good.fits, scans: good.fits.scans.map((s, j) => (j === i ? { ...first, analysis } : s)) } };
}

const level = (loss: number, bCrit: number): BcritLevel =>
  ({
    loss,
    bCrit,
    status: 'ok',
    warmup: false,
    points: [],
    batchSizes: 4,
    unreached: [],
    atFirstEval: [],
    sMin: 1,
    eMin: bCrit,
    r2: 1,
    rmseLog: 0,
  }) as BcritLevel;

test('B_crit falling as loss falls fails the trend check and says why', () => {
  const inverted = withFirstScan([level(3, 5000), level(2.8, 3000), level(2.6, 2000), level(2.4, 900)], -0.2);
  const c = sanityChecks(inverted)[0];
  assert.equal(c.passed, false);
  assert.match(c.detail, /rho\(L, B_crit\) 1\.00.*expected rho <= -0\.5/);
});

test('too few fitted levels fails with advice, not a verdict on two points', () => {
  const c = sanityChecks(withFirstScan([level(3, 500), level(2.5, 2000)], 0.2))[0];
  assert.equal(c.passed, false);
  assert.match(c.detail, /only 2 loss levels could be fitted.*more tokens/);
});

test('a noise scale 100x off B_crit fails the order-of-magnitude check', () => {
  const series = good.fits.noise.map((s) => ({
    ...s,
    bins: s.bins.map((b) => ({ ...b, bSimpleTokens: b.bSimpleTokens * 100, min: b.min * 100, max: b.max * 100 })),
  }));
  const checks = sanityChecks({ ...good, fits: { ...good.fits, noise: series } }).filter((c) => c.name.startsWith('noise scale within'));
  assert.ok(checks.length > 0);
  for (const c of checks) {
    assert.equal(c.passed, false);
    assert.match(c.detail, /B_simple \/ B_crit median \d+.*expected 0\.1\.\.10/);
  }
});

test("the noise scale's agreement across batch sizes is a caveat with its spread, saying when it is beyond 2x", () => {
  const within = fitCaveats(good).filter((c) => /across batch sizes/.test(c));
  assert.ok(within.length > 0 && within.every((c) => /within the 2x/.test(c)), within.join('\n'));
  const series = good.fits.noise.map((s) => ({ ...s, agreement: s.agreement && { ...s.agreement, spreadMedian: 5, spreadMax: 9 } }));
  const beyond = fitCaveats({ ...good, fits: { ...good.fits, noise: series } }).filter((c) => /across batch sizes/.test(c));
  assert.ok(beyond.length > 0);
  for (const c of beyond) assert.match(c, /median 5(\.0+)?x.*beyond 2x/);
});

test('a negative exponent fails the L(N, D) check; no fit says why; E at its bound is a caveat', () => {
  const h = good.headline.chinchilla!;
  const bad = { ...good, headline: { ...good.headline, chinchilla: { ...h, params: { ...h.params, beta: -0.1, E: 0 } } } };
  const lnd = sanityChecks(bad).at(-1)!;
  assert.equal(lnd.passed, false);
  assert.match(lnd.detail, /beta -0\.1.*cannot separate/);
  assert.ok(
    fitCaveats(bad).some((c) => /E \(the irreducible loss\) is 0\.00e\+0, at its lower bound/.test(c)),
    fitCaveats(bad).join('\n'),
  );
  assert.deepEqual(
    fitCaveats(good).filter((c) => !/across batch sizes/.test(c)),
    [],
  );
  const none = sanityChecks({ ...good, headline: { ...good.headline, chinchilla: null }, fits: { ...good.fits, lndReason: 'needs 3 sizes' } }).at(-1)!;
  assert.equal(none.passed, false);
  assert.match(none.detail, /no L\(N, D\) fit: needs 3 sizes/);
});

test('E is identified only away from its bound with a finite interval that stays clear of it (issue 16)', () => {
  const h = good.headline.chinchilla!;
  const withE = (E: number, ci: [number, number]) => ({
    ...good,
    headline: { ...good.headline, chinchilla: { ...h, params: { ...h.params, E }, ci: { ...h.ci, E: ci } } },
  });
  assert.deepEqual(irreducibleLoss(withE(1.6, [0.9, 1.8]))?.identified, true);
  const atBound = irreducibleLoss(withE(0, [0, 0.3]))!;
  assert.equal(atBound.identified, false);
  assert.match(atBound.detail, /at its lower bound/);
  // a positive E whose interval runs down to the bound: the runs are consistent with no floor
  const reaching = irreducibleLoss(withE(0.185, [1e-111, 0.53]))!;
  assert.equal(reaching.identified, false);
  assert.match(reaching.detail, /interval reaches E's lower bound/);
  assert.ok(fitCaveats(withE(0.185, [1e-111, 0.53])).some((c) => /do not identify E/.test(c)));
  assert.equal(irreducibleLoss(withE(1.2, [NaN, NaN]))?.identified, false);
  assert.equal(irreducibleLoss({ ...good, headline: { ...good.headline, chinchilla: null } }), null);
});
