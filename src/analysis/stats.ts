// Statistics the fits share: least squares (straight lines and parabolas, power laws in log
// space), percentiles, and the seeded bootstrap over runs. Model-specific fits live in their own files (the Huber
// loss of Approach 3 is inlined in chinchilla.ts's objective, where it runs per residual per evaluation).
import { SeededRandom } from '../util/random.ts';

// ---- descriptive statistics

export function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s / v.length;
}

/** sample standard deviation (n - 1 in the denominator), NaN below 2 values */
export function std(v: ArrayLike<number>): number {
  if (v.length < 2) return NaN;
  const m = mean(v);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] - m) ** 2;
  return Math.sqrt(s / (v.length - 1));
}

/** q-quantile (q in [0, 1]) with linear interpolation between order statistics (numpy's default) */
export function quantile(v: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(v).sort();
  if (s.length === 0) return NaN;
  const h = (s.length - 1) * q;
  const i = Math.floor(h);
  return i + 1 < s.length ? s[i] + (h - i) * (s[i + 1] - s[i]) : s[i];
}

export function median(v: ArrayLike<number>): number {
  return quantile(v, 0.5);
}

// ---- least squares

export interface LineFit {
  slope: number;
  intercept: number;
  slopeStdErr: number;
  interceptStdErr: number;
  /** coefficient of determination */
  r2: number;
  /** root mean square residual */
  rmse: number;
  residuals: Float64Array;
  n: number;
}

/** Ordinary least squares y = intercept + slope x, with the usual standard errors (n - 2 dof). */
export function fitLine(x: ArrayLike<number>, y: ArrayLike<number>): LineFit {
  const n = x.length;
  const mx = mean(x);
  const my = mean(y);
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - mx) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const residuals = new Float64Array(n);
  let sse = 0;
  for (let i = 0; i < n; i++) {
    residuals[i] = y[i] - (intercept + slope * x[i]);
    sse += residuals[i] ** 2;
  }
  const s2 = n > 2 ? sse / (n - 2) : NaN;
  return {
    slope,
    intercept,
    slopeStdErr: Math.sqrt(s2 / sxx),
    interceptStdErr: Math.sqrt(s2 * (1 / n + (mx * mx) / sxx)),
    r2: syy > 0 ? 1 - sse / syy : NaN,
    rmse: Math.sqrt(sse / n),
    residuals,
    n,
  };
}

/** Power law y = k x^p fitted as a line in log-log space (least squares in log y). */
export function fitPowerLaw(x: ArrayLike<number>, y: ArrayLike<number>): { k: number; p: number; line: LineFit } {
  const lx = Array.from(x, Math.log);
  const ly = Array.from(y, Math.log);
  const line = fitLine(lx, ly);
  return { k: Math.exp(line.intercept), p: line.slope, line };
}

/** Least-squares parabola y = c0 + c1 x + c2 x^2 (normal equations on centred x, solved by Cramer). */
export function fitParabola(x: ArrayLike<number>, y: ArrayLike<number>): { c0: number; c1: number; c2: number; rmse: number } {
  const n = x.length;
  const mx = mean(x);
  const s = [0, 0, 0, 0, 0];
  const t = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const u = x[i] - mx;
    let p = 1;
    for (let k = 0; k < 5; k++) {
      s[k] += p;
      if (k < 3) t[k] += p * y[i];
      p *= u;
    }
  }
  const M = [
    [s[0], s[1], s[2]],
    [s[1], s[2], s[3]],
    [s[2], s[3], s[4]],
  ];
  const det3 = (A: number[][]): number =>
    A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) - A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) + A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
  const D = det3(M);
  const col = (k: number): number => det3(M.map((row, i) => row.map((v, j) => (j === k ? t[i] : v)))) / D;
  const [b0, b1, b2] = [col(0), col(1), col(2)];
  // back from u = x - mx
  const c2 = b2;
  const c1 = b1 - 2 * b2 * mx;
  const c0 = b0 - b1 * mx + b2 * mx * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (y[i] - (c0 + c1 * x[i] + c2 * x[i] * x[i])) ** 2;
  return { c0, c1, c2, rmse: Math.sqrt(sse / n) };
}

// ---- bootstrap

export interface BootstrapOptions {
  /** number of resamples (default 1000) */
  samples?: number;
  seed?: number;
  /** confidence level of the percentile interval (default 0.95) */
  level?: number;
}

/** scipy.stats.bootstrap's result, keyed by parameter name. */
export interface BootstrapResult<K extends string> {
  /** the statistic on the full data */
  estimate: Record<K, number>;
  /** percentile interval at `level` */
  ci: Record<K, [number, number]>;
  /** standard deviation of the bootstrap distribution */
  standardError: Record<K, number>;
  /** the bootstrap distribution, one entry per successful resample */
  samples: Record<K, Float64Array>;
  level: number;
  /** resamples whose statistic failed (returned null or non-finite values); left out of ci and se */
  failures: number;
  seed: number;
}

/**
 * Nonparametric bootstrap over cases (Efron & Tibshirani 1993, ch. 6 and 13): draw n indices with
 * replacement from the n runs, recompute the statistic, and report percentile intervals and standard
 * errors. The statistic may return null for a resample it cannot fit (counted in `failures`).
 * Resample r uses the PRNG stream seeded by (seed, r), so results do not depend on evaluation order.
 */
export function bootstrap<K extends string>(
  n: number,
  statistic: (indices: Int32Array, resample: number) => Record<K, number> | null,
  estimate: Record<K, number>,
  options: BootstrapOptions = {},
): BootstrapResult<K> {
  const R = options.samples ?? 1000;
  const seed = options.seed ?? 0;
  const level = options.level ?? 0.95;
  const keys = Object.keys(estimate) as K[];
  const cols = new Map<K, number[]>(keys.map((k) => [k, []]));
  let failures = 0;
  const idx = new Int32Array(n);
  for (let r = 0; r < R; r++) {
    const rng = new SeededRandom(seed * 1000003 + r);
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    const v = statistic(idx, r);
    if (v === null || keys.some((k) => !Number.isFinite(v[k]))) {
      failures++;
      continue;
    }
    for (const k of keys) cols.get(k)!.push(v[k]);
  }
  return summarize(keys, estimate, cols, level, failures, seed);
}

/** Percentile intervals and standard errors from bootstrap columns (used by the fits' own bootstraps). */
export function summarize<K extends string>(
  keys: K[],
  estimate: Record<K, number>,
  cols: Map<K, number[]>,
  level: number,
  failures: number,
  seed: number,
): BootstrapResult<K> {
  const ci = {} as Record<K, [number, number]>;
  const standardError = {} as Record<K, number>;
  const samples = {} as Record<K, Float64Array>;
  const a = (1 - level) / 2;
  for (const k of keys) {
    const s = Float64Array.from(cols.get(k)!);
    samples[k] = s;
    ci[k] = [quantile(s, a), quantile(s, 1 - a)];
    standardError[k] = std(s);
  }
  return { estimate, ci, standardError, samples, level, failures, seed };
}

// ---- F-test

/** ln Gamma(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; ~1e-15 relative). */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz), for x < (a+1)/(a+b+2). */
function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b) (scipy.special.betainc). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(x, a, b)) / a : 1 - (front * betaFraction(1 - x, b, a)) / b;
}

/** Upper tail P(F > f) of the F distribution with (d1, d2) degrees of freedom (scipy.stats.f.sf). */
function fSurvival(f: number, d1: number, d2: number): number {
  if (!(f > 0)) return 1;
  if (!Number.isFinite(f)) return 0;
  return incompleteBeta(d2 / (d2 + d1 * f), d2 / 2, d1 / 2);
}

/**
 * Nested least-squares models compared by an F-test: the restricted model (sseRestricted) against the full
 * one (sseFull) with `extra` more parameters and `dofFull` residual degrees of freedom. Returns F and p.
 */
export function nestedFTest(sseRestricted: number, sseFull: number, extra: number, dofFull: number): { f: number; p: number } {
  if (!(dofFull > 0 && extra > 0)) return { f: NaN, p: NaN };
  const f = sseFull > 0 ? Math.max(0, sseRestricted - sseFull) / extra / (sseFull / dofFull) : sseRestricted > 0 ? Infinity : 0;
  return { f, p: fSurvival(f, extra, dofFull) };
}
