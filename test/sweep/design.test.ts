// sweep/design.ts: designed IsoFLOP and batch-scan specs. The designed runs' FLOPs lie within the stated tolerance of
// their budgets, the sizes bracket the prior optimum, and the output is a sweep spec parseSweepSpec accepts and expands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import YAML from 'yaml';
import { designBatchScan, designIsoFlop, designToYaml, ISOFLOP_TOLERANCE, kaplanN, shapeFor, shapeForDepth } from '../../src/sweep/design.ts';
import { expandSweep, parseSweepSpec } from '../../src/sweep/spec.ts';
import { modelShape, totalSteps } from '../../src/train/config.ts';
import { flopsPerToken, paramCounts } from '../../src/engine/config.ts';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;

test('shapeFor: Kaplan N = 12 n_layer d_model^2 near the target, on the depth dial where it lands there', () => {
  assert.deepEqual(shapeFor(49152), { nLayer: 1, dModel: 64, nHead: 1, n: 49152, depth: 1 });
  assert.equal(shapeFor(393216).depth, 2);
  for (const target of [5e3, 3e4, 2e5, 1e6, 5e6]) {
    const s = shapeFor(target);
    assert.equal(s.n, kaplanN(s.nLayer, s.dModel));
    // the engine's own count agrees
    assert.equal(paramCounts({ nLayer: s.nLayer, dModel: s.dModel, nHead: s.nHead, vocab: 256, context: 64 }).kaplan, s.n);
    assert.equal(s.dModel % s.nHead, 0);
    assert.ok(Math.abs(Math.log(s.n / target)) < Math.log(1.6), `${target}: ${JSON.stringify(s)}`);
  }
});

test('IsoFLOP design: FLOPs within the tolerance of each budget, sizes bracket the prior optimum, a valid spec', () => {
  const budgets = [1e11, 1e12, 1e13];
  const d = designIsoFlop({ budgets, sizesPerBudget: 5, tokensPerParam: 20 });
  for (const c of budgets) {
    const runs = d.runs.filter((r) => r.budget === c);
    assert.ok(runs.length >= 4, `C ${c}: ${runs.length} sizes`);
    // C = 6 N D, N Kaplan's count: within the stated tolerance (the rounding to whole steps)
    for (const r of runs) assert.ok(Math.abs(r.flops / c - 1) <= ISOFLOP_TOLERANCE, `C ${c}: ${r.flops}`);
    // the prior optimum N* = sqrt(C / (6 x 20)) lies strictly inside the sizes
    const nStar = Math.sqrt(c / 120);
    const ns = runs.map((r) => r.shape.n);
    assert.ok(Math.min(...ns) < nStar && nStar < Math.max(...ns), `C ${c}: N* ${nStar} vs ${ns}`);
    assert.equal(new Set(ns).size, ns.length, 'distinct sizes');
  }
  // the spec parses and expands to exactly these runs, each config spending its budget
  const text = designToYaml(d, 'test');
  const spec = parseSweepSpec(YAML.parse(text));
  assert.equal(spec.purpose, 'size-data');
  const configs = expandSweep(spec);
  assert.equal(configs.length, d.runs.length);
  configs.forEach((cfg, i) => {
    const m = modelShape(cfg);
    const tokens = totalSteps(cfg) * cfg.batch * cfg.context;
    assert.equal(tokens, d.runs[i].tokens);
    // the FLOPs the trainer will log for this run (train/run.ts: tokens x flopsPerToken().kaplan), so the IsoFLOP
    // analysis finds the budgets in the runs' own FLOPs
    const logged = tokens * flopsPerToken({ ...m, vocab: 256, context: cfg.context }).kaplan;
    assert.ok(Math.abs(logged / d.runs[i].budget - 1) <= ISOFLOP_TOLERANCE, `run ${i}: logs ${logged} FLOPs for budget ${d.runs[i].budget}`);
  });
  // budgets too small for 20 steps: refused with a hint
  assert.throws(() => designIsoFlop({ budgets: [1e6] }), /too small for any run/);
  assert.throws(() => designIsoFlop({ budgets: [-1] }), /positive FLOP budgets/);
});

test('IsoFLOP design with --n-layer and --lr-width-power: one layer count, a width ladder, LR = base.lr x (64 / d_model)^p', () => {
  // the ladder: steps of 4 below 32, 8 below 64, 16 above; one head up to width 64
  assert.deepEqual(shapeForDepth(12 * 10 * 10, 1), { nLayer: 1, dModel: 12, nHead: 1, n: 1728 });
  assert.deepEqual(shapeForDepth(12 * 45 * 45, 1), { nLayer: 1, dModel: 48, nHead: 1, n: 27648 });
  assert.deepEqual(shapeForDepth(12 * 2 * 128 * 128, 2), { nLayer: 2, dModel: 128, nHead: 2, n: 393216, depth: 2 });
  assert.equal(shapeForDepth(1, 1).dModel, 8, 'no width below 8');
  const d = designIsoFlop({ budgets: [3e10, 1e11, 3e11], tokensPerParam: 400, nLayer: 1, lrWidthPower: 1, base: { lr: 3e-3, batch: 16 } });
  for (const c of [3e10, 1e11, 3e11]) {
    const runs = d.runs.filter((r) => r.budget === c);
    assert.ok(runs.length >= 4, `C ${c}: ${runs.length} sizes`);
    assert.ok(runs.every((r) => r.shape.nLayer === 1));
    assert.equal(new Set(runs.map((r) => r.shape.dModel)).size, runs.length, 'distinct widths');
    for (const r of runs) {
      assert.ok(Math.abs(r.flops / c - 1) <= ISOFLOP_TOLERANCE);
      assert.equal(r.lr, Number(((3e-3 * 64) / r.shape.dModel).toPrecision(3)), `d ${r.shape.dModel}: lr ${r.lr}`);
    }
  }
  const configs = expandSweep(parseSweepSpec(YAML.parse(designToYaml(d, 'test'))));
  configs.forEach((cfg, i) => assert.equal(cfg.lr, d.runs[i].lr));
  assert.match(d.notes.join(' '), /x \(64 \/ d_model\)\^1/);
  // without the power every run takes base.lr (no lr key per run)
  assert.ok(designIsoFlop({ budgets: [1e11], nLayer: 1 }).runs.every((r) => r.lr === undefined));
  assert.throws(() => designIsoFlop({ budgets: [1e11], nLayer: 0 }), /--n-layer takes a whole number/);
});

test('batch-scan design: a batch ladder with budgets growing as 1 + B/guess and an LR envelope, as a valid spec', () => {
  const d = designBatchScan({ depths: [1, 2], batches: [8, 32, 128], tokens: 600000 });
  const spec = parseSweepSpec(YAML.parse(designToYaml(d, 'test')));
  assert.equal(spec.purpose, 'batch-scan');
  const configs = expandSweep(spec);
  // 2 depths x 3 batches x 3 LRs
  assert.equal(configs.length, 18);
  for (const depth of [1, 2]) {
    const at = (b: number) => configs.find((c) => c.depth === depth && c.batch === b)!;
    // tokens ~ 600000 (1 + B/24)/(1 + 8/24), to whole steps
    for (const b of [8, 32, 128]) assert.ok(Math.abs(totalSteps(at(b)) * b * 64 - (600000 * (1 + b / 24)) / (1 + 8 / 24)) <= b * 64);
    // the LR envelope: 3 LRs per batch size, centred on 2.5e-3 (B/64)^0.5
    for (const b of [8, 32, 128]) {
      const lrs = configs
        .filter((c) => c.depth === depth && c.batch === b)
        .map((c) => c.lr)
        .sort((x, y) => x - y);
      const centre = 2.5e-3 * (b / 64) ** 0.5;
      assert.deepEqual(
        lrs.map((x) => +(x / centre).toFixed(2)),
        [0.5, 1, 2],
      ); // expandSweep rounds LRs to 4 figures
    }
  }
  for (const c of configs) assert.equal(c.schedule, 'constant');
});

test('sweep --design prints a spec; without --budgets or a spec it says what is missing', () => {
  const r = spawnSync(process.execPath, [bin, 'sweep', '--design', 'isoflop', '--budgets', '1e11,1e12', '--sizes-per-budget', '3'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const spec = parseSweepSpec(YAML.parse(r.stdout));
  assert.ok(spec.runs.length >= 5);
  assert.match(r.stdout, /^# written by: scaling-lab sweep --design isoflop/);
  const none = spawnSync(process.execPath, [bin, 'sweep', '--design', 'isoflop'], { encoding: 'utf8' });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--design isoflop needs --budgets/);
  const bad = spawnSync(process.execPath, [bin, 'sweep', '--design', 'isoflop', '--budgets', '1e11,x'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--budgets takes positive numbers/);
});
