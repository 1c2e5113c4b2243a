// Every approach side by side on published data (the Open-Athena collection): intervals, the disagreement
// table (Marin: Approach 2 vs the parametric fits), VPNLS agreeing with Approach 3, the held-out-budget check,
// confidence vs prediction intervals, and input that cannot be fitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareApproaches, heldOutCheck, predictLoss, type ApproachComparison } from '../../src/analysis/approaches.ts';
import { AnalysisInputError } from '../../src/analysis/errors.ts';
import { openAthenaExperiments } from './open-athena-data.ts';

const exps = openAthenaExperiments();
const byName = (prefix: string) => exps.find((e) => e.name.startsWith(prefix))!;
const cache = new Map<string, ApproachComparison>();
/** 100 resamples per approach, no held-out check: ~1-2 s per experiment here */
const compare = (name: string): ApproachComparison => {
  let c = cache.get(name);
  if (!c) {
    const e = exps.find((x) => x.name === name)!;
    c = compareApproaches(e.points, { budget: e.budget, bootstrap: 100, seed: 0, label: name, heldOut: false });
    cache.set(name, c);
  }
  return c;
};

test('Marin ladders: Approach 2 puts a at 0.42-0.45, Approach 3 at 0.32-0.38, and the table says where they disagree', () => {
  for (const e of exps.filter((x) => x.name.startsWith('marin'))) {
    const c = compare(e.name);
    const [a2, a3, vp] = c.approaches;
    assert.deepEqual(
      c.approaches.map((a) => a.approach),
      ['approach2', 'approach3', 'vpnls'],
    );
    assert.ok(a2.fitted && a3.fitted && vp.fitted);
    assert.ok(a2.a!.estimate > 0.42 && a2.a!.estimate < 0.45, `${e.name} A2 a ${a2.a!.estimate}`);
    assert.ok(a3.a!.estimate > 0.32 && a3.a!.estimate < 0.38, `${e.name} A3 a ${a3.a!.estimate}`);
    for (const s of [a2, a3, vp]) {
      for (const q of ['a', 'b'] as const) {
        const est = s[q]!;
        assert.ok(est.ci[0] <= est.estimate && est.estimate <= est.ci[1], `${e.name} ${s.approach} ${q} ${JSON.stringify(est)}`);
      }
    }
    // the parametric fits carry alpha, beta and a = beta / (alpha + beta)
    assert.ok(Math.abs(a3.a!.estimate - a3.params!.beta / (a3.params!.alpha + a3.params!.beta)) < 1e-12);
    assert.equal(a2.alpha, undefined);
    // every ladder: Approach 2 disagrees with a parametric fit beyond the 95% intervals on a or b
    const d = c.disagreements.filter((x) => x.first === 'approach2');
    assert.ok(d.length >= 1, `${e.name}: ${c.disagreements.map((x) => x.text).join('; ') || 'no disagreement'}`);
    for (const x of d) assert.ok(x.firstEst.ci[1] < x.secondEst.ci[0] || x.secondEst.ci[1] < x.firstEst.ci[0], x.text);
  }
});

test('VPNLS agrees with Approach 3 on all seven experiments, where it is well posed', () => {
  for (const e of exps) {
    const c = compare(e.name);
    const vp = c.vpnls!.fit;
    if (!vp.wellPosed) continue;
    const clash = c.disagreements.filter((x) => x.first === 'approach3' && x.second === 'vpnls');
    assert.deepEqual(
      clash.map((x) => x.text),
      [],
      e.name,
    );
    const a3 = c.approach3!.fit.params;
    const aOf = (p: { alpha: number; beta: number }) => p.beta / (p.alpha + p.beta);
    assert.ok(Math.abs(aOf(vp.params) - aOf(a3)) < 0.03, `${e.name}: a ${aOf(vp.params)} vs ${aOf(a3)}`);
  }
  assert.ok(
    exps.every((e) => compare(e.name).vpnls!.fit.wellPosed),
    'all seven are well posed',
  );
});

test('held-out budget: laws fitted below the largest budget predict its runs within ~1-2%', () => {
  const e = byName('llama_3__raw_loss');
  const h = heldOutCheck(e.points, { budget: e.budget });
  assert.ok(!('reason' in h));
  assert.equal(h.heldBudget, 1e21);
  assert.equal(h.predictions.length, 12);
  assert.equal(h.trainBudgets, 7);
  assert.ok(h.meanAbsPctError < 2, `mean ${h.meanAbsPctError}%`);
  assert.ok(h.maxAbsPctError >= h.meanAbsPctError && h.maxAbsPctError < 4);
  const v = heldOutCheck(e.points, { budget: e.budget, method: 'vpnls' });
  assert.ok(!('reason' in v) && v.meanAbsPctError < 2);
  // two budgets cannot be held out and fitted
  const two = e.points.filter((_, i) => e.budget[i] >= 6e20);
  const r = heldOutCheck(two, { budget: e.budget.filter((b) => b >= 6e20) });
  assert.ok('reason' in r && /2 budgets/.test(r.reason), JSON.stringify(r));
});

test('prediction intervals (residual noise added back) contain and exceed the confidence intervals', () => {
  const c = compare(byName('marin_202603__dclm').name);
  const { fit, bootstrap } = c.approach3!;
  const p = predictLoss(fit.params, fit.residuals, bootstrap, 1e10, 2e11);
  assert.ok(p.ci[0] < p.estimate && p.estimate < p.ci[1], JSON.stringify(p));
  assert.ok(p.pi[0] < p.ci[0] && p.pi[1] > p.ci[1], JSON.stringify(p));
  const v = c.vpnls!;
  const q = predictLoss(v.fit.params, v.fit.logResiduals, v.bootstrap, 1e10, 2e11, { seed: 3 });
  assert.ok(q.pi[1] - q.pi[0] > q.ci[1] - q.ci[0]);
  const none = predictLoss(fit.params, fit.residuals, null, 1e10, 2e11);
  assert.ok(Number.isNaN(none.ci[0]) && Number.isNaN(none.pi[0]));
});

test("too few runs or budgets: every approach says 'not fitted: why', nothing throws; bad values do throw", () => {
  const e = byName('marin_202603__dclm');
  const four = e.points.slice(0, 4);
  const c = compareApproaches(four, { budget: e.budget.slice(0, 4), bootstrap: 10 });
  assert.deepEqual(
    c.approaches.map((a) => a.fitted),
    [false, false, false],
  );
  assert.match(c.approaches[0].reason!, /^not fitted: /);
  assert.match(c.approaches[1].reason!, /^not fitted: 4 runs; the 5-parameter law needs at least 6/);
  assert.deepEqual(c.disagreements, []);
  assert.match(c.heldOutReason!, /not checked/);
  // two budgets: the parametric fits run, Approach 2 does not
  const keep = e.budget.map((b) => b <= 1.8e19);
  const two = compareApproaches(
    e.points.filter((_, i) => keep[i]),
    { budget: e.budget.filter((_, i) => keep[i]), bootstrap: 0, heldOut: false },
  );
  assert.equal(two.approaches[0].fitted, false);
  assert.match(two.approaches[0].reason!, /not fitted: 2 usable budgets of 2/);
  assert.ok(two.approaches[1].fitted && two.approaches[2].fitted);
  assert.throws(
    () => compareApproaches([...e.points, { id: 'neg', n: 1e8, d: -1, c: 1e18, loss: 3 }]),
    (x: unknown) => x instanceof AnalysisInputError && /run neg: d = -1/.test(x.message),
  );
});
