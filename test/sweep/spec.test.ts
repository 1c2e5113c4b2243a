// Sweep specs: validation with the path of the bad field, grid expansion, couplings (micro-batch, LR per batch size),
// dedup by run id, the sweep hash, the sweep record's refusal of a changed spec, and the plan's accounting.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/store.ts';
import { recordSweep } from '../../src/sweep/executor.ts';
import { planSweep, formatPlan } from '../../src/sweep/plan.ts';
import { SweepSpecError, expandSweep, loadSweepSpec, makeManifest, parseSweepSpec, sweepHash } from '../../src/sweep/spec.ts';
import { evalSteps, runId, totalSteps, type RunConfig } from '../../src/train/config.ts';
import { flopsPerToken, fromDepth } from '../../src/engine/index.ts';
import { TINY_BASE, tmp } from './fixtures.ts';

function specError(fn: () => unknown, pattern: RegExp): SweepSpecError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SweepSpecError, `expected SweepSpecError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(err.hint.length > 10);
    return err;
  }
  return assert.fail(`expected an error matching ${pattern}`);
}

test('the grid is the cross product of the axes over the base, last axis fastest, plus the extra runs', () => {
  const spec = parseSweepSpec({ name: 'g', base: TINY_BASE, axes: { depth: [1, 2], batch: [4, 8, 16] }, runs: [{ depth: 3, batch: 8 }] });
  const configs = expandSweep(spec);
  assert.deepEqual(
    configs.map((c) => [c.depth, c.batch]),
    [
      [1, 4],
      [1, 8],
      [1, 16],
      [2, 4],
      [2, 8],
      [2, 16],
      [3, 8],
    ],
  );
  assert.ok(configs.every((c) => c.context === 16 && c.tokenizer === 'byte' && c.steps === 20));
  assert.equal(new Set(configs.map(runId)).size, 7);
});

test('duplicate runs (same config, same id) are expanded once', () => {
  const spec = parseSweepSpec({ name: 'd', base: TINY_BASE, axes: { seed: [0, 1] }, runs: [{ seed: 1 }, { seed: 2 }] });
  assert.deepEqual(
    expandSweep(spec).map((c) => c.seed),
    [0, 1, 2],
  );
});

test('micro-batch coupling: the largest divisor <= max that leaves >= minSplits micro-batches', () => {
  const spec = parseSweepSpec({
    name: 'm',
    base: { ...TINY_BASE, microBatch: undefined },
    axes: { batch: [1, 4, 6, 8, 64, 512] },
    couple: { microBatch: { max: 16, minSplits: 2 } },
  });
  assert.deepEqual(
    expandSweep(spec).map((c) => [c.batch, c.microBatch]),
    [
      [1, 1],
      [4, 2],
      [6, 3],
      [8, 4],
      [64, 16],
      [512, 16],
    ],
  );
});

test('LR rule: base * (batch / ref)^power, clamped; scan crosses multipliers with every batch size', () => {
  const base = { ...TINY_BASE, microBatch: undefined, lr: undefined };
  const sqrt = expandSweep(
    parseSweepSpec({ name: 'l', base, axes: { batch: [2, 8, 32, 512] }, couple: { lr: { base: 1e-3, refBatch: 8, max: 5e-3, min: 6e-4 } } }),
  );
  assert.deepEqual(
    sqrt.map((c) => c.lr),
    [6e-4, 1e-3, 2e-3, 5e-3],
  );
  const linear = expandSweep(parseSweepSpec({ name: 'l', base, axes: { batch: [4, 16] }, couple: { lr: { base: 1e-3, refBatch: 8, power: 1 } } }));
  assert.deepEqual(
    linear.map((c) => c.lr),
    [5e-4, 2e-3],
  );
  const scan = expandSweep(parseSweepSpec({ name: 'l', base, axes: { batch: [8, 32] }, couple: { lr: { base: 1e-3, refBatch: 8, scan: [0.5, 1, 2] } } }));
  assert.deepEqual(
    scan.map((c) => [c.batch, c.lr]),
    [
      [8, 5e-4],
      [8, 1e-3],
      [8, 2e-3],
      [32, 1e-3],
      [32, 2e-3],
      [32, 4e-3],
    ],
  );
  // an explicit lr on an extra run wins over the rule
  const own = expandSweep(parseSweepSpec({ name: 'l', base, runs: [{ batch: 8, lr: 0.01 }], couple: { lr: { base: 1e-3, refBatch: 8 } } }));
  assert.deepEqual(
    own.map((c) => c.lr),
    [0.01],
  );
  // a list of rules: each run takes the first rule whose `where` matches its config (defaults included)
  const rules = [
    { base: 4e-3, refBatch: 8, power: 0, scan: [1, 2], where: { depth: 2 } },
    { base: 1e-3, refBatch: 8, power: 0 },
  ];
  const byDepth = expandSweep(
    parseSweepSpec({
      name: 'l',
      base: { ...base, depth: undefined },
      axes: { depth: [1, 2] },
      runs: [{ nLayer: 2, dModel: 64, nHead: 1 }],
      couple: { lr: rules },
    }),
  );
  assert.deepEqual(byDepth.map((c) => [c.depth ?? null, c.nLayer ?? null, c.lr]).slice(0, 3), [
    [1, null, 1e-3],
    [2, null, 4e-3],
    [2, null, 8e-3],
  ]);
  assert.equal(byDepth.length, 4, 'a run that sets nLayer but not depth matches no depth rule: the catch-all');
  specError(
    () => parseSweepSpec({ name: 'l', base, couple: { lr: [{ base: 1e-3, refBatch: 8, where: { dept: 2 } }] } }),
    /couple\.lr\[0\]\.where\.dept: unknown key/,
  );
  specError(() => parseSweepSpec({ name: 'l', base, couple: { lr: { base: 1e-3, refBatch: 8, where: { depth: 'two' } } } }), /couple\.lr\.where\.depth/);
});

test('an unknown axis is an error that names it and lists the valid keys', () => {
  const e = specError(() => parseSweepSpec({ name: 'u', base: TINY_BASE, axes: { batchSize: [8, 16] } }), /axes\.batchSize: unknown axis 'batchSize'/);
  assert.match(e.message, /depth, nLayer/);
  specError(() => parseSweepSpec({ name: 'u', base: { ...TINY_BASE, learningRate: 1 } }), /base\.learningRate: unknown key/);
});

test('bad values name the path of the field', () => {
  specError(() => parseSweepSpec({ name: 'v', base: TINY_BASE, axes: { batch: [8, 0, 16] } }), /axes\.batch\[1\]: .*got 0/);
  specError(() => parseSweepSpec({ name: 'v', base: TINY_BASE, runs: [{}, { depth: 'two' }] }), /runs\[1\]\.depth/);
  specError(() => parseSweepSpec({ name: 'v', base: TINY_BASE, couple: { lr: { base: -1, refBatch: 8 } } }), /couple\.lr\.base/);
  specError(() => parseSweepSpec({ name: 'has space', base: TINY_BASE }), /^invalid sweep spec:\n  name: /);
  specError(() => parseSweepSpec({ name: 'v', base: TINY_BASE, axess: {} }), /axess/);
  specError(
    () => parseSweepSpec({ name: 'v', base: TINY_BASE, axes: { lr: [1e-3] }, couple: { lr: { base: 1e-3, refBatch: 8 } } }),
    /both an lr axis and an lr rule/,
  );
});

test('an empty grid is an error: an axis with no values, or nothing at all', () => {
  specError(() => parseSweepSpec({ name: 'e', base: TINY_BASE, axes: { batch: [] } }), /axes\.batch: no values, so the grid is empty/);
  specError(() => expandSweep(parseSweepSpec({ name: 'e' })), /empty grid/);
});

test('a run the grid makes invalid names the grid point', () => {
  const spec = parseSweepSpec({ name: 'x', base: TINY_BASE, axes: { batch: [8, 6] } }); // micro-batch 4 does not divide 6
  specError(() => expandSweep(spec), /run \{"batch":6\} is not a valid run: micro-batch 4 does not divide batch size 6/);
});

test('the sweep hash ignores order and formatting, and changes with what is trained', () => {
  const a = parseSweepSpec({ name: 'h', base: TINY_BASE, axes: { seed: [0, 1], depth: [1, 2] } });
  const b = parseSweepSpec({ name: 'h', axes: { depth: [2, 1], seed: [1, 0] }, base: { ...TINY_BASE } });
  const c = parseSweepSpec({ name: 'h', base: TINY_BASE, axes: { seed: [0, 1, 2], depth: [1, 2] } });
  assert.equal(sweepHash(a), sweepHash(b));
  assert.notEqual(sweepHash(a), sweepHash(c));
});

test('the sweep record refuses a changed spec under the same name (a new name is a new sweep)', async () => {
  const store = await openStore(mkdtempSync(join(tmp, 'manifest-')));
  const a = parseSweepSpec({ name: 'rec', base: TINY_BASE, axes: { seed: [0, 1] } });
  const first = await recordSweep(store, makeManifest(a, expandSweep(a)));
  assert.equal(first.created, true);
  const again = await recordSweep(store, makeManifest(a, expandSweep(a)));
  assert.equal(again.created, false);
  const changed = parseSweepSpec({ name: 'rec', base: TINY_BASE, axes: { seed: [0, 1, 2] } });
  await assert.rejects(recordSweep(store, makeManifest(changed, expandSweep(changed))), (err: SweepSpecError) => {
    assert.match(err.message, /sweep 'rec' .* different spec .* 1 runs added, 0 removed\): refused/);
    assert.match(err.hint, /new name/);
    return true;
  });
  const renamed = parseSweepSpec({ name: 'rec-2', base: TINY_BASE, axes: { seed: [0, 1, 2] } });
  assert.equal((await recordSweep(store, makeManifest(renamed, expandSweep(renamed)))).created, true);
  assert.deepEqual((await store.listSweeps()).map((m) => m.name).sort(), ['rec', 'rec-2']);
  await store.close();
});

test('the plan counts tokens and FLOPs with the engine accounting, and a probe gives an estimate', async () => {
  const spec = parseSweepSpec({ name: 'p', base: TINY_BASE, axes: { depth: [1, 2] } });
  const configs = expandSweep(spec);
  const plan = await planSweep(spec, configs, { probeSteps: 1, threads: 1, workers: 2 });
  const fpt = flopsPerToken(fromDepth(2, { vocab: 256, context: 16 })).kaplan;
  assert.equal(plan.runs[1].tokens, 20 * 8 * 16);
  assert.equal(plan.runs[1].flops, 20 * 8 * 16 * fpt);
  assert.equal(plan.totalTokens, 2 * 20 * 8 * 16);
  assert.equal(plan.probes.length, 2);
  assert.ok(plan.probes.every((p) => p.secondsPerMicroStep > 0 && p.secondsPerMicroStep < 5));
  const expected = plan.runs.reduce((a, r) => a + r.estimatedSeconds!, 0) / 2;
  assert.ok(Math.abs(plan.estimatedSeconds! - expected) < 1e-9);
  assert.equal(plan.runs[0].estimatedSeconds, plan.probes[0].secondsPerMicroStep * totalSteps(configs[0]) * 2);
  const text = formatPlan(plan, new Map([[plan.runs[0].id, 'done']]));
  assert.match(text, /sweep p \(free\): 2 runs/);
  assert.match(text, /estimated time: .* on 2 worker\(s\), .* for the 1 runs not finished/);
});

test('a plan without the probe (probe: false, for a dry run) loads no kernels, trains nothing and has no estimate', async () => {
  const spec = parseSweepSpec({ name: 'np', base: TINY_BASE, axes: { depth: [1, 2] } });
  const configs = expandSweep(spec);
  // threads 0 is refused by loadKernels: the probe's first act, so a plan that gets past it built no model
  await assert.rejects(planSweep(spec, configs, { probeSteps: 1, threads: 0 }), /threads must be an integer/);
  const plan = await planSweep(spec, configs, { probe: false, noProbeReason: '--dry-run', probeSteps: 1, threads: 0, workers: 2 });
  assert.deepEqual(plan.probes, []);
  assert.equal(plan.estimatedSeconds, undefined);
  assert.ok(plan.runs.every((r) => r.estimatedSeconds === undefined));
  assert.equal(plan.totalTokens, 2 * 20 * 8 * 16, 'the accounting is the same without the probe');
  assert.equal(plan.notProbed, '--dry-run');
  const text = formatPlan(plan);
  assert.match(text, /estimated time: not probed \(--dry-run\), so unknown/);
  assert.doesNotMatch(text, /^probe: /m);
  assert.match(formatPlan(await planSweep(spec, configs, { probe: false })), /not probed \(no probe\)/);
  assert.match(formatPlan(await planSweep(spec, configs, { probeSteps: 0 })), /not probed \(--probe-steps 0\)/);
});

test("the plan shows each batch size's LR envelope and seeds, and each run's eval count", async () => {
  const base = { ...TINY_BASE, microBatch: undefined, lr: undefined, evalSchedule: 'log', evals: 12 };
  const spec = parseSweepSpec({
    name: 'env',
    purpose: 'batch-scan',
    base,
    axes: { batch: [4, 8] },
    runs: [{ batch: 8, seed: 1 }],
    couple: { lr: { base: 1e-3, refBatch: 4, scan: [0.5, 1, 2] } },
  });
  const configs = expandSweep(spec);
  assert.equal(configs.length, 9);
  const text = formatPlan(await planSweep(spec, configs, { probeSteps: 0 }));
  assert.match(text, /LRs and seeds per model and batch size/);
  assert.match(text, /d1 +batch 4: 3 LRs 5e-4 1e-3 2e-3 +x +1 seed +0 +\(3 runs\)/);
  assert.match(text, /d1 +batch 8: 3 LRs 7\.07e-4 1\.41e-3 2\.83e-3 +x +2 seeds 0 1 +\(6 runs\)/);
  assert.match(text, / seed +steps +evals /);
  assert.match(text, / 20 +12 log /);
  // a plan with one LR and one seed per batch size has no such lines
  const plain = parseSweepSpec({ name: 'p', base: TINY_BASE, axes: { batch: [4, 8] } });
  assert.doesNotMatch(formatPlan(await planSweep(plain, expandSweep(plain), { probeSteps: 0 })), /LRs and seeds/);
});

test('every example spec parses and expands to the documented shape', async () => {
  const ex = (f: string) => loadSweepSpec(new URL(`../../examples/${f}`, import.meta.url).pathname);
  // every batch-size scan: log-spaced evals, >= 3 LRs per (model, batch size, seed) spanning 4x, 2 seeds somewhere
  const scanShape = (configs: RunConfig[], what: string) => {
    assert.ok(
      configs.every((c) => c.evalSchedule === 'log' && evalSteps(c).length >= 30),
      `${what}: log evals, >= 30 per run`,
    );
    assert.ok(
      configs.every((c) => c.batch / c.microBatch! >= 2),
      `${what}: noise probe needs >= 2 micro-batches`,
    );
    const groups = new Map<string, number[]>();
    for (const c of configs) groups.set(`${c.depth}/${c.batch}/${c.seed}`, [...(groups.get(`${c.depth}/${c.batch}/${c.seed}`) ?? []), c.lr]);
    for (const [key, lrs] of groups) {
      assert.ok(lrs.length >= 3, `${what} ${key}: ${lrs.length} LRs`);
      assert.ok(Math.abs(Math.max(...lrs) / Math.min(...lrs) / 4 - 1) < 1e-3, `${what} ${key}: LRs ${lrs.join(' ')}`);
    }
    const seeded = [...groups.keys()].filter((k) => k.endsWith('/1'));
    assert.ok(seeded.length >= 1 && seeded.every((k) => groups.has(k.replace(/\/1$/, '/0'))), `${what}: seed 1 beside seed 0 at some batch sizes`);
    return seeded;
  };
  const scan = expandSweep(await ex('batch-scan-small.yaml'));
  assert.equal(scan.length, (2 * 6 + 4) * 3);
  assert.deepEqual([...new Set(scan.map((c) => c.depth))], [1, 2]);
  assert.ok(scan.every((c) => c.context === 64));
  assert.deepEqual(scanShape(scan, 'batch-scan-small'), ['1/16/1', '1/64/1', '2/16/1', '2/64/1']);
  const paper = expandSweep(await ex('batch-scan-paper.yaml'));
  assert.deepEqual([...new Set(paper.map((c) => c.depth))], [4, 12]);
  assert.equal(paper.length, (2 * 8 + 2) * 3);
  assert.deepEqual(scanShape(paper, 'batch-scan-paper'), ['4/32/1', '4/128/1']);
  // the demo's scans (examples/demo): budgets grow with the batch size, so large batches get past the plateau too
  const demo = expandSweep(await ex('demo/scan.yaml'));
  assert.equal(demo.length, 13 * 3);
  assert.deepEqual(scanShape(demo, 'demo scan'), ['1/64/1', '1/16/1']);
  for (const depth of [1, 2]) {
    const runs = demo.filter((c) => c.depth === depth && c.seed === 0).sort((a, b) => a.batch - b.batch);
    assert.ok(
      runs.every((c, i) => i === 0 || c.tokens! >= runs[i - 1].tokens!),
      `depth ${depth}: budgets grow with the batch size`,
    );
    assert.ok(
      runs.every((c) => totalSteps(c) >= 150),
      `depth ${depth}: every run >= 150 steps (past warm-up and the early plateau)`,
    );
  }
  const quick = expandSweep(await ex('demo/quick-scan.yaml'));
  assert.equal(quick.length, 6 * 3);
  assert.deepEqual(scanShape(quick, 'demo quick scan'), ['1/32/1']);
  const grid = expandSweep(await ex('size-data-small.yaml'));
  assert.equal(grid.length, 12);
  const big = expandSweep(await ex('size-data-paper.yaml'));
  assert.deepEqual([...new Set(big.map((c) => c.depth))], [4, 6, 8, 12]);
  assert.equal(big.length, 18);
});
