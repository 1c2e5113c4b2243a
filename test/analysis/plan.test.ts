// analysis/plan.ts: each formula against a hand computation written out here (closed forms, the papers' equations).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chinchillaAllocation } from '../../src/analysis/allocation.ts';
import { chinchillaLoss, type ChinchillaParams } from '../../src/analysis/chinchilla.ts';
import {
  allocationForLoss,
  batchCost,
  bCritAt,
  candidateGrid,
  extrapolation,
  EXTRAPOLATION_WARN,
  logLossGradient,
  lrFromScan,
  planAllocation,
  planBatch,
  rankNextRuns,
  targetValue,
} from '../../src/analysis/plan.ts';
import { syntheticChinchilla } from '../../src/analysis/synthetic.ts';

/** Epoch's published Approach 3 parameters (Besiroglu et al. 2024, Table 1). */
const EPOCH: ChinchillaParams = { E: 1.817, A: 482.0, B: 2085.4, alpha: 0.348, beta: 0.366 };
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const xOf = (p: ChinchillaParams) => [Math.log(p.A), Math.log(p.B), Math.log(p.E), p.alpha, p.beta];

test("allocation at Chinchilla's budget from Epoch's parameters matches the closed form computed by hand", () => {
  const C = 5.76e23;
  // Hoffmann et al. 2022 eq. 4: G = (alpha A / (beta B))^(1/(alpha+beta)), N_opt = G (C/6)^(beta/(alpha+beta)), D_opt = (C/6)/N_opt
  // alpha + beta = 0.714; alpha A = 167.736; beta B = 763.2564; ratio 0.219763...; G = 0.219763^(1/0.714) = 0.119776
  const G = ((0.348 * 482.0) / (0.366 * 2085.4)) ** (1 / 0.714);
  assert.ok(Math.abs(G - 0.119776) < 1e-5, `G ${G}`);
  const nHand = G * (C / 6) ** (0.366 / 0.714); // (9.6e22)^0.512605 = 6.0370e11; x G = 7.2310e10
  const dHand = C / 6 / nHand; // 1.3276e12
  assert.ok(rel(nHand, 7.231e10) < 1e-3 && rel(dHand, 1.3276e12) < 1e-3, `${nHand} ${dHand}`);
  const a = chinchillaAllocation(EPOCH, C);
  assert.ok(rel(a.nOpt, nHand) < 1e-12 && rel(a.dOpt, dHand) < 1e-12);
  // the loss there: 1.817 + 482/N^0.348 + 2085.4/D^0.366 = 1.9734
  assert.ok(Math.abs(a.loss - 1.9734) < 1e-4, `loss ${a.loss}`);
  // no bootstrap: the plan's estimates are the closed form and the intervals NaN
  const p = planAllocation(EPOCH, { flops: C }, null);
  assert.equal(p.nOpt.estimate, a.nOpt);
  assert.ok(Number.isNaN(p.nOpt.ci[0]));
  assert.ok(Math.abs(p.a.estimate - 0.366 / 0.714) < 1e-9);
});

test('allocationForLoss inverts the compute-optimal loss: N = (A(alpha+beta)/((L-E) beta))^(1/alpha)', () => {
  const L = 2.1;
  const s = 0.714;
  // by hand: L - E = 0.283; A term = 0.283 x 0.366/0.714 = 0.145067; N = (482/0.145067)^(1/0.348)
  const nHand = (482.0 / ((L - 1.817) * (0.366 / s))) ** (1 / 0.348);
  const dHand = (2085.4 / ((L - 1.817) * (0.348 / s))) ** (1 / 0.366);
  const a = allocationForLoss(EPOCH, L);
  assert.ok(rel(a.nOpt, nHand) < 1e-12 && rel(a.dOpt, dHand) < 1e-12);
  assert.ok(Math.abs(a.loss - L) < 1e-12, `loss ${a.loss}`);
  // and the budget's own allocation is the same point
  const back = chinchillaAllocation(EPOCH, a.c);
  assert.ok(rel(back.nOpt, a.nOpt) < 1e-9 && Math.abs(back.loss - L) < 1e-12);
  assert.throws(() => allocationForLoss(EPOCH, 1.8), /at or below the fitted irreducible loss E = 1\.817/);
});

test('B_crit(L) = B*/L^(1/alpha_B) and the steps/tokens trade-off (S/S_min - 1)(E/E_min - 1) = 1', () => {
  // Kaplan et al. 2020 eq. 5.3 with their B* = 2e8 tokens, alpha_B = 0.21, at L = 2: 2e8 / 2^4.7619 = 2e8 / 27.132 = 7.3715e6
  assert.ok(rel(bCritAt(2e8, 0.21, 2), 2e8 / 2 ** (1 / 0.21)) < 1e-12);
  assert.ok(rel(bCritAt(2e8, 0.21, 2), 7.3715e6) < 1e-4);
  const bc = 1e6;
  const eMin = 5e9;
  // at B = B_crit: S = 2 S_min, E = 2 E_min (eq. 5.4-5.5)
  const at = batchCost(bc, eMin, bc);
  assert.ok(rel(at.steps, 2 * at.sMin) < 1e-12 && rel(at.tokens, 2 * eMin) < 1e-12);
  assert.equal(at.sMin, 5000);
  for (const B of [bc / 2, 2 * bc, 7.3 * bc]) {
    const c = batchCost(bc, eMin, B);
    assert.ok(Math.abs((c.steps / c.sMin - 1) * (c.tokens / eMin - 1) - 1) < 1e-12);
    assert.ok(rel(c.tokens, B * c.steps) < 1e-12, 'E = B S');
  }
  // 2x larger: S = 1.5 S_min (0.75x the steps at B_crit), E = 3 E_min (1.5x); 2x smaller: 1.5x steps, 0.75x tokens
  const plan = planBatch(2e8, 0.21, 2, 2e10, 1000);
  const [small, large] = plan.alternatives;
  assert.ok(Math.abs(large.stepsRatio - 0.75) < 0.01 && Math.abs(large.tokensRatio - 1.5) < 0.01, JSON.stringify(large));
  assert.ok(Math.abs(small.stepsRatio - 1.5) < 0.01 && Math.abs(small.tokensRatio - 0.75) < 0.01, JSON.stringify(small));
  // the recommended batch is B_crit in whole sequences (7371 of 1000 tokens), and trains about D tokens
  assert.equal(plan.recommended.batchSequences, 7371);
  assert.ok(rel(plan.recommended.tokens, 2e10) < 1e-4);
  assert.equal(plan.eMin, 1e10);
});

test('LR from a scan: log-log interpolation between batch sizes, the nearest end outside', () => {
  const pts = [
    { batchTokens: 64, lr: 1e-3 },
    { batchTokens: 256, lr: 4e-3 },
    { batchTokens: 1024, lr: 4e-3, edge: true },
  ];
  // at 128 tokens, halfway in log B between 64 and 256: sqrt(1e-3 x 4e-3) = 2e-3
  assert.ok(rel(lrFromScan(pts, 128)!.lr, 2e-3) < 1e-12);
  assert.deepEqual(lrFromScan(pts, 32), { lr: 1e-3, clamped: true, edge: false });
  assert.deepEqual(lrFromScan(pts, 4096), { lr: 4e-3, clamped: true, edge: true });
  assert.equal(lrFromScan([], 100), null);
});

test('extrapolation: the factor past the largest run, and a warning past the documented threshold', () => {
  assert.equal(EXTRAPOLATION_WARN, 1e6);
  const e = extrapolation(5.76e23, 1e22);
  assert.ok(rel(e.factor, 57.6) < 1e-12);
  assert.equal(e.warn, false);
  const far = extrapolation(3e28, 1e22);
  assert.equal(far.warn, true);
  assert.match(far.text, /3\.0e\+6x past the largest run/);
  assert.match(extrapolation(1e20, 1e22).text, /inside the fitted range/);
});

test("planAllocation: intervals are percentiles of each sample's own allocation; a loss target gives an interval on C", () => {
  const xs = [0.97, 0.99, 1, 1.01, 1.03].map((f) => Float64Array.from(xOf({ ...EPOCH, alpha: EPOCH.alpha * f })));
  const p = planAllocation(EPOCH, { flops: 5.76e23 }, { x: xs, level: 0.95 }, [0.01, -0.01, 0]);
  const each = xs.map((x) => chinchillaAllocation({ ...EPOCH, alpha: x[3] }, 5.76e23).nOpt);
  assert.ok(p.nOpt.ci[0] >= Math.min(...each) - 1 && p.nOpt.ci[1] <= Math.max(...each) + 1);
  assert.ok(p.nOpt.ci[0] < p.nOpt.estimate && p.nOpt.estimate < p.nOpt.ci[1]);
  assert.ok(p.predictionInterval[0] < p.loss.ci[0] && p.predictionInterval[1] > p.loss.ci[1], "the prediction interval is wider than the mean's");
  const l = planAllocation(EPOCH, { loss: 2.0 }, { x: xs, level: 0.95 });
  assert.equal(l.mode, 'loss');
  assert.ok(l.c.ci[0] < l.c.estimate && l.c.estimate < l.c.ci[1], JSON.stringify(l.c));
});

test('rankNextRuns: the Sherman-Morrison update equals refitting the Fisher information with the run added', () => {
  const truth = EPOCH;
  const runs = syntheticChinchilla(truth, [1e7, 3e7, 1e8, 3e8], [1e9, 4e9, 1.6e10], 0);
  const x = xOf(truth);
  const sigma = 0.02;
  const cands = candidateGrid(truth, 1e17, 1e19, { sizes: 3 });
  assert.equal(cands.length, 3 * 5);
  for (const c of cands) assert.ok(rel(6 * c.n * c.d, c.flops) < 1e-12);
  const { ranked, variance } = rankNextRuns(x, runs, sigma, { kind: 'exponent' }, cands, 2);
  assert.equal(ranked.length, 2);
  assert.ok(ranked[0].varianceAfter < variance && ranked[1].varianceAfter < ranked[0].varianceAfter);
  // brute force: the delta-method variance with the chosen run added to the design
  const deltaVar = (pts: { n: number; d: number }[]) => {
    const F = Array.from({ length: 5 }, () => new Array<number>(5).fill(0));
    for (const r of pts) {
      const j = logLossGradient(truth, r.n, r.d);
      for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) F[a][b] += (j[a] * j[b]) / sigma ** 2;
    }
    // Gauss-Jordan solve F v = g
    const h = 1e-6;
    const g = x.map((_, i) => {
      const up = [...x];
      const dn = [...x];
      up[i] += h;
      dn[i] -= h;
      return (targetValue(up, { kind: 'exponent' }) - targetValue(dn, { kind: 'exponent' })) / (2 * h);
    });
    const m = F.map((row, i) => [...row, g[i]]);
    for (let c = 0; c < 5; c++) {
      let piv = c;
      for (let r = c + 1; r < 5; r++) if (Math.abs(m[r][c]) > Math.abs(m[piv][c])) piv = r;
      [m[c], m[piv]] = [m[piv], m[c]];
      for (let r = 0; r < 5; r++)
        if (r !== c) {
          const f = m[r][c] / m[c][c];
          for (let k = c; k < 6; k++) m[r][k] -= f * m[c][k];
        }
    }
    return g.reduce((s, gi, i) => s + gi * (m[i][5] / m[i][i]), 0);
  };
  assert.ok(rel(variance, deltaVar(runs)) < 1e-3, `${variance} vs ${deltaVar(runs)}`);
  assert.ok(rel(ranked[0].varianceAfter, deltaVar([...runs, ranked[0]])) < 1e-3);
  assert.ok(rel(ranked[1].varianceAfter, deltaVar([...runs, ranked[0], ranked[1]])) < 1e-3);
  // the chosen run is the best per FLOP among the candidates
  for (const c of cands) assert.ok((variance - deltaVar([...runs, c])) / c.flops <= ranked[0].perFlop * (1 + 1e-3));
  assert.ok(chinchillaLoss(truth, ranked[0].n, ranked[0].d) > truth.E);
});

test("rankNextRuns with the loss at a budget as the target: its gradient is the compute-optimal loss's, and the variance falls", () => {
  const x = xOf(EPOCH);
  // targetValue at x is the closed-form optimal loss at C
  assert.ok(Math.abs(targetValue(x, { kind: 'loss', flops: 5.76e23 }) - chinchillaAllocation(EPOCH, 5.76e23).loss) < 1e-12);
  const runs = syntheticChinchilla(EPOCH, [1e7, 3e7, 1e8, 3e8], [1e9, 4e9, 1.6e10], 0);
  const { ranked, variance } = rankNextRuns(x, runs, 0.02, { kind: 'loss', flops: 1e21 }, candidateGrid(EPOCH, 1e17, 1e20), 3);
  assert.equal(ranked.length, 3);
  assert.ok(ranked[2].varianceAfter < variance && ranked.every((r) => r.perFlop > 0));
});
