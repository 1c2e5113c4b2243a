// The one closeness check for numerical tests (after llm.c's test_gpt2.c and nanochat's assert_close):
// passes when |a - e| <= atol + rtol * |e| everywhere, and otherwise fails naming the tensor, the worst
// index, and the max and mean differences, so a failure says where to look.
import assert from 'node:assert/strict';

export interface Tolerance {
  rtol: number;
  atol: number;
}

type Numbers = ArrayLike<number>;

export function assertClose(label: string, actual: Numbers | number, expected: Numbers | number, tol: Tolerance): void {
  const a = typeof actual === 'number' ? [actual] : actual;
  const e = typeof expected === 'number' ? [expected] : expected;
  assert.equal(a.length, e.length, `${label}: length ${a.length}, expected ${e.length}`);
  let worst = -1;
  let worstExcess = 0;
  let maxDiff = 0;
  let sumDiff = 0;
  for (let i = 0; i < e.length; i++) {
    const diff = Math.abs(a[i] - e[i]);
    if (!Number.isFinite(a[i]) && a[i] !== e[i]) {
      assert.fail(`${label}: non-finite value ${a[i]} at index ${i} (expected ${e[i]})`);
    }
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
