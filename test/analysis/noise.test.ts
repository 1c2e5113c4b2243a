// The gradient noise scale per loss bin (docs/METHODS.md section 2; McCandlish et al. 2018 App. A.1) on runs with a
// closed-form truth: |G|^2 falls as G0 / (1 + p / tau) and tr(Sigma) is constant, where p is a progress shared by all
// batch sizes (p = t b / (b + B_n) after t steps at b sequences) and the test loss is L(p) = L0 (1 + p / tau)^-a. So
// B_simple(L) = tr(Sigma) / |G|^2 = (S0 / G0) (L0 / L)^(1/a) sequences is known at every loss. Rows carry raw
// per-step estimates with unbiased Gaussian noise (|G|^2 sometimes negative), every step, with the LR; the test
// loss is logged at ~30 log-spaced evals (the train loss sits 0.1 above it). Large batches run few steps, small batches many (issue 11, "How it is
// checked": the per-bin ratio of means within 5% of truth at every run length).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noiseAgreement, noiseScaleBins, noiseToBcrit, type NoiseBin } from '../../src/analysis/noise.ts';
import type { BcritAnalysis, BcritLevel } from '../../src/analysis/bcrit.ts';
import type { MetricRow, RunRecord } from '../../src/analysis/records.ts';
import { SeededRandom } from '../../src/util/random.ts';

const CONTEXT = 64;
const G0 = 1;
const S0 = 2; // tr(Sigma), per sequence: B_simple = 2 sequences at p = 0
const TAU = 50;
const L0 = 3;
const A = 0.3;
const B_N = 32; // p per step = b / (b + B_N)
const pOf = (step: number, b: number) => (step * b) / (b + B_N);
const lossOf = (p: number) => L0 * (1 + p / TAU) ** -A;
const gradSqOf = (p: number) => G0 / (1 + p / TAU);
/** the truth, in tokens, at a test loss */
const bSimpleAt = (L: number) => (S0 / G0) * (L0 / L) ** (1 / A) * CONTEXT;

/** batch size (sequences) and steps: short large-batch runs, long small-batch runs */
const RUNS: [number, number][] = [
  [8, 4000],
  [32, 2000],
  [128, 800],
  [512, 200],
  [2048, 60],
];

/** ~30 log-spaced eval steps, the last step included */
function evalSteps(last: number): Set<number> {
  const at = new Set<number>();
  for (let j = 0; j < 30; j++) at.add(Math.max(1, Math.round(Math.exp((Math.log(last) * j) / 29))));
  at.add(last);
  return at;
}

/**
 * Rows with unbiased Gaussian noise on the raw estimates (0 = exact rows): |G|^2 with sd cv.g tr(Sigma) / b, as the
 * two-batch estimator's noise scales (relative sd cv.g B_simple / b: large, and often negative, where b < B_simple),
 * tr(Sigma) with relative sd cv.t.
 */
function records(cv: { g: number; t: number }, seed = 1): RunRecord[] {
  const rng = new SeededRandom(seed);
  return RUNS.map(([b, steps]) => {
    const evals = evalSteps(steps);
    const metrics: MetricRow[] = [];
    for (let s = 1; s <= steps; s++) {
      const p = pOf(s, b);
      const g = gradSqOf(p);
      const loss = lossOf(p);
      metrics.push({
        step: s,
        tokens: s * b * CONTEXT,
        flops: s * b * CONTEXT * 6e5,
        trainLoss: loss + 0.1, // a generalisation gap: rows must be binned on the test loss
        lr: 1e-3,
        gradNorm: Math.sqrt(g),
        wallMs: s,
        ...(evals.has(s) && { testLoss: loss }),
        gradSq: g + ((cv.g * S0) / b) * rng.normal(),
        traceSigma: S0 * (1 + cv.t * rng.normal()),
      });
    }
    const id = `b${b}-s${steps}`;
    return {
      id,
      name: id,
      status: 'done',
      paramsKaplan: 1e5,
      paramsTotal: 1.2e5,
      batchSize: b,
      context: CONTEXT,
      batchTokens: b * CONTEXT,
      lr: 1e-3,
      warmupSteps: 0,
      metrics,
    };
  });
}

const relErr = (got: number, want: number) => Math.abs(got / want - 1);
const finite = (bins: NoiseBin[]) => bins.filter((b) => Number.isFinite(b.bSimpleTokens));
const runOf = (id: string) => RUNS.find(([b, steps]) => `b${b}-s${steps}` === id)!;
/** the run's true loss range over its rows (steps 1..last) */
const lossRange = (id: string): [number, number] => {
  const [b, steps] = runOf(id);
  return [lossOf(pOf(steps, b)), lossOf(pOf(1, b))];
};
/** the bin lies inside the run's loss range: the run covers the whole bin */
const covers = (id: string, bin: NoiseBin) => lossRange(id)[0] <= bin.lossRange[0] && bin.lossRange[1] <= lossRange(id)[1];
/** the true ratio of means over the rows of the given runs whose true loss is in the bin, in tokens */
function truthOver(ids: string[], bin: NoiseBin): number {
  let t = 0;
  let g = 0;
  for (const id of ids) {
    const [b, steps] = runOf(id);
    for (let s = 1; s <= steps; s++) {
      const p = pOf(s, b);
      const L = lossOf(p);
      if (L >= bin.lossRange[0] && L < bin.lossRange[1]) {
        t += S0;
        g += gradSqOf(p);
      }
    }
  }
  return (t / g) * CONTEXT;
}

test('B_simple per bin, exact rows: within 5% of the truth at the bin centre at every run length; the bins agree across batch sizes', () => {
  const bins = noiseScaleBins(records({ g: 0, t: 0 }));
  assert.ok(bins.length >= 10, `${bins.length} bins`);
  assert.ok(finite(bins).length >= 8, `${finite(bins).length} bins with a value`);
  let centred = 0;
  for (const bin of finite(bins)) {
    const want = bSimpleAt(bin.loss);
    const kept = bin.runs.filter((r) => !r.excluded);
    // each run's own ratio: no lag, whatever the run's length
    for (const r of bin.runs) {
      // against the truth over its own rows in the bin (placement on the smoothed test-loss curve, no lag): 2%
      assert.ok(
        relErr(r.bSimpleTokens, truthOver([r.run], bin)) <= 0.02,
        `run ${r.run} at L ${bin.loss.toFixed(3)}: ${r.bSimpleTokens.toFixed(1)} vs ${truthOver([r.run], bin).toFixed(1)} over its rows`,
      );
      // a run that spans the whole bin: the truth at the bin centre, 5%
      if (covers(r.run, bin))
        assert.ok(relErr(r.bSimpleTokens, want) <= 0.05, `run ${r.run} at L ${bin.loss.toFixed(3)}: ${r.bSimpleTokens.toFixed(1)} vs ${want.toFixed(1)}`);
    }
    // the bin: the truth at its centre when a kept run spans it (else only the ends of runs sit in it)
    assert.ok(
      relErr(
        bin.bSimpleTokens,
        truthOver(
          kept.map((r) => r.run),
          bin,
        ),
      ) <= 0.02,
      `bin at L ${bin.loss.toFixed(3)}: ${bin.bSimpleTokens.toFixed(1)} vs ${truthOver(
        kept.map((r) => r.run),
        bin,
      ).toFixed(1)} over its kept rows`,
    );
    if (kept.some((r) => covers(r.run, bin))) {
      centred++;
      assert.ok(relErr(bin.bSimpleTokens, want) <= 0.05, `bin at L ${bin.loss.toFixed(3)}: ${bin.bSimpleTokens.toFixed(1)} vs truth ${want.toFixed(1)}`);
    }
    // the kept runs that span the bin agree: spread near 1
    const spanning = kept.filter((r) => covers(r.run, bin)).map((r) => r.bSimpleTokens);
    if (spanning.length >= 2) assert.ok(Math.max(...spanning) / Math.min(...spanning) <= 1.05, `bin at L ${bin.loss.toFixed(3)}: spread ${spanning}`);
    assert.ok(bin.spread >= 1 && bin.spread <= 1.25, `bin at L ${bin.loss.toFixed(3)}: spread ${bin.spread}`);
    assert.equal(
      bin.n,
      kept.reduce((s, r) => s + r.rows, 0),
    );
  }
  assert.ok(centred >= 8, `${centred} bins spanned by a kept run`);
  // every run length is represented, the shortest (60 steps) included
  const seen = new Set(finite(bins).flatMap((b) => b.runs.filter((r) => !r.excluded).map((r) => r.run)));
  for (const [b, steps] of RUNS.slice(1)) assert.ok(seen.has(`b${b}-s${steps}`), `run b${b}-s${steps} kept in some bin`);
  for (const b of bins) assert.ok(b.lossRange[0] < b.loss && b.loss < b.lossRange[1], `bin ${b.loss} in ${b.lossRange}`);
});

test('B_simple per bin, noisy rows (|G|^2 estimates often negative in small batches): the ratio of means is within 5% of the truth', () => {
  for (const seed of [1, 2, 3]) {
    const recs = records({ g: 0.4, t: 0.1 }, seed);
    const negative = recs.reduce((n, r) => n + r.metrics.filter((m) => m.gradSq! < 0).length, 0);
    assert.ok(negative > 100, `seed ${seed}: ${negative} negative |G|^2 rows`);
    const bins = noiseScaleBins(recs);
    assert.ok(finite(bins).length >= 8, `seed ${seed}: ${finite(bins).length} bins with a value`);
    for (const bin of finite(bins)) {
      const kept = bin.runs.filter((r) => !r.excluded);
      // the truth at the bin centre where a kept run spans the bin, else over the kept rows (only the ends of runs sit in it)
      const want = kept.some((r) => covers(r.run, bin))
        ? bSimpleAt(bin.loss)
        : truthOver(
            kept.map((r) => r.run),
            bin,
          );
      assert.ok(
        relErr(bin.bSimpleTokens, want) <= 0.05,
        `seed ${seed}: bin at L ${bin.loss.toFixed(3)} (${bin.n} rows): ${bin.bSimpleTokens.toFixed(1)} vs truth ${want.toFixed(1)}`,
      );
      // batch sizes agree at the same loss (the issue asks for a factor 2 in the demo)
      assert.ok(bin.spread <= 1.3, `seed ${seed}: bin at L ${bin.loss.toFixed(3)}: spread ${bin.spread.toFixed(3)}`);
    }
    // bins centred on given levels (as the report centres them on the B_crit levels), 5% apart
    const levels = Array.from({ length: 12 }, (_, k) => 2.8 * 0.95 ** k);
    const at = noiseScaleBins(recs, { levels });
    assert.deepEqual(
      at.map((b) => b.loss.toFixed(6)),
      [...levels].sort((x, y) => x - y).map((l) => l.toFixed(6)),
    );
    assert.ok(finite(at).length >= 10, `seed ${seed}: ${finite(at).length} level bins with a value`);
    for (const bin of finite(at))
      assert.ok(
        relErr(bin.bSimpleTokens, bSimpleAt(bin.loss)) <= 0.05,
        `seed ${seed}: level ${bin.loss.toFixed(3)} (${bin.n} rows): ${bin.bSimpleTokens.toFixed(1)} vs ${bSimpleAt(bin.loss).toFixed(1)}`,
      );
  }
});

test('runs with B_big < 2 B_simple are left out of a bin and counted', () => {
  for (const cv of [
    { g: 0, t: 0 },
    { g: 0.4, t: 0.1 },
  ]) {
    const bins = noiseScaleBins(records(cv));
    let excluded = 0;
    for (const bin of bins) {
      assert.equal(bin.excluded, bin.runs.filter((r) => r.excluded).length);
      excluded += bin.excluded;
      const twice = (2 * bSimpleAt(bin.loss)) / CONTEXT; // sequences
      for (const r of bin.runs) {
        // clear cases only (the rule uses the run's own noisy ratio): 20% either side of the threshold
        if (r.batchSize < twice / 1.2)
          assert.equal(r.excluded, true, `cv ${cv.g}: run ${r.run} at L ${bin.loss.toFixed(3)} (2 B_simple ${twice.toFixed(1)} seq)`);
        if (r.batchSize > twice * 1.2)
          assert.equal(r.excluded, false, `cv ${cv.g}: run ${r.run} at L ${bin.loss.toFixed(3)} (2 B_simple ${twice.toFixed(1)} seq)`);
        assert.equal(r.excluded, !(r.batchSize >= (2 * r.bSimpleTokens) / CONTEXT));
      }
      if (bin.runs.length > 0 && bin.runs.every((r) => r.excluded)) {
        assert.ok(Number.isNaN(bin.bSimpleTokens) && bin.n === 0, `all runs excluded at L ${bin.loss}: no value`);
      }
    }
    assert.ok(excluded >= 5, `cv ${cv.g}: ${excluded} exclusions`);
    // batch 8 is below 2 B_simple from L ~2.4 on: left out there
    assert.ok(
      bins.some((b) => b.runs.some((r) => r.batchSize === 8 && r.excluded)),
      `cv ${cv.g}: batch 8 left out somewhere`,
    );
  }
});

test('the old estimate (bias-corrected EMA, beta 0.99, from step 1) lags in the short runs; the ratio of means does not', () => {
  const recs = records({ g: 0, t: 0 });
  const bins = noiseScaleBins(recs);
  const beta = 0.99;
  // per run and bin: the mean over the run's rows in the bin of the EMA ratio, as the old analysis binned it
  const worst = new Map<string, { ema: number; ratio: number }>();
  for (const rec of recs) {
    let mg = 0;
    let mt = 0;
    const ema: { loss: number; b: number }[] = [];
    rec.metrics.forEach((m, i) => {
      mg = beta * mg + (1 - beta) * m.gradSq!;
      mt = beta * mt + (1 - beta) * m.traceSigma!;
      const c = 1 - beta ** (i + 1);
      ema.push({ loss: lossOf(pOf(m.step, rec.batchSize)), b: (mt / c / (mg / c)) * CONTEXT });
    });
    for (const bin of finite(bins)) {
      const mine = bin.runs.find((r) => r.run === rec.id);
      if (!mine) continue;
      const inBin = ema.filter((e) => e.loss >= bin.lossRange[0] && e.loss < bin.lossRange[1]);
      if (inBin.length === 0) continue;
      const emaMean = inBin.reduce((s, e) => s + e.b, 0) / inBin.length;
      // the truth over the run's own rows in the bin (the bin centre's truth only where the run spans the bin)
      const want = truthOver([rec.id], bin);
      const w = worst.get(rec.id) ?? { ema: 0, ratio: 0 };
      worst.set(rec.id, { ema: Math.max(w.ema, relErr(emaMean, want)), ratio: Math.max(w.ratio, relErr(mine.bSimpleTokens, want)) });
    }
  }
  // the two shortest (large-batch) runs: the EMA is off by 20% or more (measured: 23% and 42%), the ratio of means by
  // under 2% (measured: 0.3%)
  for (const [b, steps] of RUNS.slice(-2)) {
    const w = worst.get(`b${b}-s${steps}`);
    assert.ok(w, `run b${b}`);
    assert.ok(
      w.ema >= 0.2 && w.ratio <= 0.02,
      `run b${b}-s${steps}: EMA off by ${(100 * w.ema).toFixed(1)}%, ratio of means by ${(100 * w.ratio).toFixed(1)}%`,
    );
  }
  // and by more than in the longest run: the EMA's error depends on the run's length, the ratio of means' does not
  const longest = worst.get(`b${RUNS[0][0]}-s${RUNS[0][1]}`)!;
  const shortest = worst.get(`b${RUNS[RUNS.length - 2][0]}-s${RUNS[RUNS.length - 2][1]}`)!;
  assert.ok(shortest.ema > 1.5 * longest.ema, `EMA error: ${(100 * shortest.ema).toFixed(1)}% (200 steps) vs ${(100 * longest.ema).toFixed(1)}% (4000 steps)`);
});

test('rows before the first eval or after the last are left out; runs without raw estimates give no bins', () => {
  const recs = records({ g: 0, t: 0 });
  // the 60-step run: evals from step 1 to 60, rows at every step -> every row is placed
  const short = recs[recs.length - 1];
  const rowsPlaced = (bins: NoiseBin[]) => bins.reduce((s, b) => s + b.runs.reduce((t, r) => t + r.rows, 0), 0);
  assert.equal(rowsPlaced(noiseScaleBins([short], { minRows: 1 })), short.metrics.length);
  // drop the evals before step 20 and after step 45: the rows outside the remaining evals have no test loss to sit on
  const cut: RunRecord = {
    ...short,
    metrics: short.metrics.map(({ testLoss, ...m }) => (m.step < 20 || m.step > 45 ? m : { ...m, ...(testLoss !== undefined && { testLoss }) })),
  };
  const evals = cut.metrics.filter((m) => m.testLoss !== undefined).map((m) => m.step);
  assert.ok(evals.length >= 5 && evals[0] >= 20 && evals[evals.length - 1] <= 45, `evals ${evals}`);
  assert.equal(rowsPlaced(noiseScaleBins([cut], { minRows: 1 })), evals[evals.length - 1] - evals[0] + 1, `evals ${evals}`);
  // trainer version 1 rows (no gradSq / traceSigma): nothing to bin
  const v1 = recs.map((r) => ({ ...r, metrics: r.metrics.map(({ gradSq: _g, traceSigma: _t, ...m }) => m) }));
  assert.deepEqual(noiseScaleBins(v1), []);
});

test('noiseToBcrit pairs each ok B_crit level with the bin centred on it, and skips the rest', () => {
  const recs = records({ g: 0.4, t: 0.1 });
  const losses = [2.6, 2.45, 2.3, 2.0, 1.9, 1.8, 1.6, 1.5, 1.1];
  const bins = noiseScaleBins(recs, { levels: losses });
  const level = (loss: number, status: BcritLevel['status'], bCrit: number): BcritLevel => ({
    loss,
    status,
    points: [],
    batchSizes: 5,
    unreached: [],
    atFirstEval: [],
    sMin: 1,
    eMin: bCrit,
    bCrit,
    r2: 1,
    rmseLog: 0,
  });
  const levels = [
    level(2.6, 'ok', 1000),
    level(2.3, 'pre-regime', 1000),
    level(2.0, 'ok', 2000),
    level(1.8, 'transient', 3000),
    level(1.6, 'ok', 4000),
    // beyond every row: no bin value
    level(1.1, 'ok', 9000),
  ];
  const ratios = noiseToBcrit(bins, levels);
  assert.deepEqual(
    ratios.map((r) => r.loss),
    [2.6, 2.0, 1.6],
  );
  for (const r of ratios) {
    const bin = bins.find((b) => Math.abs(b.loss - r.loss) < 1e-9)!;
    assert.equal(r.bSimpleTokens, bin.bSimpleTokens);
    assert.equal(r.ratio, r.bSimpleTokens / r.bCrit);
    assert.equal(r.spread, bin.spread);
  }
});

test('agreement across batch sizes: seeds of a batch size are pooled; equal noise scales agree within 1.3x, a batch size measuring 3x more is seen', () => {
  // a second seed at two batch sizes (independent noise), as the demo's scan has
  const seeded = (seed: number, scale = (_b: number) => 1) =>
    records({ g: 0.4, t: 0.1 }, seed).map((r) => ({ ...r, metrics: r.metrics.map((m) => ({ ...m, traceSigma: m.traceSigma! * scale(r.batchSize) })) }));
  const levels = Array.from({ length: 8 }, (_, k) => ({ loss: 2.6 * 0.96 ** k, status: 'ok' })) as unknown as BcritLevel[];
  const analysisOf = () => ({ levels, curves: RUNS.map(([b]) => ({ batchTokens: b * CONTEXT })) }) as unknown as BcritAnalysis;
  for (const seed of [1, 2, 3]) {
    const second = seeded(seed + 10)
      .filter((r) => r.batchSize === 32 || r.batchSize === 128)
      .map((r) => ({ ...r, id: `${r.id}-seed1` }));
    const recs = [...seeded(seed), ...second];
    const ag = noiseAgreement(recs, analysisOf())!;
    assert.equal(ag.runs, recs.length);
    assert.equal(ag.batchSizes.length, ag.bins.length);
    const withTwo = ag.batchSizes.filter((bs) => bs.length >= 2);
    assert.ok(withTwo.length >= 3, `seed ${seed}: ${withTwo.length} bins with >= 2 batch sizes`);
    for (const bs of ag.batchSizes) {
      // one entry per batch size, the seeds pooled into it
      assert.equal(new Set(bs.map((b) => b.batchSize)).size, bs.length);
      for (const b of bs) if (b.batchSize === 32 || b.batchSize === 128) assert.ok(b.runs <= 2);
    }
    assert.ok(
      ag.batchSizes.some((bs) => bs.some((b) => b.runs === 2)),
      `seed ${seed}: seeds pooled somewhere`,
    );
    assert.ok(
      ag.spreadMedian >= 1 && ag.spreadMax <= 1.3,
      `seed ${seed}: equal noise scales: spread median ${ag.spreadMedian.toFixed(3)}, worst ${ag.spreadMax.toFixed(3)}`,
    );
    // batch 512 measures 3x the noise scale: the spread shows it wherever 512 is kept beside another batch size
    const off = seeded(seed, (b) => (b === 512 ? 3 : 1));
    const bad = noiseAgreement(off, analysisOf())!;
    assert.ok(bad.spreadMax >= 2.4, `seed ${seed}: 3x at batch 512: worst spread ${bad.spreadMax.toFixed(2)}`);
  }
  assert.equal(noiseAgreement(records({ g: 0, t: 0 }), { levels: levels.slice(0, 1), curves: [] } as unknown as BcritAnalysis), null, 'one ok level: no check');
});
