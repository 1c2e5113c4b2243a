// The shared closeness check itself (assert-close.ts): within tolerance passes, outside fails naming the worst index;
// non-finite values match exactly (NaN only NaN, +-Infinity only the same infinity), on either side; bad tolerances
// and length mismatches are refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertClose } from './assert-close.ts';

const TOL = { rtol: 1e-3, atol: 1e-6 };
const fails = (fn: () => void, re: RegExp) => assert.throws(fn, (e: Error) => e instanceof assert.AssertionError && re.test(e.message));

test('within atol + rtol * |e| passes; just outside fails naming the label, the worst index and the values', () => {
  assertClose('x', [1, 2, 1000], [1.0009, 2, 1000.9], TOL);
  assertClose('scalar', 0.5e-6, 0, TOL);
  assertClose('typed', new Float32Array([1, 2]), new Float64Array([1, 2]), { rtol: 0, atol: 0 });
  fails(() => assertClose('x', [1, 2, 1000], [1, 2, 1001.1], TOL), /^x: not close .*worst at index 2: got 1000, expected 1001.1/);
  fails(() => assertClose('scalar', 2e-6, 0, TOL), /scalar: not close/);
  fails(() => assertClose('exact', [1], [1 + 2 ** -52], { rtol: 0, atol: 0 }), /exact: not close/);
});

test('an expected NaN matches only NaN', () => {
  assertClose('nan', [NaN, 1], [NaN, 1], TOL);
  for (const got of [0, 1, 1e300, -5, Infinity, -Infinity]) fails(() => assertClose('nan', [got], [NaN], TOL), /nan: .* at index 0, expected NaN exactly/);
  fails(() => assertClose('nan', [1, 2, 3], [1, NaN, 3], { rtol: 1e9, atol: 1e9 }), /at index 1, expected NaN/);
});

test('an expected infinity matches only the same infinity', () => {
  assertClose('inf', [Infinity, -Infinity], [Infinity, -Infinity], TOL);
  fails(() => assertClose('inf', [-Infinity], [Infinity], TOL), /expected Infinity exactly/);
  fails(() => assertClose('inf', [1e308], [Infinity], { rtol: 1, atol: 1e308 }), /value 1e\+308 at index 0, expected Infinity exactly/);
  fails(() => assertClose('inf', [NaN], [-Infinity], TOL), /expected -Infinity/);
});

test('a non-finite actual value fails against a finite expected one, whatever the tolerance', () => {
  for (const got of [NaN, Infinity, -Infinity])
    fails(() => assertClose('act', [got], [1], { rtol: 1e9, atol: 1e9 }), /act: non-finite value .* at index 0, expected 1 exactly/);
});

test('length mismatches and bad tolerances are refused', () => {
  fails(() => assertClose('len', [1, 2], [1], TOL), /len: length 2, expected 1/);
  fails(() => assertClose('tol', [1], [1], { rtol: -1, atol: 0 }), /bad tolerance/);
  fails(() => assertClose('tol', [1], [1], { rtol: 0, atol: NaN }), /bad tolerance/);
});
