// Chinchilla Approach 3 on published data (Epoch AI's reconstruction of Hoffmann et al. 2022 Figure 4) and on
// synthetic data with known parameters; the analytic gradient; the warm-start bootstrap against full-grid refits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseCsv, importScalingPoints } from '../../src/analysis/importers.ts';
import {
  bootstrapChinchilla,
  chinchillaObjective,
  fitChinchilla,
  gridStarts,
  logData,
  predictChinchilla,
  APPROACH3_LBFGS,
  CHINCHILLA_KEYS,
} from '../../src/analysis/chinchilla.ts';
import { lbfgs } from '../../src/analysis/optimize.ts';
import { syntheticChinchilla } from '../../src/analysis/synthetic.ts';
import { assertClose } from '../helpers/assert-close.ts';

const fixture = new URL('../fixtures/analysis/chinchilla_epoch_svg_extracted.csv', import.meta.url).pathname;
const epochPoints = () => importScalingPoints(parseCsv(readFileSync(fixture, 'utf8'), fixture), { dropHighest: 5 }).points;
let epochFitCache: ReturnType<typeof fitChinchilla> | null = null;
/** the grid fit (4500 starts evaluated, the 200 lowest optimised) takes ~0.5-1 s here: do it once for the file */
const epochFit = () => (epochFitCache ??= fitChinchilla(epochPoints()));
/** Besiroglu et al. 2024, Table 1 ("Our estimates") */
const EPOCH = { E: 1.817, A: 482.0, B: 2085.4, alpha: 0.348, beta: 0.366 };
const HOFFMANN = { E: 1.69, A: 406.4, B: 410.7, alpha: 0.34, beta: 0.28 };

test("the grid is Hoffmann et al.'s: 5 x 5 x 5 x 6 x 6 = 4500 starts", () => {
  const g = gridStarts();
  assert.equal(g.length, 4500);
  assert.deepEqual(Array.from(g[0]), [0, 0, -1, 0, 0]);
  assert.deepEqual(Array.from(g[4499]), [25, 25, 1, 2, 2]);
});

test('the analytic gradient matches central differences', () => {
  const data = logData(epochPoints());
  const w = Float64Array.from({ length: data.logN.length }, (_, i) => (i % 3) + 0.5);
  const fg = chinchillaObjective(data, 1e-3, w);
  for (const x of [
    [6.2, 7.7, 0.6, 0.35, 0.37],
    [3, 10, -0.5, 0.2, 0.5],
    [20, 1, 1, 1.5, 0.1],
  ]) {
    const g = new Float64Array(5);
    fg(Float64Array.from(x), g);
    const num = x.map((_, i) => {
      const h = 1e-6;
      const xp = Float64Array.from(x);
      const xm = Float64Array.from(x);
      xp[i] += h;
      xm[i] -= h;
      const t = new Float64Array(5);
      return (fg(xp, t) - fg(xm, t)) / (2 * h);
    });
    // the Huber kink (|r| = delta) makes central differences rough where a residual sits on it
    assertClose(`gradient at ${x}`, g, num, { rtol: 1e-4, atol: 1e-7 });
  }
});

test("reproduces Epoch AI's refit of the reconstructed Chinchilla data", () => {
  const pts = epochPoints();
  assert.equal(pts.length, 240);
  const fit = epochFit();
  const p = fit.params;
  // Epoch ran scipy L-BFGS-B from the same grid. Measured here: E 1.8172, A 477.8 (-0.9%), B 2143 (+2.8%),
  // alpha 0.3473, beta 0.3672. A and B sit on a flat ridge of the objective (bootstrap CIs span ~2x), so
  // their tolerance is wider; E, alpha and beta are well determined.
  assertClose('E', p.E, EPOCH.E, { rtol: 0.005, atol: 0 });
  assertClose('alpha', p.alpha, EPOCH.alpha, { rtol: 0.01, atol: 0 });
  assertClose('beta', p.beta, EPOCH.beta, { rtol: 0.01, atol: 0 });
  assertClose('A', p.A, EPOCH.A, { rtol: 0.03, atol: 0 });
  assertClose('B', p.B, EPOCH.B, { rtol: 0.05, atol: 0 });
  // our optimum is at least as good as Epoch's published (rounded) parameters on the same objective
  const g = new Float64Array(5);
  const fg = chinchillaObjective(logData(pts));
  const epochObjective = fg(Float64Array.of(Math.log(EPOCH.A), Math.log(EPOCH.B), Math.log(EPOCH.E), EPOCH.alpha, EPOCH.beta), g);
  const hoffmannObjective = fg(Float64Array.of(Math.log(HOFFMANN.A), Math.log(HOFFMANN.B), Math.log(HOFFMANN.E), HOFFMANN.alpha, HOFFMANN.beta), g);
  assert.ok(fit.objective <= epochObjective, `ours ${fit.objective} vs Epoch ${epochObjective}`);
  assert.ok(hoffmannObjective > 3 * fit.objective, `Hoffmann's published fit should fit this data poorly (${hoffmannObjective})`);
  assert.equal(fit.diagnostics.starts, 4500);
  assert.ok(fit.diagnostics.atBest >= 10, `only ${fit.diagnostics.atBest} starts reached the best`);
  assert.equal(fit.residuals.length, 240);
  assert.ok(fit.diagnostics.rmseLog < 0.02);
});

test("pruning the grid to the 200 lowest starting objectives keeps the full-grid optimum on Epoch's data", () => {
  const pruned = epochFit();
  assert.equal(pruned.diagnostics.optimized, 200);
  const full = fitChinchilla(epochPoints(), { prune: 0 });
  assert.equal(full.diagnostics.optimized, 4500);
  // measured: equal to ~1e-13 relative (bench/lnd-fit.bench.ts --prune-check does all seven Open-Athena sets too)
  assert.ok(pruned.objective <= full.objective * (1 + 1e-9), `pruned ${pruned.objective} vs full ${full.objective}`);
  for (const k of CHINCHILLA_KEYS) assertClose(k, pruned.params[k], full.params[k], { rtol: 1e-3, atol: 0 });
});

test('Approach 3 recovers known parameters from synthetic runs', () => {
  const ns = [2e7, 5e7, 1e8, 2e8, 5e8, 1e9, 2e9, 5e9];
  const ds = [1e9, 3e9, 1e10, 3e10, 1e11, 3e11, 1e12];
  const pts = syntheticChinchilla(HOFFMANN, ns, ds, 0.003, 7);
  const fit = fitChinchilla(pts);
  // 56 runs with 0.3% log-normal noise: exponents within 5%, E within 2%, A and B within 40% (they trade off with alpha, beta)
  assertClose('alpha', fit.params.alpha, HOFFMANN.alpha, { rtol: 0.05, atol: 0 });
  assertClose('beta', fit.params.beta, HOFFMANN.beta, { rtol: 0.05, atol: 0 });
  assertClose('E', fit.params.E, HOFFMANN.E, { rtol: 0.02, atol: 0 });
  assertClose('A', fit.params.A, HOFFMANN.A, { rtol: 0.4, atol: 0 });
  assertClose('B', fit.params.B, HOFFMANN.B, { rtol: 0.4, atol: 0 });
  // noise-free data: recovered to optimiser precision
  const exact = fitChinchilla(syntheticChinchilla(HOFFMANN, ns, ds, 0, 0));
  for (const k of CHINCHILLA_KEYS) assertClose(`exact ${k}`, exact.params[k], HOFFMANN[k], { rtol: 2e-3, atol: 0 });
});

test('bootstrap: seeded, reproducible, intervals around the estimate, prediction intervals', () => {
  const pts = epochPoints();
  const fit = epochFit();
  const a = bootstrapChinchilla(pts, fit, { samples: 60, seed: 3 });
  const b = bootstrapChinchilla(pts, fit, { samples: 60, seed: 3 });
  assert.deepEqual(Array.from(a.samples.alpha), Array.from(b.samples.alpha));
  const c = bootstrapChinchilla(pts, fit, { samples: 60, seed: 4 });
  assert.notDeepEqual(Array.from(a.samples.alpha), Array.from(c.samples.alpha));
  assert.equal(a.failures, 0);
  assert.equal(a.samples.E.length, 60);
  for (const k of CHINCHILLA_KEYS) {
    assert.ok(a.ci[k][0] < fit.params[k] && fit.params[k] < a.ci[k][1], `${k}: ${fit.params[k]} outside ${a.ci[k]}`);
    assert.ok(a.standardError[k] > 0);
  }
  // the full-data fit keeps its distinct local optima for the warm starts, best first
  const opt = fit.diagnostics.optima;
  assert.ok(opt.length >= 2);
  assert.equal(opt[0].fun, fit.objective);
  for (let i = 1; i < opt.length; i++) assert.ok(opt[i].fun >= opt[i - 1].fun);
  // predictions carry intervals from the bootstrap refits
  const pr = predictChinchilla(fit, a, 7e10, 1.4e12);
  assert.ok(pr.ci[0] < pr.estimate && pr.estimate < pr.ci[1], JSON.stringify(pr));
  // (warm starts vs full-grid refits: bench/analysis.bench.ts --compare-grid K, ~13 s per resample)
});

test('on more than 4096 runs, the subsample search refined on every run reaches the optimum found from the truth', () => {
  const P = { E: 1.8, A: 400, B: 2000, alpha: 0.34, beta: 0.37 };
  const ns = Array.from({ length: 100 }, (_, i) => 1e7 * 1.06 ** i);
  const ds = Array.from({ length: 60 }, (_, i) => 1e9 * 1.08 ** i);
  const pts = syntheticChinchilla(P, ns, ds, 0.01, 7); // 6000 runs
  const fit = fitChinchilla(pts);
  // L-BFGS on all runs from the true parameters: the fit must be at least as good (a local optimum near the truth)
  const fg = chinchillaObjective(logData(pts));
  const fromTruth = lbfgs(fg, [Math.log(P.A), Math.log(P.B), Math.log(P.E), P.alpha, P.beta], APPROACH3_LBFGS);
  assert.ok(fit.objective <= fromTruth.fun * (1 + 1e-9), `objective ${fit.objective} vs ${fromTruth.fun} from the truth`);
  assertClose('alpha', fit.params.alpha, fromTruth.x[3], { rtol: 1e-3, atol: 0 });
  assertClose('beta', fit.params.beta, fromTruth.x[4], { rtol: 1e-3, atol: 0 });
  assert.equal(fit.diagnostics.optimized, 200);
});
