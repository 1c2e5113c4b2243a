// Drawing thins each curve to about 200 points evenly spaced in log x, so charts of huge stores stay small.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { thinLog } from '../../src/report/common.ts';

test('thinLog keeps short curves whole and thins long ones evenly in log x, ends included', () => {
  const short = Array.from({ length: 50 }, (_, i) => i + 1);
  assert.deepEqual(
    thinLog(short, (v) => v),
    short,
  );
  const long = Array.from({ length: 1_000_000 }, (_, i) => i + 1);
  const t = thinLog(long, (v) => v, 200);
  assert.ok(t.length <= 201 && t.length >= 150, `${t.length} points`);
  assert.equal(t[0], 1);
  assert.equal(t[t.length - 1], 1_000_000);
  // no gap wider than twice the even spacing in log x, except where the data itself has none (integer steps at the start)
  const gap = Math.log(1e6) / 200;
  for (let i = 1; i < t.length; i++) {
    const d = Math.log(t[i]) - Math.log(t[i - 1]);
    assert.ok(d <= 2 * gap || t[i] - t[i - 1] === 1, `gap ${d} between ${t[i - 1]} and ${t[i]}`);
  }
  // increasing, no duplicates
  for (let i = 1; i < t.length; i++) assert.ok(t[i] > t[i - 1]);
});
