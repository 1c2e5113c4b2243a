// The one number-formatter module: each function against hand-written expectations, including the outputs the
// formatters it replaced produced (run names, sweep plans, report checks), so a change of style shows up here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fixed,
  formatCount,
  formatDuration,
  formatEstimate,
  formatGrouped,
  formatInterval,
  formatParams,
  formatPercent,
  formatSig,
} from '../../src/util/format.ts';

test('formatSig: significant figures, exponent outside [small, large)', () => {
  assert.equal(formatSig(0.012345), '0.0123');
  assert.equal(formatSig(1.5), '1.5');
  assert.equal(formatSig(99999), '100000'); // rounds in the plain range
  assert.equal(formatSig(123456), '1.23e+5');
  assert.equal(formatSig(1.5e-4), '1.5e-4');
  assert.equal(formatSig(-2e-5, { shortExponent: true }), '-2e-5');
  assert.equal(formatSig(3.2e18, { shortExponent: true, digits: 2 }), '3.2e18');
  assert.equal(formatSig(0), '0');
  assert.equal(formatSig(NaN), '-');
  assert.equal(formatSig(Infinity, { nonFinite: 'inf' }), 'inf');
  // untrimmed keeps the digits: what report/checks.ts printed (toPrecision(3), toExponential(2) outside [1e-2, 1e4))
  assert.equal(formatSig(1.5, { trim: false }), '1.50');
  assert.equal(formatSig(15000, { trim: false, small: 1e-2, large: 1e4 }), '1.50e+4');
  assert.equal(formatSig(0.005, { trim: false, small: 1e-2, large: 1e4 }), '5.00e-3');
  assert.equal(formatSig(1234, { trim: false, small: 1e-2, large: 1e4 }), '1.23e+3'); // toPrecision's own exponent
  assert.equal(formatSig(0, { trim: false, small: 1e-2, large: 1e4 }), '0.00');
  assert.equal(formatSig(0, { trim: false, small: 1e-2, large: 1e4, zeroExponent: true }), '0.00e+0');
  // cli fit.ts's: 4 digits, exponent outside [1e-3, 1e5)
  assert.equal(formatSig(0.34567, { digits: 4 }), '0.3457');
  // trim 'plain': trailing zeros dropped only without an exponent, so a column of exponents lines up
  assert.equal(formatSig(1.5, { digits: 4, trim: 'plain' }), '1.5');
  assert.equal(formatSig(150000, { digits: 4, trim: 'plain' }), '1.500e+5');
  assert.equal(formatSig(150000, { digits: 4 }), '1.5e+5');
});

test('formatCount: SI suffixes, trimmed or not, capped', () => {
  assert.equal(formatCount(250000), '250k');
  assert.equal(formatCount(1500000), '1.5M');
  assert.equal(formatCount(1500000, { trim: false }), '1.50M');
  assert.equal(formatCount(3.2e18), '3.2E');
  assert.equal(formatCount(2e12), '2T');
  assert.equal(formatCount(2e12, { largest: 'G' }), '2000G');
  assert.equal(formatCount(999), '999');
  assert.equal(formatCount(0), '0');
  assert.equal(formatCount(12.345), '12.3');
  assert.equal(formatCount(-4500), '-4.5k');
  assert.equal(formatCount(1234567, { digits: 2 }), '1.2M');
  // the suffix is chosen after rounding, unless asked (run names: their ids must not change)
  assert.equal(formatCount(999_999), '1M');
  assert.equal(formatCount(999_999, { trim: false }), '1.00M');
  assert.equal(formatCount(999.7), '1k');
  assert.equal(formatCount(999_999, { unitBeforeRounding: true }), '1000k');
  assert.equal(formatCount(999_400), '999k');
});

test('formatParams: K, M, B with two significant figures', () => {
  assert.equal(formatParams(3_145_728), '3.1M');
  assert.equal(formatParams(85_000_000), '85M');
  assert.equal(formatParams(1.234e9), '1.2B');
  assert.equal(formatParams(40_960), '41K');
  assert.equal(formatParams(512), '512');
  assert.equal(formatParams(NaN), '?');
});

test('formatDuration: seconds, minutes, hours, days', () => {
  assert.equal(formatDuration(45.4), '45s');
  assert.equal(formatDuration(89), '89s');
  assert.equal(formatDuration(90), '1.5 min');
  assert.equal(formatDuration(5400), '1.5 h');
  assert.equal(formatDuration(172800), '2.0 days');
  assert.equal(formatDuration(NaN), '?');
});

test('formatInterval and formatEstimate: three decimals by default, any writer, "-" for a missing interval', () => {
  assert.equal(formatInterval([0.31, 0.37]), '[0.310, 0.370]');
  assert.equal(formatInterval([NaN, 1]), '-');
  assert.equal(formatInterval(undefined), '-');
  assert.equal(formatEstimate(0.34, [0.31, 0.37]), '0.340 [0.310, 0.370]');
  assert.equal(
    formatEstimate(2e5, [1.5e5, 3e5], (v) => formatSig(v, { digits: 2, shortExponent: true, large: 1e4 })),
    '2e5 [1.5e5, 3e5]',
  );
  assert.equal(fixed(1)(2.25), '2.3');
});

test('formatPercent', () => {
  assert.equal(formatPercent(0.1234), '12%');
  assert.equal(formatPercent(0.1234, 1), '12.3%');
  assert.equal(formatPercent(1), '100%');
});

test('formatGrouped: thousands separators, fixed decimals', () => {
  assert.equal(formatGrouped(1234567), '1,234,567');
  assert.equal(formatGrouped(4701.25, 1), '4,701.3');
  assert.equal(formatGrouped(12, 2), '12.00');
  assert.equal(formatGrouped(-9876.5), '-9,877');
});
