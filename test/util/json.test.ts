// The one canonical-JSON writer: key order never matters, JSON's own rules otherwise; and run ids (which hash it)
// are the ones the code gave before the merge of the two writers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../../src/util/json.ts';
import { parseRunConfig, runId, runName, type RunConfigInput } from '../../src/train/config.ts';

test('keys sorted at every level, arrays kept in order, no whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  assert.equal(canonicalJson({ B: 1, a: 2, _: 3 }), '{"B":1,"_":3,"a":2}'); // UTF-16 code-unit order
});

test('JSON rules: undefined members dropped, undefined elements and non-finite numbers null, toJSON honoured', () => {
  assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
  assert.equal(canonicalJson([undefined, NaN, Infinity, 1]), '[null,null,null,1]');
  assert.equal(canonicalJson({ when: new Date(0) }), '{"when":"1970-01-01T00:00:00.000Z"}');
  assert.equal(canonicalJson('x'), '"x"');
});

// [input, run name, run id] computed with train/config.ts as it was before (commit 3d1c089, its own canonical())
const BEFORE: [RunConfigInput, string, string][] = [
  [{ depth: 2, tokens: 1000000 }, 'd2-b32-s0-t1M', 'd2-b32-s0-t1M-1b68fcf4'],
  [{ depth: 1, batch: 8, steps: 500 }, 'd1-b8-s0-n500', 'd1-b8-s0-n500-ae686ddd'],
  [{ nLayer: 1, dModel: 32, nHead: 1, tokens: 250000, lr: 0.003, seed: 4 }, 'L1-d32-h1-b32-s4-t250k-lr3e-3', 'L1-d32-h1-b32-s4-t250k-lr3e-3-217141ac'],
  [
    { depth: 3, batch: 64, microBatch: 16, tokens: 123456789, lr: 0.00123456, schedule: 'wsd', evalSchedule: 'log', evals: 12, divergeLoss: 9.5 },
    'd3-b64-s0-t123M-lr1.23e-3',
    'd3-b64-s0-t123M-lr1.23e-3-01ee5279',
  ],
  [
    { depth: 2, tokens: 2500000000000, lr: 0.0009995, corpus: 'tiny', tokenizer: 'bpe-4096' },
    'd2-b32-s0-t2500G-lr9.99e-4',
    'd2-b32-s0-t2500G-lr9.99e-4-c1189b14',
  ],
  [{ depth: 1, tokens: 999999, lr: 0.0015, warmupSteps: 0 }, 'd1-b32-s0-t1000k-lr1.5e-3', 'd1-b32-s0-t1000k-lr1.5e-3-c769235f'],
];

test('run ids and names are unchanged for fixed configs', () => {
  for (const [input, name, id] of BEFORE) {
    const c = parseRunConfig(input);
    assert.equal(runName(c), name);
    assert.equal(runId(c), id);
  }
});
