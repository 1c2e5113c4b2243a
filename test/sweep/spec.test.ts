// Sweep specs: validation with the path of the bad field, grid expansion, couplings (micro-batch, LR per batch size),
// dedup by run id, the sweep hash, the sweep record's refusal of a changed spec, and the plan's accounting.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeManifest, recordSweep, listSweeps } from '../../src/sweep/manifest.ts';
import { planSweep, formatPlan } from '../../src/sweep/plan.ts';
import { SweepSpecError, expandSweep, loadSweepSpec, parseSweepSpec, sweepHash } from '../../src/sweep/spec.ts';
import { runId, totalSteps } from '../../src/train/config.ts';
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
  assert.deepEqual(configs.map((c) => [c.depth, c.batch]), [[1, 4], [1, 8], [1, 16], [2, 4], [2, 8], [2, 16], [3, 8]]);
  assert.ok(configs.every((c) => c.context === 16 && c.tokenizer === 'byte' && c.steps === 20));
  assert.equal(new Set(configs.map(runId)).size, 7);
});

test('duplicate runs (same config, same id) are expanded once', () => {
  const spec = parseSweepSpec({ name: 'd', base: TINY_BASE, axes: { seed: [0, 1] }, runs: [{ seed: 1 }, { seed: 2 }] });
  assert.deepEqual(expandSweep(spec).map((c) => c.seed), [0, 1, 2]);
});

test('micro-batch coupling: the largest divisor <= max that leaves >= minSplits micro-batches', () => {
  const spec = parseSweepSpec({ name: 'm', base: { ...TINY_BASE, microBatch: undefined }, axes: { batch: [1, 4, 6, 8, 64, 512] }, couple: { microBatch: { max: 16, minSplits: 2 } } });
  assert.deepEqual(expandSweep(spec).map((c) => [c.batch, c.microBatch]), [[1, 1], [4, 2], [6, 3], [8, 4], [64, 16], [512, 16]]);
});

test('LR rule: base * (batch / ref)^power, clamped; scan crosses multipliers with every batch size', () => {
  const base = { ...TINY_BASE, microBatch: undefined, lr: undefined };
  const sqrt = expandSweep(parseSweepSpec({ name: 'l', base, axes: { batch: [2, 8, 32, 512] }, couple: { lr: { base: 1e-3, refBatch: 8, max: 5e-3, min: 6e-4 } } }));
  assert.deepEqual(sqrt.map((c) => c.lr), [6e-4, 1e-3, 2e-3, 5e-3]);
  const linear = expandSweep(parseSweepSpec({ name: 'l', base, axes: { batch: [4, 16] }, couple: { lr: { base: 1e-3, refBatch: 8, power: 1 } } }));
  assert.deepEqual(linear.map((c) => c.lr), [5e-4, 2e-3]);
  const scan = expandSweep(parseSweepSpec({ name: 'l', base, axes: { batch: [8, 32] }, couple: { lr: { base: 1e-3, refBatch: 8, scan: [0.5, 1, 2] } } }));
  assert.deepEqual(scan.map((c) => [c.batch, c.lr]), [[8, 5e-4], [8, 1e-3], [8, 2e-3], [32, 1e-3], [32, 2e-3], [32, 4e-3]]);
  // an explicit lr on an extra run wins over the rule
  const own = expandSweep(parseSweepSpec({ name: 'l', base, runs: [{ batch: 8, lr: 0.01 }], couple: { lr: { base: 1e-3, refBatch: 8 } } }));
  assert.deepEqual(own.map((c) => c.lr), [0.01]);
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
  specError(() => parseSweepSpec({ name: 'v', base: TINY_BASE, axes: { lr: [1e-3] }, couple: { lr: { base: 1e-3, refBatch: 8 } } }), /both an lr axis and an lr rule/);
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
  const store = mkdtempSync(join(tmp, 'manifest-'));
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
  assert.deepEqual((await listSweeps(store)).map((m) => m.name).sort(), ['rec', 'rec-2']);
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

test('every example spec parses and expands to the documented shape', async () => {
  const ex = (f: string) => loadSweepSpec(new URL(`../../examples/${f}`, import.meta.url).pathname);
  const scan = expandSweep(await ex('batch-scan-small.yaml'));
  assert.equal(scan.length, 16);
  assert.deepEqual([...new Set(scan.map((c) => c.depth))], [1, 2]);
  assert.ok(scan.every((c) => c.batch / c.microBatch! >= 2 && c.context === 64), 'noise probe needs >= 2 micro-batches');
  assert.ok(scan.every((c, i) => i % 8 === 0 || c.lr >= scan[i - 1].lr), 'LR rises with batch size');
  const paper = expandSweep(await ex('batch-scan-paper.yaml'));
  assert.deepEqual([...new Set(paper.map((c) => c.depth))], [4, 12]);
  assert.equal(paper.length, 2 * 8 * 3);
  const grid = expandSweep(await ex('size-data-small.yaml'));
  assert.equal(grid.length, 12);
  const big = expandSweep(await ex('size-data-paper.yaml'));
  assert.deepEqual([...new Set(big.map((c) => c.depth))], [4, 6, 8, 12]);
  assert.equal(big.length, 18);
});
