// Number formatting for every layer: significant figures with an exponent outside a range, counts with
// k/M/G suffixes, durations, an estimate with its interval, percentages. One place, so a number reads the same
// in a log line, a table, a report and a run name. Imports nothing of ours.

export interface SigOptions {
  /** significant digits (default 3) */
  digits?: number;
  /** a non-zero |v| below this is written with an exponent (default 1e-3) */
  small?: number;
  /** a |v| at or above this is written with an exponent (default 1e5) */
  large?: number;
  /**
   * drop trailing zeros (1.50 -> 1.5, 1.50e+4 -> 1.5e+4); default true. 'plain': only where there is no exponent
   * (1.50 -> 1.5, but 1.500e+5 stays, so a column of exponents lines up)
   */
  trim?: boolean | 'plain';
  /** write the exponent without '+' (1.5e4 rather than 1.5e+4); default false */
  shortExponent?: boolean;
  /** the text for NaN and the infinities (default '-') */
  nonFinite?: string;
  /** write zero with an exponent too (0.00e+0, as the report's checks quote a parameter at its bound); default false */
  zeroExponent?: boolean;
}

/**
 * `v` to `digits` significant figures, with an exponent when |v| is outside [small, large):
 * formatSig(0.012345) = '0.0123', formatSig(123456) = '1.23e+5', formatSig(1.5e-4, { shortExponent: true }) = '1.5e-4'.
 * Zero is '0' (or '0.00' untrimmed) unless zeroExponent.
 */
export function formatSig(v: number, o: SigOptions = {}): string {
  const { digits = 3, small = 1e-3, large = 1e5, trim = true, shortExponent = false, nonFinite = '-', zeroExponent = false } = o;
  if (!Number.isFinite(v)) return nonFinite;
  const a = Math.abs(v);
  if ((a !== 0 || zeroExponent) && (a < small || a >= large)) {
    const [m, e] = v.toExponential(digits - 1).split('e');
    return `${trim === true ? String(Number(m)) : m}e${shortExponent ? String(Number(e)) : e}`;
  }
  return trim ? String(Number(v.toPrecision(digits))) : v.toPrecision(digits);
}

export interface CountOptions {
  /** significant digits above the first suffix (default 3) */
  digits?: number;
  /** drop trailing zeros (1.50M -> 1.5M); default true */
  trim?: boolean;
  /** the largest suffix used (default 'E'); run names stop at 'G' so their ids never change */
  largest?: 'k' | 'M' | 'G' | 'T' | 'P' | 'E';
  /**
   * choose the suffix from the value before rounding, as run names always have (999999 -> '1000k' rather than
   * '1M'), so their ids never change; default false
   */
  unitBeforeRounding?: boolean;
}

const COUNT_UNITS: readonly [number, 'k' | 'M' | 'G' | 'T' | 'P' | 'E'][] = [
  [1e18, 'E'],
  [1e15, 'P'],
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/**
 * A count with an SI suffix: 250000 -> '250k', 1500000 -> '1.5M', 3.2e18 -> '3.2E' (FLOPs), 999 -> '999',
 * 999999 -> '1M' (the suffix is chosen after rounding). Below 1000 an integer is written in full and a fraction to
 * `digits` significant figures.
 */
export function formatCount(n: number, o: CountOptions = {}): string {
  const { digits = 3, trim = true, largest = 'E', unitBeforeRounding = false } = o;
  if (!Number.isFinite(n)) return String(n);
  const units = COUNT_UNITS.slice(COUNT_UNITS.findIndex(([, u]) => u === largest));
  const size = unitBeforeRounding ? Math.abs(n) : Number(Math.abs(n).toPrecision(digits));
  for (const [v, u] of units) {
    if (size >= v) {
      const m = (n / v).toPrecision(digits);
      return `${trim ? String(Number(m)) : m}${u}`;
    }
  }
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(digits)));
}

/** A parameter count as people say it: 3.1M, 85M, 1.2B, 40K (two significant figures; K and B, not k and G). */
export function formatParams(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n >= 1e9) return `${Number((n / 1e9).toPrecision(2))}B`;
  if (n >= 1e6) return `${Number((n / 1e6).toPrecision(2))}M`;
  if (n >= 1e3) return `${Number((n / 1e3).toPrecision(2))}K`;
  return String(Math.round(n));
}

/** A duration for people: '45s', '12.5 min', '3.2 h', '4.0 days'. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 90) return `${seconds.toFixed(0)}s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/** Fixed decimals, the default number writer of intervals: fixed(3)(0.12345) = '0.123'. */
export const fixed =
  (decimals: number) =>
  (v: number): string =>
    v.toFixed(decimals);

/** An interval '[lo, hi]' written by `f` (default three decimals); '-' when either end is not finite. */
export function formatInterval(ci: readonly [number, number] | undefined, f: (v: number) => string = fixed(3)): string {
  return ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? `[${f(ci[0])}, ${f(ci[1])}]` : '-';
}

/** An estimate with its interval, 'estimate [lo, hi]': formatEstimate(0.34, [0.31, 0.37]) = '0.340 [0.310, 0.370]'. */
export function formatEstimate(estimate: number, ci: readonly [number, number] | undefined, f: (v: number) => string = fixed(3)): string {
  return `${f(estimate)} ${formatInterval(ci, f)}`;
}

/** Thousands separators and fixed decimals: formatGrouped(1234567) = '1,234,567', formatGrouped(4701.25, 1) = '4,701.3'. */
export function formatGrouped(v: number, decimals = 0): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A fraction as a percentage: formatPercent(0.1234) = '12%', formatPercent(0.1234, 1) = '12.3%'. */
export function formatPercent(fraction: number, decimals = 0): string {
  return `${(100 * fraction).toFixed(decimals)}%`;
}
