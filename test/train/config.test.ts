// The run config: defaults, validation errors that name the field, ids stable under key order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOG_EVALS, evalSteps, parseRunConfig, runId, runName, totalSteps, modelShape } from '../../src/train/config.ts';

test('defaults fill in and the name reads like d2-b32-s0-t1M', () => {
  const c = parseRunConfig({ depth: 2, tokens: 1_000_000 });
  assert.equal(c.context, 64);
  assert.equal(c.microBatch, 32);
  assert.equal(runName(c), 'd2-b32-s0-t1M');
  assert.deepEqual(modelShape(c), { nLayer: 2, dModel: 128, nHead: 2 });
  assert.equal(totalSteps(c), Math.ceil(1_000_000 / (32 * 64)));
});

test('the id is stable under key order and changes with any measured field', () => {
  const a = runId(parseRunConfig({ depth: 1, tokens: 100_000, lr: 3e-3 }));
  const b = runId(parseRunConfig({ lr: 3e-3, tokens: 100_000, depth: 1 }));
  const c = runId(parseRunConfig({ depth: 1, tokens: 100_000, lr: 2e-3 }));
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.match(a, /^d1-b32-s0-t100k-lr3e-3-[0-9a-f]{8}$/);
  assert.equal(runName(parseRunConfig({ depth: 1, tokens: 1e6, lr: 0.0014142135623730952 })), 'd1-b32-s0-t1M-lr1.41e-3');
  assert.equal(runName(parseRunConfig({ nLayer: 2, dModel: 96, nHead: 2, tokens: 1e6 })), 'L2-d96-h2-b32-s0-t1M');
  assert.equal(runName(parseRunConfig({ depth: 1, steps: 500, batch: 8 })), 'd1-b8-s0-n500');
  assert.equal(runName(parseRunConfig({ depth: 1, tokens: 1_500_000 })), 'd1-b32-s0-t1.5M');
});

test('impossible configs are errors that say what to do', () => {
  assert.throws(() => parseRunConfig({ depth: 1, batch: 32, microBatch: 5, tokens: 1e6 }), /does not divide batch size 32/);
  assert.throws(() => parseRunConfig({ depth: 1, tokens: 100 }), /smaller than one step/);
  assert.throws(() => parseRunConfig({ depth: 1 }), /exactly one budget/);
  assert.throws(() => parseRunConfig({ tokens: 1e6 }), /no model size/);
  assert.throws(() => parseRunConfig({ depth: 1, nLayer: 2, tokens: 1e6 }), /both --depth/);
  assert.throws(() => parseRunConfig({ depth: 1.5, tokens: 1e6 }), /depth/);
  assert.throws(() => parseRunConfig({ depth: 1, tokens: 1e6, bogus: 1 }), /bogus|Unrecognized/);
});

test('ids of configs without the eval-schedule fields are what they were before those fields existed', () => {
  // computed by the config.ts of commit 26b5ee5, before evalSchedule/evals: they are optional with no default
  assert.equal(
    runId(parseRunConfig({ depth: 1, batch: 8, tokens: 1_500_000, schedule: 'constant', warmupSteps: 20, evalInterval: 20, microBatch: 2, lr: 7.071e-4 })),
    'd1-b8-s0-t1.5M-lr7.07e-4-f5598fa4',
  );
  assert.equal(runId(parseRunConfig({ nLayer: 1, nHead: 1, dModel: 32, tokens: 250000, lr: 3e-3 })), 'L1-d32-h1-b32-s0-t250k-lr3e-3-2bf732e0');
  const log = parseRunConfig({ depth: 1, tokens: 250000, evalSchedule: 'log' });
  assert.notEqual(runId(log), runId(parseRunConfig({ depth: 1, tokens: 250000 })));
  assert.notEqual(runId(log), runId(parseRunConfig({ depth: 1, tokens: 250000, evalSchedule: 'log', evals: 30 })));
});

test('the interval eval schedule: every evalInterval steps and the last', () => {
  assert.deepEqual(evalSteps(parseRunConfig({ depth: 1, steps: 23, evalInterval: 5 })), [5, 10, 15, 20, 23]);
  assert.deepEqual(evalSteps(parseRunConfig({ depth: 1, steps: 20, evalInterval: 5, evalSchedule: 'interval' })), [5, 10, 15, 20]);
});

test('the log eval schedule gives batch 8 and batch 256 at one token budget >= 30 evaluations each, first and last step included', () => {
  for (const tokens of [1_000_000, 1_500_000, 3_000_000]) {
    const counts: number[] = [];
    for (const batch of [8, 256]) {
      const c = parseRunConfig({ depth: 1, batch, tokens, evalSchedule: 'log' });
      const e = evalSteps(c);
      const steps = totalSteps(c);
      assert.ok(e.length >= 30, `batch ${batch}, ${tokens} tokens: ${e.length} evaluations`);
      assert.equal(e.length, DEFAULT_LOG_EVALS);
      assert.equal(e[0], 1);
      assert.equal(e.at(-1), steps, 'the last step is always evaluated');
      for (let i = 1; i < e.length; i++) assert.ok(e[i] > e[i - 1], `increasing and unique: ${e.join(' ')}`);
      // evenly spread in log(step) after the consecutive start: no gap in the second half wider than 1.5x the typical one
      const ratios = e
        .slice(e.length / 2)
        .map((s, i, a) => (i === 0 ? 1 : s / a[i - 1]))
        .slice(1);
      assert.ok(Math.max(...ratios) < 1.5 * Math.min(...ratios), `ratios ${ratios.map((r) => r.toFixed(3)).join(' ')}`);
      counts.push(e.length);
    }
    // the interval schedule gives them wildly different counts
    const interval = [8, 256].map((batch) => evalSteps(parseRunConfig({ depth: 1, batch, tokens, evalInterval: 20 })).length);
    assert.ok(interval[0] > 10 * interval[1], `interval: ${interval.join(' vs ')}`);
  }
  // --evals sets the count; a run shorter than that evaluates every step
  assert.equal(evalSteps(parseRunConfig({ depth: 1, steps: 1000, evalSchedule: 'log', evals: 60 })).length, 60);
  assert.deepEqual(evalSteps(parseRunConfig({ depth: 1, steps: 7, evalSchedule: 'log', evals: 10 })), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(evalSteps(parseRunConfig({ depth: 1, steps: 1, evalSchedule: 'log' })), [1]);
  assert.deepEqual(evalSteps(parseRunConfig({ depth: 1, steps: 100, evalSchedule: 'log', evals: 2 })), [1, 100]);
});

test('--evals without the log schedule is an error that says what to do', () => {
  assert.throws(() => parseRunConfig({ depth: 1, steps: 10, evals: 30 }), /--evals 30 is for the log eval schedule/);
  assert.throws(() => parseRunConfig({ depth: 1, steps: 10, evalSchedule: 'log', evals: 1 }), /evals/);
  assert.throws(() => parseRunConfig({ depth: 1, steps: 10, evalSchedule: 'tokens' }), /evalSchedule/);
});
