// The one closeness check for numerical tests (after llm.c's test_gpt2.c and nanochat's assert_close):
// passes when |a - e| <= atol + rtol * |e| everywhere, and otherwise fails naming the tensor, the worst
// index, and the max and mean differences, so a failure says where to look. Non-finite values match exactly or
// not at all: an expected NaN only matches NaN, an expected +-Infinity only the same infinity. A tolerance that is
// negative or NaN is refused.
import assert from 'node:assert/strict';

export interface Tolerance {
  rtol: number;
  atol: number;
}

type Numbers = ArrayLike<number>;

export function assertClose(label: string, actual: Numbers | number, expected: Numbers | number, tol: Tolerance): void {
  const a = typeof actual === 'number' ? [actual] : actual;
  const e = typeof expected === 'number' ? [expected] : expected;
  assert.ok(tol.rtol >= 0 && tol.atol >= 0, `${label}: bad tolerance (rtol ${tol.rtol}, atol ${tol.atol})`);
  assert.equal(a.length, e.length, `${label}: length ${a.length}, expected ${e.length}`);
  let worst = -1;
  let worstExcess = 0;
  let maxDiff = 0;
  let sumDiff = 0;
  for (let i = 0; i < e.length; i++) {
    // a non-finite value on either side matches only the same value: NaN only NaN, Infinity only Infinity of the
    // same sign (|a - e| would be NaN there, which compares false with any tolerance and so would pass anything)
    if (!Number.isFinite(e[i]) || !Number.isFinite(a[i])) {
      if (Number.isNaN(e[i]) ? Number.isNaN(a[i]) : a[i] === e[i]) continue;
      assert.fail(`${label}: ${Number.isFinite(a[i]) ? 'value' : 'non-finite value'} ${a[i]} at index ${i}, expected ${e[i]} exactly`);
    }
    const diff = Math.abs(a[i] - e[i]);
    sumDiff += diff;
    if (diff > maxDiff) maxDiff = diff;
    const excess = diff - (tol.atol + tol.rtol * Math.abs(e[i]));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${label}: not close (rtol ${tol.rtol}, atol ${tol.atol}); worst at index ${worst}: ` +
        `got ${a[worst]}, expected ${e[worst]}; max |diff| ${maxDiff.toExponential(3)}, ` +
        `mean |diff| ${(sumDiff / e.length).toExponential(3)} over ${e.length} values`,
    );
  }
}
