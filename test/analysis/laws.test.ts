// Approaches 1 and 2, Kaplan's forms and the compute-optimal allocation, each on data with a known answer
// (noise-scale summaries: test/analysis/noise.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chinchillaAllocation, kaplanAllocation, kaplanAllocationInterval } from '../../src/analysis/allocation.ts';
import { chinchillaLoss } from '../../src/analysis/chinchilla.ts';
import { fitEnvelope, fitIsoFlop } from '../../src/analysis/isoflop.ts';
import {
  bootstrapKaplanND,
  fitKaplanND,
  fitKaplanNS,
  kaplanNDLoss,
  kaplanNSLoss,
  KAPLAN_ND_PUBLISHED,
  KAPLAN_NS_PUBLISHED,
} from '../../src/analysis/kaplan.ts';
import { syntheticIsoFlop } from '../../src/analysis/synthetic.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { quantile } from '../../src/analysis/stats.ts';
import { assertClose } from '../helpers/assert-close.ts';

const P = { E: 1.69, A: 406.4, B: 410.7, alpha: 0.34, beta: 0.28 };

/** golden-section minimum of L(N, C/6N) over log N: the numerical oracle for the allocation formulas */
function numericNopt(loss: (n: number) => number): number {
  let a = Math.log(1e3);
  let b = Math.log(1e15);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < 200; i++) {
    const c = b - g * (b - a);
    const d = a + g * (b - a);
    if (loss(Math.exp(c)) < loss(Math.exp(d))) b = d;
    else a = c;
  }
  return Math.exp((a + b) / 2);
}

test('compute-optimal allocation (G formula) matches a numerical minimum of L(N, C/6N)', () => {
  for (const C of [1e18, 1e21, 5.76e23]) {
    const al = chinchillaAllocation(P, C);
    assertClose(
      `N_opt at ${C}`,
      al.nOpt,
      numericNopt((n) => chinchillaLoss(P, n, C / (6 * n))),
      { rtol: 1e-6, atol: 0 },
    );
    assertClose(`6 N D = C at ${C}`, 6 * al.nOpt * al.dOpt, C, { rtol: 1e-12, atol: 0 });
    const k = kaplanAllocation(KAPLAN_ND_PUBLISHED, C);
    assertClose(
      `Kaplan N_opt at ${C}`,
      k.nOpt,
      numericNopt((n) => kaplanNDLoss(KAPLAN_ND_PUBLISHED, n, C / (6 * n))),
      { rtol: 1e-6, atol: 0 },
    );
  }
  const al = chinchillaAllocation(P, 1e21);
  assertClose('a = beta/(alpha+beta)', al.a, 0.28 / 0.62, { rtol: 1e-12, atol: 0 });
  assertClose('a + b = 1', al.a + al.b, 1, { rtol: 1e-12, atol: 0 });
});

test('Approach 2: IsoFLOP parabolas recover the N_opt(C) exponent; near-equal budgets are grouped', () => {
  const budgets = [1e18, 1e19, 1e20, 1e21, 1e22];
  const pts = syntheticIsoFlop(P, budgets, 9, 8, 0.002, 5);
  // jitter C by up to +-3%: still 5 budgets with the default clustering (+-0.05 decades)
  const rng = new SeededRandom(9);
  for (const p of pts) p.c *= 1 + 0.03 * (2 * rng.float() - 1);
  const f = fitIsoFlop(pts);
  assert.equal(f.profiles.length, 5);
  assert.ok(f.profiles.every((p) => p.status === 'ok' && p.runs.length === 9));
  // the parabola in log N is an approximation of L(N, C/6N): exponents within 0.03 of beta/(alpha+beta)
  assertClose('a', f.nOpt!.p, 0.28 / 0.62, { rtol: 0, atol: 0.03 });
  assertClose('b', f.dOpt!.p, 0.34 / 0.62, { rtol: 0, atol: 0.03 });
  // a budget with 2 sizes is reported, not dropped: by the budget column, and by clustering (6 runs, 2 sizes)
  const two = [
    { id: 'x', n: 1e9, d: 1e12, c: 6e21, loss: 2 },
    { id: 'y', n: 2e9, d: 5e11, c: 6e21, loss: 2.1 },
  ];
  const g = fitIsoFlop([...pts, ...two], { budget: [...pts.map((p) => budgets[Math.round(Math.log10(p.c)) - 18]), 6e24, 6e24] });
  const lonely = g.profiles.find((p) => p.runs.includes('x'))!;
  assert.equal(lonely.status, 'too-few-sizes');
  assert.match(lonely.reason!, /2 distinct model sizes/);
  const six = [0, 1, 2].flatMap((k) => two.map((p) => ({ ...p, id: `${p.id}${k}`, c: 6e24 })));
  const h = fitIsoFlop([...pts, ...six]);
  assert.equal(h.profiles.length, 6);
  assert.equal(h.profiles.find((p) => p.runs.includes('x0'))!.status, 'too-few-sizes');
  assert.ok(h.fitted);
});

test('Approach 1: the envelope of training curves picks the best run at each FLOP count', () => {
  const sizes = [1e7, 3e7, 1e8, 3e8, 1e9];
  const curves = sizes.map((n) => ({
    id: `n${n}`,
    batchTokens: 1e5,
    n,
    points: Array.from({ length: 60 }, (_, i) => {
      const d = 1e8 * 1.15 ** i;
      return { step: i + 1, tokens: d, loss: chinchillaLoss(P, n, d) };
    }),
  }));
  const f = fitEnvelope(curves, { bins: 100 });
  assert.ok(f.points.length > 50);
  // at every FLOP count the envelope is no worse than any single curve there
  const mid = f.points[Math.floor(f.points.length / 2)];
  for (const cv of curves) {
    const d = mid.c / (6 * cv.n);
    if (d >= cv.points[0].tokens && d <= cv.points[59].tokens) assert.ok(mid.loss <= chinchillaLoss(P, cv.n, d) + 1e-3);
  }
  // larger budgets pick larger models, N_opt ~ C^a with a = beta / (alpha + beta) = 0.4516 for these parameters; the
  // envelope of 5 discrete sizes reads 0.424 (+-0.010): within 0.04 of the truth (the old window, 0.2-0.8, could
  // not fail), and D_opt's exponent is 1 - a (C = 6 N D)
  assertClose('N_opt exponent a', f.nOpt!.p, P.beta / (P.alpha + P.beta), { rtol: 0, atol: 0.04 });
  assertClose('a + b', f.nOpt!.p + f.dOpt!.p, 1, { rtol: 0, atol: 1e-9 });
});

test("Kaplan's L(N, D) and L(N, S_min) forms recover their parameters", () => {
  const pts = [];
  for (const n of [1e6, 1e7, 1e8, 1e9])
    for (const d of [1e8, 1e9, 1e10, 1e11]) pts.push({ id: `${n}-${d}`, n, d, c: 6 * n * d, loss: kaplanNDLoss(KAPLAN_ND_PUBLISHED, n, d) });
  const f = fitKaplanND(pts);
  assertClose('alphaN', f.params.alphaN, KAPLAN_ND_PUBLISHED.alphaN, { rtol: 0.01, atol: 0 });
  assertClose('alphaD', f.params.alphaD, KAPLAN_ND_PUBLISHED.alphaD, { rtol: 0.01, atol: 0 });
  assertClose('Nc', f.params.Nc, KAPLAN_ND_PUBLISHED.Nc, { rtol: 0.1, atol: 0 });
  assertClose('Dc', f.params.Dc, KAPLAN_ND_PUBLISHED.Dc, { rtol: 0.1, atol: 0 });
  assert.equal(f.accounting.n, 'unknown');
  const sp = [];
  for (const n of [1e6, 1e7, 1e8, 1e9])
    for (const s of [1e3, 1e4, 1e5, 1e6]) sp.push({ id: `${n}-${s}`, n, sMin: s, loss: kaplanNSLoss(KAPLAN_NS_PUBLISHED, n, s) });
  const g = fitKaplanNS(sp);
  assertClose('alphaS', g.params.alphaS, KAPLAN_NS_PUBLISHED.alphaS, { rtol: 0.01, atol: 0 });
  assertClose('alphaN (S)', g.params.alphaN, KAPLAN_NS_PUBLISHED.alphaN, { rtol: 0.01, atol: 0 });
});

test("Kaplan allocation interval: kaplanAllocation's estimate, inside percentile intervals over the bootstrap refits", () => {
  const rng = new SeededRandom(3);
  const pts = [];
  for (const n of [1e6, 1e7, 1e8, 1e9]) {
    for (const d of [1e8, 1e9, 1e10, 1e11])
      pts.push({ id: `${n}-${d}`, n, d, c: 6 * n * d, loss: kaplanNDLoss(KAPLAN_ND_PUBLISHED, n, d) * (1 + 0.01 * (2 * rng.float() - 1)) });
  }
  const f = fitKaplanND(pts);
  const boot = bootstrapKaplanND(pts, f, { samples: 40, seed: 1, level: 0.9 });
  const C = 1e21;
  const iv = kaplanAllocationInterval(f.params, boot, C);
  const { level, ci, ...estimate } = iv;
  assert.deepEqual(estimate, kaplanAllocation(f.params, C));
  assert.equal(level, 0.9);
  for (const key of ['nOpt', 'dOpt', 'loss', 'a', 'b'] as const) {
    assert.ok(ci[key][0] < ci[key][1], `${key}: a real interval ${ci[key]}`);
    assert.ok(ci[key][0] <= iv[key] && iv[key] <= ci[key][1], `${key} ${iv[key]} inside ${ci[key]}`);
  }
  // the exponents' interval is the percentile interval of alpha_D / (alpha_N + alpha_D) over the refits
  const a = Array.from(boot.samples.alphaN, (aN, i) => boot.samples.alphaD[i] / (aN + boot.samples.alphaD[i]));
  assertClose('ci.a low', ci.a[0], quantile(a, 0.05), { rtol: 1e-12, atol: 0 });
  assertClose('ci.a high', ci.a[1], quantile(a, 0.95), { rtol: 1e-12, atol: 0 });
  assertClose('a + b = 1', iv.a + iv.b, 1, { rtol: 1e-12, atol: 0 });
});
