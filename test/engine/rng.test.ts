// The seeded generator: reproducible, keyed streams independent, state round-trips, sane moments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, hashInts } from '../../src/util/random.ts';

test('same seed, same sequence; different seeds differ', () => {
  const a = new Rng(42),
    b = new Rng(42),
    c = new Rng(43);
  const xa = Array.from({ length: 8 }, () => a.nextU32());
  const xb = Array.from({ length: 8 }, () => b.nextU32());
  const xc = Array.from({ length: 8 }, () => c.nextU32());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
});

test('keyed streams: (seed, step, micro) keys are distinct, including past 2^32', () => {
  const keys = new Set([hashInts(1, 0, 0), hashInts(1, 0, 1), hashInts(1, 1, 0), hashInts(2, 0, 0), hashInts(1, 2 ** 32, 0)]);
  assert.equal(keys.size, 5);
});

test('state save and restore continues the same sequence, pending normal included', () => {
  const r = new Rng(7);
  r.normal(); // leaves a spare
  const state = r.getState();
  const after = [r.normal(), r.normal(), r.uniform()];
  const r2 = new Rng(0);
  r2.setState(state);
  assert.deepEqual([r2.normal(), r2.normal(), r2.uniform()], after);
});

test('uniform, int and normal have the right moments (n = 200k, 5-sigma bounds)', () => {
  const r = new Rng(123);
  const n = 200_000;
  let su = 0,
    sn = 0,
    sn2 = 0;
  const counts = new Array(10).fill(0);
  for (let i = 0; i < n; i++) {
    su += r.uniform();
    const z = r.normal();
    sn += z;
    sn2 += z * z;
    counts[r.int(10)]++;
  }
  assert.ok(Math.abs(su / n - 0.5) < 5 * Math.sqrt(1 / 12 / n));
  assert.ok(Math.abs(sn / n) < 5 / Math.sqrt(n));
  assert.ok(Math.abs(sn2 / n - 1) < 5 * Math.sqrt(2 / n));
  for (const c of counts) assert.ok(Math.abs(c - n / 10) < 5 * Math.sqrt(n * 0.09), `bucket count ${c}`);
});
