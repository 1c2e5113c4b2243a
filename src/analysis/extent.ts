// Minimum and maximum of an array without spreading it into Math.min/Math.max: a spread passes every element as an
// argument, and past ~120k elements V8 throws RangeError (Maximum call stack size exceeded). NaN propagates and an
// empty array gives Infinity / -Infinity, as Math.min() / Math.max() do. test/lint/no-spread-minmax.test.ts keeps src/ free of the spread.

/** The smallest value (Math.min over an array of any length). */
export function minOf(xs: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < xs.length; i++) m = Math.min(m, xs[i]);
  return m;
}

/** The largest value (Math.max over an array of any length). */
export function maxOf(xs: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, xs[i]);
  return m;
}
