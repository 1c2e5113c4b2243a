// The run config: defaults, validation errors that name the field, ids stable under key order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunConfig, runId, runName, totalSteps, modelShape } from '../../src/train/config.ts';

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
