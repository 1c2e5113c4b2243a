// Number text in charts (legends, band labels, curve labels), written with the project's one formatter module
// (src/util/format.ts) in the charts' conventions: a sign written once, counts with B for billions as the axes'
// tick labels have them (common.ts COUNT_LABELS), a range in one unit, nothing printed for a missing number.
import { formatCount, formatSig } from '../../util/format.ts';

/** A count as people say it: 3.1M, 85M, 1.0B never "1000M" (the unit is chosen after rounding), 512. */
export function count(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return '?';
  return formatCount(v, { digits, largest: 'T' }).replace(/G$/, 'B');
}

const UNITS: [number, string][] = [
  [1e12, 'T'],
  [1e9, 'B'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** `x` to `digits` significant digits in fixed notation, trailing zeros kept: 1.0, 2.3, 0.50, 340. */
function sigFixed(x: number, digits: number): string {
  const r = Number(x.toPrecision(digits));
  const mag = r === 0 ? 0 : Math.floor(Math.log10(Math.abs(r)));
  return r.toFixed(Math.max(0, digits - 1 - mag));
}

/**
 * A range of counts in one unit, each end to `digits` significant digits: "1.0B-2.3B" (never "1000M-2.3B"),
 * "85M-340M". The unit is the upper end's (after rounding); a lower end under a tenth of it keeps its own ("50M-2.3B").
 */
export function countRange(lo: number, hi: number, digits = 2): string {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return '?';
  const r = Number(Math.abs(hi).toPrecision(digits));
  const [u, s] = UNITS.find(([x]) => r >= x) ?? [1, ''];
  const low = lo / u < 0.1 ? count(lo, digits) : `${sigFixed(lo / u, digits)}${s}`;
  return `${low}-${sigFixed(hi / u, digits)}${s}`;
}

/**
 * A number with its sign written once, short: "-1.94", "0.52", "5.5e4", "1.8e-3" (as common.ts sci: an exponent
 * outside [0.01, 10^4), one more digit from 1 to 10^4); NaN is "?".
 */
export function num(v: number, digits = 2): string {
  const a = Math.abs(v);
  return formatSig(v, { digits: digits + (a >= 1 && a < 1e4 ? 1 : 0), small: 1e-2, large: 1e4, shortExponent: true, nonFinite: '?' });
}

/** A power of a variable with a signed exponent: power('L', -1.94) = "L^-1.94", power('L', 1.94) = "L^1.94". */
export function power(base: string, exponent: number, digits = 2): string {
  return `${base}^${num(exponent, digits)}`;
}

/** "± 0.03", or '' when the error is unknown (no "+-" before a missing number). */
export function plusMinus(err: number, digits = 2): string {
  return Number.isFinite(err) && err >= 0 ? `± ${num(err, digits)}` : '';
}

/** "[0.41, 0.55]", or '' when either end is unknown. */
export function interval(ci: readonly [number, number] | undefined, digits = 2): string {
  return ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? `[${num(ci[0], digits)}, ${num(ci[1], digits)}]` : '';
}

/** A batch size in tokens as its label: exact below 10k (512, 8192: powers of two read as themselves), else 16.4k. */
export function batchTokens(b: number): string {
  return Number.isFinite(b) && b < 1e4 ? String(Math.round(b)) : count(b, 3);
}
