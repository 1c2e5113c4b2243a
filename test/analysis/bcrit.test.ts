// Critical batch size on synthetic scans from McCandlish et al.'s model with a known B_crit(L): eq. 5.1 per
// level, the LR envelope, warm-up marks, levels that cannot be fitted, and the B*, alpha_B recovery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeBatchScan, batchCurves, curvesFromRuns, fitPareto, minCompute, minSteps } from '../../src/analysis/bcrit.ts';
import { syntheticBatchScan } from '../../src/analysis/synthetic.ts';
import { assertClose } from '../helpers/assert-close.ts';

const B_STAR = 2e5;
const ALPHA_B = 1 / 6; // B_crit ~ L^-6, as measured in SCIENCE.md section 1
const LADDER = [4, 8, 16, 32, 64, 128, 256, 512].map((b) => b * 64); // sequences of 64 tokens
const scan = (noise: number, seed: number, runsPerBatch = 2) =>
  syntheticBatchScan({ bStar: B_STAR, alphaB: ALPHA_B, batchTokens: LADDER, finalLoss: 2.0, noise, seed, runsPerBatch });

test('eq. 5.1 fit recovers S_min and E_min from exact points', () => {
  const sMin = 1000;
  const eMin = 3e6; // B_crit = 3000
  const points = [256, 1024, 4096, 16384].map((B) => {
    const S = sMin * (1 + eMin / sMin / B);
    return { batchTokens: B, steps: S, tokens: S * B };
  });
  const f = fitPareto(points);
  assertClose('S_min', f.sMin, sMin, { rtol: 1e-6, atol: 0 });
  assertClose('E_min', f.eMin, eMin, { rtol: 1e-6, atol: 0 });
  assertClose('B_crit', f.bCrit, 3000, { rtol: 1e-6, atol: 0 });
  assert.equal(f.edge, 'none');
  assert.ok(f.r2 > 0.999999);
  // S independent of B: B_crit below the scan, reported at the grid's edge
  const flat = fitPareto([256, 1024, 4096].map((B) => ({ batchTokens: B, steps: 500, tokens: 500 * B })));
  assert.equal(flat.edge, 'low');
});

test('noise-free scan with an LR axis: B* and alpha_B recovered within 2%', () => {
  const a = analyzeBatchScan(scan(0, 1), { bootstrap: { samples: 50 } });
  assert.ok(a.fit, a.fitReason);
  assertClose('B*', a.fit.bStar, B_STAR, { rtol: 0.02, atol: 0 });
  assertClose('alpha_B', a.fit.alphaB, ALPHA_B, { rtol: 0.01, atol: 0 });
  // every usable level is within 3% of the true B_crit(L)
  for (const l of a.levels.filter((x) => x.status === 'ok')) {
    assertClose(`B_crit at ${l.loss.toFixed(3)}`, l.bCrit, B_STAR * l.loss ** (-1 / ALPHA_B), { rtol: 0.03, atol: 0 });
    assert.equal(l.batchSizes, 8);
  }
  // the envelope over the LR axis equals the better LR alone
  const one = analyzeBatchScan(scan(0, 1, 1), { bootstrap: { samples: 10 } });
  assertClose('envelope B*', a.fit.bStar, one.fit!.bStar, { rtol: 0.01, atol: 0 });
});

test('noisy scans (0.1% loss noise, 2 LRs per batch size): B* and alpha_B within 10%, CI covers alpha_B', () => {
  // measured over seeds 1-8: |B* error| <= 6.4%, |alpha_B error| <= 1%
  for (const seed of [1, 2, 3]) {
    const a = analyzeBatchScan(scan(0.001, seed), { bootstrap: { samples: 200, seed } });
    assert.ok(a.fit, a.fitReason);
    assertClose(`B* seed ${seed}`, a.fit.bStar, B_STAR, { rtol: 0.1, atol: 0 });
    assertClose(`alpha_B seed ${seed}`, a.fit.alphaB, ALPHA_B, { rtol: 0.1, atol: 0 });
    assert.ok(a.fit.ci.alphaB[0] < a.fit.alphaB && a.fit.alphaB < a.fit.ci.alphaB[1]);
    assert.ok(a.fit.ci.bStar[0] < a.fit.ci.bStar[1]);
    assert.ok(a.fit.ci.alphaB[0] <= ALPHA_B * 1.02 && ALPHA_B * 0.98 <= a.fit.ci.alphaB[1], `seed ${seed}: ${a.fit.ci.alphaB}`);
  }
});

test('levels that cannot be fitted are reported with a reason, never dropped', () => {
  const a = analyzeBatchScan(scan(0, 1), { levels: [3.0, 2.5, 2.02, 1.9], bootstrap: { samples: 10 } });
  assert.equal(a.levels.length, 4);
  const byLoss = new Map(a.levels.map((l) => [l.loss, l]));
  assert.equal(byLoss.get(3.0)!.status, 'ok');
  // 2.02 is reached only by the batch sizes that train longest; 1.9 by none
  const low = byLoss.get(1.9)!;
  assert.equal(low.status, 'too-few-batch-sizes');
  assert.match(low.reason!, /reached by 0 batch sizes/);
  assert.equal(low.unreached.length, 8);
  // the default grid reaches far above the scan: those levels are 'outside-scan', with B_crit still given
  const d = analyzeBatchScan(scan(0, 1), { bootstrap: { samples: 10 } });
  const out = d.levels.filter((l) => l.status === 'outside-scan');
  assert.ok(out.length > 0);
  for (const l of out) assert.ok(l.bCrit < LADDER[0] / 2 && /outside the scan/.test(l.reason!));
  // fewer than 3 usable levels: no power-law fit, and a reason
  const few = analyzeBatchScan(scan(0, 1), { levels: [3.0, 2.9], bootstrap: { samples: 10 } });
  assert.equal(few.fit, null);
  assert.match(few.fitReason!, /needs 3/);
});

test('levels reached during warm-up are marked and left out of the fit unless asked', () => {
  const runs = scan(0, 1);
  const a = analyzeBatchScan(runs, { warmupSteps: 200, bootstrap: { samples: 10 } });
  const marked = a.levels.filter((l) => l.warmup);
  assert.ok(marked.length > 0 && marked.length < a.levels.length);
  for (const l of marked) assert.ok(l.points.some((p) => p.steps <= 200));
  const usable = a.levels.filter((l) => l.status === 'ok' && !l.warmup).length;
  assert.equal(a.fit!.n, usable);
  const b = analyzeBatchScan(runs, { warmupSteps: 200, fitWarmupLevels: true, bootstrap: { samples: 10 } });
  assert.equal(b.fit!.n, a.levels.filter((l) => l.status === 'ok').length);
  // a curve's own warm-up wins over the default
  runs.forEach((r) => (r.warmupSteps = 1e9));
  assert.ok(batchCurves(runs).every((c) => c.warmupSteps === 1e9));
});

test('Kaplan eq. 5.4 and 5.5 corrections', () => {
  assertClose('S_min at B = B_crit', minSteps(2000, 4096, 4096), 1000, { rtol: 1e-12, atol: 0 });
  assertClose('C_min at B = B_crit', minCompute(1e18, 4096, 4096), 5e17, { rtol: 1e-12, atol: 0 });
});

test("curvesFromRuns takes each record's own warm-up unless the caller overrides it", () => {
  const record = (id: string, warmupSteps?: number) => ({
    id, name: id, status: 'done' as const, paramsKaplan: 1, paramsTotal: 2, batchSize: 4, context: 16, batchTokens: 64,
    ...(warmupSteps !== undefined && { warmupSteps }),
    metrics: [1, 2].map((step) => ({ step, tokens: step * 64, flops: step, trainLoss: 3, lr: 1e-3, gradNorm: 1, wallMs: step, testLoss: 3 })),
  });
  const [a, b] = curvesFromRuns([record('a', 20), record('b')]);
  assert.equal(a.warmupSteps, 20);
  assert.equal(b.warmupSteps, undefined);
  assert.equal(curvesFromRuns([record('a', 20)], 'test', () => 7)[0].warmupSteps, 7);
});
