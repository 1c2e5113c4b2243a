// VPNLS (variable projection): exact recovery on noise-free data, recovery of the allocation exponent a where
// Approach 2 is biased, well-posedness flags, the bootstrap, and agreement with Approach 3 on published data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapVpnls, fitVpnls } from '../../src/analysis/vpnls.ts';
import { chinchillaAllocationInterval } from '../../src/analysis/allocation.ts';
import { CHINCHILLA_KEYS, chinchillaLoss } from '../../src/analysis/chinchilla.ts';
import { fitIsoFlop } from '../../src/analysis/isoflop.ts';
import { syntheticChinchilla, syntheticIsoFlop } from '../../src/analysis/synthetic.ts';
import { AnalysisInputError } from '../../src/analysis/errors.ts';
import { assertClose } from '../helpers/assert-close.ts';

const P = { E: 1.69, A: 406.4, B: 410.7, alpha: 0.34, beta: 0.28 };
const A_TRUE = P.beta / (P.alpha + P.beta);
const BUDGETS = [1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21];

test('noise-free data: VPNLS recovers every parameter (the inner problem is exact)', () => {
  const pts = syntheticChinchilla(P, [2e7, 5e7, 1e8, 3e8, 1e9, 3e9], [1e9, 3e9, 1e10, 3e10, 1e11, 3e11], 0, 0);
  const v = fitVpnls(pts);
  for (const k of CHINCHILLA_KEYS) assertClose(k, v.params[k], P[k], { rtol: 1e-5, atol: 0 });
  assert.ok(v.objective < 1e-18, `objective ${v.objective}`);
  assert.ok(v.wellPosed, v.flags.join('; '));
  assert.equal(v.diagnostics.gridPoints, 6400);
});

test('VPNLS recovers a within 2% on centred and off-centre IsoFLOP designs, where Approach 2 is biased', () => {
  for (const [name, offset] of [
    ['centred', 1],
    ['off-centre, drifting', (c: number) => 3 * (c / BUDGETS[0]) ** 0.1],
  ] as const) {
    for (const noise of [0, 0.003]) {
      const pts = syntheticIsoFlop(P, BUDGETS, 9, 8, noise, 1, { offset });
      const v = fitVpnls(pts);
      const a = v.params.beta / (v.params.alpha + v.params.beta);
      assertClose(`${name}, noise ${noise}: VPNLS a`, a, A_TRUE, { rtol: 0.02, atol: 0 });
      if (noise === 0) assertClose(`${name}: VPNLS a exact`, a, A_TRUE, { rtol: 1e-4, atol: 0 });
    }
  }
  // the same off-centre design: Approach 2 is off by more than 1.5%
  const off = syntheticIsoFlop(P, BUDGETS, 9, 8, 0, 1, { offset: (c) => 3 * (c / BUDGETS[0]) ** 0.1 });
  const iso = fitIsoFlop(off, { budget: off.map((p) => p.c) });
  assert.ok(Math.abs(iso.nOpt!.p - A_TRUE) > 0.015 * A_TRUE, `Approach 2 a ${iso.nOpt!.p}`);
});

test('not well posed: E at its bound, a missing term, an exponent at the box edge, a flat objective', () => {
  const ns = [1e7, 3e7, 1e8, 3e8, 1e9];
  const ds = [1e9, 3e9, 1e10, 3e10, 1e11];
  // E = 0 in truth: the fit puts E on its bound and says so
  const e0 = fitVpnls(syntheticChinchilla({ ...P, E: 0 }, ns, ds, 0, 0));
  assert.equal(e0.wellPosed, false);
  assert.ok(
    e0.flags.some((f) => f.startsWith('E at its bound 0')),
    e0.flags.join('; '),
  );
  // loss independent of D: no data term (B = 0 or beta at an edge), flagged
  const noD = fitVpnls(ns.flatMap((n) => ds.map((d) => ({ id: `${n}-${d}`, n, d, c: 6 * n * d, loss: 1.7 + 400 / n ** 0.34 }))));
  assert.equal(noD.wellPosed, false, JSON.stringify(noD.params));
  // the true beta outside the search box: the fit stops on the edge and says so
  const edge = fitVpnls(syntheticChinchilla(P, ns, ds, 0, 0), { beta: [0.4, 1] });
  assert.ok(
    edge.flags.some((f) => /^beta .* at the edge of the search box \[0.4, 1\]/.test(f)),
    edge.flags.join('; '),
  );
  // noise swamping a tiny grid: exponents not determined
  const flat = fitVpnls(syntheticChinchilla(P, [1e8, 1.2e8, 1.4e8], [1e10, 1.2e10, 1.4e10], 0.02, 3));
  assert.equal(flat.wellPosed, false, JSON.stringify(flat.diagnostics.curvatureSE));
  // bad input is a clear error
  assert.throws(
    () => fitVpnls(syntheticChinchilla(P, [1e8, 2e8], [1e10, 2e10], 0, 0)),
    (e: unknown) => e instanceof AnalysisInputError && /at least 6 runs, got 4/.test(e.message),
  );
  assert.throws(() => fitVpnls([...syntheticChinchilla(P, ns, ds, 0, 0), { id: 'z', n: 1e8, d: 0, c: 1, loss: 2 }]), /run z: d = 0/);
});

test('bootstrap: seeded, intervals around the estimate, usable by the allocation interval', () => {
  const pts = syntheticIsoFlop(P, BUDGETS, 9, 8, 0.005, 4);
  const v = fitVpnls(pts);
  const b1 = bootstrapVpnls(pts, v, { samples: 150, seed: 2 });
  const b2 = bootstrapVpnls(pts, v, { samples: 150, seed: 2 });
  assert.deepEqual(Array.from(b1.samples.alpha), Array.from(b2.samples.alpha));
  assert.equal(b1.failures, 0);
  assert.equal(b1.x.length, 150);
  for (const k of ['alpha', 'beta', 'E'] as const) assert.ok(b1.ci[k][0] <= v.params[k] && v.params[k] <= b1.ci[k][1], `${k} ${v.params[k]} ${b1.ci[k]}`);
  const al = chinchillaAllocationInterval(v.params, b1, 1e22);
  assert.ok(al.ci.a[0] < A_TRUE && A_TRUE < al.ci.a[1], `true a ${A_TRUE} in ${al.ci.a}`);
  // residuals are in input order and on the loss scale
  assertClose('residual 0', v.residuals[0], chinchillaLoss(v.params, pts[0].n, pts[0].d) - pts[0].loss, { rtol: 1e-12, atol: 1e-15 });
});
