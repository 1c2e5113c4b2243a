// The sampler: a batch is a pure function of (seed, step, micro), targets are inputs shifted by one,
// evaluation windows ignore the run's seed, and a corpus smaller than one window fails with a hint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchSampler, sampleBatch, evalBatches, evalOffsets } from '../../src/data/sampler.ts';
import { SamplerError } from '../../src/data/errors.ts';

const tokens = Uint16Array.from({ length: 5000 }, (_, i) => (i * 31 + 7) % 4096);

test('the same (seed, step, micro) always gives the same batch, from a fresh sampler too (resume)', () => {
  const s = new BatchSampler(tokens, 4, 16, 1234);
  const a = s.batch(10, 0);
  s.batch(11, 0);
  s.batch(11, 1);
  const again = s.batch(10, 0);
  assert.deepEqual(again.inputs, a.inputs);
  assert.deepEqual(sampleBatch(tokens, 4, 16, 1234, 10, 0).targets, a.targets, 'a new sampler after a "restart"');
  assert.notDeepEqual(s.batch(10, 1).inputs, a.inputs, 'micro-batches differ');
  assert.notDeepEqual(s.batch(11, 0).inputs, a.inputs, 'steps differ');
  assert.notDeepEqual(new BatchSampler(tokens, 4, 16, 99).batch(10, 0).inputs, a.inputs, 'seeds differ');
});

test('inputs are contiguous windows and targets are the next tokens', () => {
  const s = new BatchSampler(tokens, 8, 32, 5);
  for (let step = 0; step < 50; step++) {
    const offs = s.offsets(step);
    const b = s.batch(step);
    offs.forEach((off, i) => {
      assert.ok(off >= 0 && off + 32 < tokens.length);
      for (let t = 0; t < 32; t++) {
        assert.equal(b.inputs[i * 32 + t], tokens[off + t]);
        assert.equal(b.targets[i * 32 + t], tokens[off + t + 1]);
      }
    });
  }
  const out = { B: 8, T: 32, inputs: new Int32Array(256), targets: new Int32Array(256) };
  assert.equal(s.batch(3, 0, out), out, 'fills a caller buffer');
});

test('evaluation windows are fixed by the test tokens and T alone, evenly spread', () => {
  const offs = evalOffsets(tokens, 64, 16);
  assert.equal(offs.length, 16);
  assert.deepEqual(evalOffsets(tokens, 64, 16), offs);
  for (let i = 1; i < offs.length; i++) assert.ok(offs[i] - offs[i - 1] >= 64, 'non-overlapping');
  assert.ok(offs[offs.length - 1] > tokens.length * 0.8, 'reaches the end of the split');
  const batches = evalBatches(tokens, 5, 64, 16);
  assert.deepEqual(
    batches.map((b) => b.B),
    [5, 5, 5, 1],
  );
  assert.equal(batches[3].inputs[0], tokens[offs[15]]);
  const all = evalOffsets(tokens, 1000);
  assert.deepEqual(all, [0, 1000, 2000, 3000], 'all windows when fewer than asked');
});

test('a split smaller than one window is an error with a hint', () => {
  const tiny = Uint16Array.of(1, 2, 3, 4);
  assert.throws(
    () => new BatchSampler(tiny, 2, 4, 0),
    (e: unknown) => e instanceof SamplerError && /4 tokens, fewer than one window of T\+1 = 5/.test(e.message) && /shorter context/.test(e.hint),
  );
  assert.throws(
    () => evalOffsets(tiny, 8),
    (e: unknown) => e instanceof SamplerError && /test split/.test(e.message) && /--test-fraction/.test(e.hint),
  );
  assert.doesNotThrow(() => new BatchSampler(tiny, 2, 3, 0));
});
