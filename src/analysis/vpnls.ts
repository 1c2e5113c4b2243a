// Variable projection for L(N, D) = E + A / N^alpha + B / D^beta (Golub & Pereyra 1973; Open-Athena 2026,
// "Problems with Chinchilla Approach 2", VPNLS): for fixed exponents the model is linear in (E, A, B), so the
// inner problem is solved exactly and only (alpha, beta) are searched, on a grid and then by L-BFGS.
import type { Accounting, ScalingPoint } from './records.ts';
import { bootstrapWarnings } from './diagnostics.ts';
import {
  CHINCHILLA_KEYS,
  chinchillaLoss,
  chinchillaObjective,
  checkScalingPoints,
  logData,
  HUBER_DELTA,
  type ChinchillaBootstrap,
  type ChinchillaKey,
  type ChinchillaParams,
} from './chinchilla.ts';
import { lbfgs } from './optimize.ts';
import { summarize } from './stats.ts';
import { SeededRandom } from '../util/random.ts';

export interface VpnlsOptions {
  /** search box of the exponents (default [0.02, 2.5] each) */
  alpha?: [number, number];
  beta?: [number, number];
  /** grid points per exponent (default 80) before the L-BFGS polish */
  grid?: number;
  accounting?: Accounting;
}

export interface VpnlsFit {
  form: 'vpnls';
  formula: string;
  params: ChinchillaParams;
  /** [log A, log B, log E, alpha, beta], as ChinchillaFit.x (log 0 = -Infinity where a coefficient is 0) */
  x: Float64Array;
  /** sum of squared loss residuals / 2 (the objective VPNLS minimises) */
  objective: number;
  /** Approach 3's objective (Huber on log loss, delta 1e-3) at these parameters, for comparison */
  huberLogObjective: number;
  /** L_pred - L per point (plain loss), input order */
  residuals: Float64Array;
  /** log L_pred - log L per point */
  logResiduals: Float64Array;
  n: number;
  /** false when any flag below is raised: the estimates are then not to be trusted as a law */
  wellPosed: boolean;
  /** why the problem is not well posed: E at its bound 0, A or B at 0, an exponent at the search edge, a flat objective */
  flags: string[];
  accounting: Accounting;
  diagnostics: {
    searchBox: { alpha: [number, number]; beta: [number, number] };
    gridPoints: number;
    evaluations: number;
    /** curvature standard errors of alpha, beta from the profiled objective's Hessian, sigma^2 H^-1 */
    curvatureSE: { alpha: number; beta: number };
    /** condition number of that 2x2 Hessian */
    hessianCondition: number;
    rmse: number;
    ms: number;
  };
}

/** Column data of one problem: logs, loss and weights; columns x1 = N^-alpha, x2 = D^-beta are made per call. */
interface VpData {
  lN: Float64Array;
  lD: Float64Array;
  y: Float64Array;
  w: Float64Array | null;
}

/**
 * The exact inner problem: min over E, A, B >= 0 of sum_i w_i (y_i - E - A x1_i - B x2_i)^2. A convex
 * quadratic over the non-negative orthant attains its minimum at the unconstrained minimum of one face, so
 * all 7 non-empty supports (and the empty one) are solved from the 3x3 Gram matrix of column-scaled data and
 * the feasible one with the least sum of squares is taken: exact non-negative least squares for 3 unknowns.
 * Returns the sum of squares; writes [E, A, B] into out.
 */
function innerNnls(d: VpData, x1: Float64Array, x2: Float64Array, out: Float64Array): number {
  const n = d.y.length;
  // Gram of columns (1, x1, x2) and their products with y, weighted
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s11 = 0,
    s12 = 0,
    s22 = 0,
    t0 = 0,
    t1 = 0,
    t2 = 0,
    yy = 0;
  const w = d.w;
  const y = d.y;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    if (wi === 0) continue;
    const a = x1[i];
    const b = x2[i];
    const yi = y[i];
    s0 += wi;
    s1 += wi * a;
    s2 += wi * b;
    s11 += wi * a * a;
    s12 += wi * a * b;
    s22 += wi * b * b;
    t0 += wi * yi;
    t1 += wi * a * yi;
    t2 += wi * b * yi;
    yy += wi * yi * yi;
  }
  // scale columns to unit weighted RMS so the 3x3 solves are well conditioned whatever N^-alpha's size
  const k0 = 1 / Math.sqrt(s0);
  const k1 = s11 > 0 ? 1 / Math.sqrt(s11) : 1;
  const k2 = s22 > 0 ? 1 / Math.sqrt(s22) : 1;
  const g00 = s0 * k0 * k0,
    g01 = s1 * k0 * k1,
    g02 = s2 * k0 * k2,
    g11 = s11 * k1 * k1,
    g12 = s12 * k1 * k2,
    g22 = s22 * k2 * k2;
  const c0 = t0 * k0,
    c1 = t1 * k1,
    c2 = t2 * k2;
  let best = yy;
  let bE = 0,
    bA = 0,
    bB = 0;
  // SSE(theta) = yy - 2 c'theta + theta' G theta; at a face's unconstrained optimum c'theta = theta' G theta,
  // so SSE = yy - c'theta there
  const consider = (e: number, a: number, b: number): void => {
    if (e < 0 || a < 0 || b < 0) return;
    const sse = yy - (c0 * e + c1 * a + c2 * b);
    if (sse < best) {
      best = sse;
      bE = e * k0;
      bA = a * k1;
      bB = b * k2;
    }
  };
  // one column
  consider(c0 / g00, 0, 0);
  if (g11 > 0) consider(0, c1 / g11, 0);
  if (g22 > 0) consider(0, 0, c2 / g22);
  // two columns
  let det = g00 * g11 - g01 * g01;
  if (det > 1e-14) consider((c0 * g11 - c1 * g01) / det, (c1 * g00 - c0 * g01) / det, 0);
  det = g00 * g22 - g02 * g02;
  if (det > 1e-14) consider((c0 * g22 - c2 * g02) / det, 0, (c2 * g00 - c0 * g02) / det);
  det = g11 * g22 - g12 * g12;
  if (det > 1e-14) consider(0, (c1 * g22 - c2 * g12) / det, (c2 * g11 - c1 * g12) / det);
  // all three
  const m00 = g11 * g22 - g12 * g12;
  const m01 = g02 * g12 - g01 * g22;
  const m02 = g01 * g12 - g02 * g11;
  det = g00 * m00 + g01 * m01 + g02 * m02;
  if (det > 1e-14) {
    const m11 = g00 * g22 - g02 * g02;
    const m12 = g01 * g02 - g00 * g12;
    const m22 = g00 * g11 - g01 * g01;
    consider((m00 * c0 + m01 * c1 + m02 * c2) / det, (m01 * c0 + m11 * c1 + m12 * c2) / det, (m02 * c0 + m12 * c1 + m22 * c2) / det);
  }
  out[0] = bE;
  out[1] = bA;
  out[2] = bB;
  return Math.max(0, best);
}

function makeData(points: readonly ScalingPoint[], w: Float64Array | null = null): VpData {
  return {
    lN: Float64Array.from(points, (p) => Math.log(p.n)),
    lD: Float64Array.from(points, (p) => Math.log(p.d)),
    y: Float64Array.from(points, (p) => p.loss),
    w,
  };
}

/**
 * The profiled objective f(alpha, beta) = min over E, A, B >= 0 of SSE / 2, and its gradient: at the inner
 * optimum the derivative through (E, A, B) vanishes (Golub & Pereyra 1973; KKT where a coefficient sits at
 * 0), so with residuals r = y - pred, df/dalpha = sum_i w_i r_i A log N_i N_i^-alpha and
 * df/dbeta = sum_i w_i r_i B log D_i D_i^-beta.
 */
function profiled(d: VpData) {
  const n = d.y.length;
  const x1 = new Float64Array(n);
  const x2 = new Float64Array(n);
  const eab = new Float64Array(3);
  let evaluations = 0;
  const fg = (x: Float64Array, g: Float64Array): number => {
    evaluations++;
    const alpha = x[0];
    const beta = x[1];
    for (let i = 0; i < n; i++) {
      x1[i] = Math.exp(-alpha * d.lN[i]);
      x2[i] = Math.exp(-beta * d.lD[i]);
    }
    const f = 0.5 * innerNnls(d, x1, x2, eab);
    const [E, A, B] = eab;
    let ga = 0;
    let gb = 0;
    const w = d.w;
    for (let i = 0; i < n; i++) {
      const wi = w ? w[i] : 1;
      if (wi === 0) continue;
      const r = wi * (d.y[i] - E - A * x1[i] - B * x2[i]);
      ga += r * A * d.lN[i] * x1[i];
      gb += r * B * d.lD[i] * x2[i];
    }
    g[0] = ga;
    g[1] = gb;
    return f;
  };
  const g2 = new Float64Array(2);
  const f = (alpha: number, beta: number): number => fg(Float64Array.of(alpha, beta), g2);
  return { f, fg, eab, count: () => evaluations };
}

interface Search {
  alpha: number;
  beta: number;
  fun: number;
  E: number;
  A: number;
  B: number;
  evaluations: number;
}

const linspace = (lo: number, hi: number, k: number): Float64Array => Float64Array.from({ length: k }, (_, i) => lo + ((hi - lo) * i) / (k - 1));

/**
 * Grid over the box (columns precomputed per exponent), then bounded L-BFGS on the profiled objective from
 * `start` when given and from the best grid cell (skipped when `start` is lower than every cell); the better
 * end point wins.
 */
function search(d: VpData, box: { alpha: [number, number]; beta: [number, number] }, k: number, start?: [number, number]): Search {
  const pr = profiled(d);
  let bestA = NaN;
  let bestB = NaN;
  let bestF = Infinity;
  if (k > 1) {
    const as = linspace(box.alpha[0], box.alpha[1], k);
    const bs = linspace(box.beta[0], box.beta[1], k);
    const cols1: Float64Array[] = Array.from(as, (a) => Float64Array.from(d.lN, (l) => Math.exp(-a * l)));
    const cols2: Float64Array[] = Array.from(bs, (b) => Float64Array.from(d.lD, (l) => Math.exp(-b * l)));
    const eab = new Float64Array(3);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        const v = 0.5 * innerNnls(d, cols1[i], cols2[j], eab);
        if (v < bestF) {
          bestF = v;
          bestA = as[i];
          bestB = bs[j];
        }
      }
    }
  }
  // from `start`, and from the best grid cell unless `start` is already lower than every cell
  const starts: [number, number][] = [];
  if (start) starts.push(start);
  if (Number.isFinite(bestA) && !(start && pr.f(start[0], start[1]) <= bestF)) starts.push([bestA, bestB]);
  let alpha = NaN;
  let beta = NaN;
  let fun = Infinity;
  for (const s0 of starts) {
    const r = lbfgs(pr.fg, s0, { bounds: [box.alpha, box.beta], ftol: 1e-13, gtol: 1e-12 });
    if (r.fun < fun) {
      fun = r.fun;
      alpha = r.x[0];
      beta = r.x[1];
    }
  }
  fun = pr.f(alpha, beta);
  return { alpha, beta, fun, E: pr.eab[0], A: pr.eab[1], B: pr.eab[2], evaluations: (k > 1 ? k * k : 0) + pr.count() };
}

const DEFAULT_BOX: [number, number] = [0.02, 2.5];

function xOf(s: { E: number; A: number; B: number; alpha: number; beta: number }): Float64Array {
  return Float64Array.of(Math.log(s.A), Math.log(s.B), Math.log(s.E), s.alpha, s.beta);
}

/**
 * VPNLS (Open-Athena 2026): for fixed (alpha, beta), L = E + A N^-alpha + B D^-beta is linear in (E, A, B),
 * and the best non-negative (E, A, B) is found exactly (innerNnls); the profiled sum of squares is searched
 * over a grid of (alpha, beta) in the box and polished by bounded L-BFGS with the analytic gradient. The objective is least squares on the
 * loss itself, not on log loss: only on the loss scale is the model linear in (E, A, B), which is what makes
 * the inner problem exact (on log loss it would be a nonlinear fit again). Losses of one experiment span a
 * small range (a factor ~2), so the two weightings differ little; Approach 3 (Huber on log loss) is the robust
 * one when outliers remain.
 *
 * Not well posed (flags, wellPosed false): E = 0 (at its bound: the irreducible loss is not identified),
 * A or B = 0, an exponent at the edge of the search box, or a flat objective (the profiled objective's
 * Hessian is not positive definite, or its curvature standard error exceeds half the exponent).
 */
export function fitVpnls(points: readonly ScalingPoint[], options: VpnlsOptions = {}): VpnlsFit {
  checkScalingPoints(points, 6, 'the VPNLS fit');
  const t0 = performance.now();
  const box = { alpha: options.alpha ?? DEFAULT_BOX, beta: options.beta ?? DEFAULT_BOX };
  const k = options.grid ?? 80;
  const d = makeData(points);
  const s = search(d, box, k);
  const params: ChinchillaParams = { E: s.E, A: s.A, B: s.B, alpha: s.alpha, beta: s.beta };
  const n = points.length;
  const residuals = new Float64Array(n);
  const logResiduals = new Float64Array(n);
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const pred = chinchillaLoss(params, points[i].n, points[i].d);
    residuals[i] = pred - points[i].loss;
    logResiduals[i] = Math.log(pred) - Math.log(points[i].loss);
    sse += residuals[i] ** 2;
  }
  const x = xOf(params);
  const fg = chinchillaObjective(logData(points), HUBER_DELTA);
  const huberLogObjective = fg(Float64Array.of(Math.log(s.A), Math.log(s.B), Math.log(s.E), s.alpha, s.beta), new Float64Array(5));

  // curvature of the profiled objective at the optimum (central differences, step 1e-3)
  const pr = profiled(d);
  const h = 1e-3;
  const fa = (a: number, b: number): number => pr.f(a, b);
  const f0 = fa(s.alpha, s.beta);
  const haa = (fa(s.alpha + h, s.beta) - 2 * f0 + fa(s.alpha - h, s.beta)) / (h * h);
  const hbb = (fa(s.alpha, s.beta + h) - 2 * f0 + fa(s.alpha, s.beta - h)) / (h * h);
  const hab = (fa(s.alpha + h, s.beta + h) - fa(s.alpha + h, s.beta - h) - fa(s.alpha - h, s.beta + h) + fa(s.alpha - h, s.beta - h)) / (4 * h * h);
  const det = haa * hbb - hab * hab;
  const sigma2 = (2 * f0) / Math.max(1, n - 5);
  const seA = det > 0 && haa > 0 ? Math.sqrt((sigma2 * hbb) / det) : Infinity;
  const seB = det > 0 && haa > 0 ? Math.sqrt((sigma2 * haa) / det) : Infinity;
  const tr = haa + hbb;
  const disc = Math.sqrt(Math.max(0, (haa - hbb) ** 2 / 4 + hab * hab));
  const l1 = tr / 2 + disc;
  const l2 = tr / 2 - disc;
  const cond = l2 > 0 ? l1 / l2 : Infinity;

  const flags: string[] = [];
  let minLoss = Infinity;
  for (const p of points) if (p.loss < minLoss) minLoss = p.loss;
  // "at the bound": below 1e-4 of the smallest loss (the polish stops ~1e-8 off in the exponents, where E = 0
  // reads as ~1e-6)
  if (s.E <= 1e-4 * minLoss) flags.push('E at its bound 0: the irreducible loss is not identified by these runs');
  if (s.A <= 0) flags.push('A = 0: no model-size term fitted');
  if (s.B <= 0) flags.push('B = 0: no data term fitted');
  const edge = (v: number, [lo, hi]: [number, number]): boolean =>
    v <= lo + 1e-6 * (hi - lo) || v >= hi - 1e-6 * (hi - lo) || v - lo < (hi - lo) / (k - 1) / 2 || hi - v < (hi - lo) / (k - 1) / 2;
  if (edge(s.alpha, box.alpha)) flags.push(`alpha ${s.alpha.toPrecision(3)} at the edge of the search box [${box.alpha.join(', ')}]`);
  if (edge(s.beta, box.beta)) flags.push(`beta ${s.beta.toPrecision(3)} at the edge of the search box [${box.beta.join(', ')}]`);
  if (!(det > 0 && haa > 0)) flags.push('flat objective: the profiled sum of squares has no curvature in some direction of (alpha, beta)');
  else if (seA > 0.5 * s.alpha || seB > 0.5 * s.beta) {
    flags.push(`flat objective: curvature standard errors alpha +-${seA.toPrecision(2)}, beta +-${seB.toPrecision(2)} exceed half the exponents`);
  }
  return {
    form: 'vpnls',
    formula: 'L(N, D) = E + A / N^alpha + B / D^beta',
    params,
    x,
    objective: s.fun,
    huberLogObjective,
    residuals,
    logResiduals,
    n,
    wellPosed: flags.length === 0,
    flags,
    accounting: options.accounting ?? { n: 'unknown', flops: 'given' },
    diagnostics: {
      searchBox: box,
      gridPoints: k * k,
      evaluations: s.evaluations + pr.count(),
      curvatureSE: { alpha: seA, beta: seB },
      hessianCondition: cond,
      rmse: Math.sqrt(sse / n),
      ms: performance.now() - t0,
    },
  };
}

export interface VpnlsBootstrapOptions {
  samples?: number;
  seed?: number;
  level?: number;
  /** grid points per exponent for each refit's coarse search (default 6), besides the full-data optimum */
  grid?: number;
}

/**
 * Bootstrap over runs: resample r weights each run by how often it was drawn (PRNG seeded by (seed, r)) and
 * refits: L-BFGS from the full-data optimum and from the best cell of a coarse grid (default 6 x 6).
 * Shaped like bootstrapChinchilla's result, so chinchillaAllocationInterval and predictions take it.
 */
export function bootstrapVpnls(points: readonly ScalingPoint[], fit: VpnlsFit, options: VpnlsBootstrapOptions = {}): ChinchillaBootstrap {
  const t0 = performance.now();
  const R = options.samples ?? 1000;
  const seed = options.seed ?? 0;
  const level = options.level ?? 0.95;
  const k = options.grid ?? 6;
  const n = points.length;
  const w = new Float64Array(n);
  const d = makeData(points, w);
  const cols = new Map<ChinchillaKey, number[]>(CHINCHILLA_KEYS.map((key) => [key, []]));
  const xs: Float64Array[] = [];
  let failures = 0;
  const box = fit.diagnostics.searchBox;
  for (let r = 0; r < R; r++) {
    const rng = new SeededRandom(seed * 1000003 + r);
    w.fill(0);
    for (let i = 0; i < n; i++) w[rng.int(n)] += 1;
    const s = search(d, box, k, [fit.params.alpha, fit.params.beta]);
    if (![s.E, s.A, s.B, s.alpha, s.beta].every(Number.isFinite)) {
      failures++;
      continue;
    }
    const p: ChinchillaParams = { E: s.E, A: s.A, B: s.B, alpha: s.alpha, beta: s.beta };
    xs.push(xOf(p));
    for (const key of CHINCHILLA_KEYS) cols.get(key)!.push(p[key]);
  }
  const bw = bootstrapWarnings(failures, R);
  const sum = summarize(CHINCHILLA_KEYS, fit.params, cols, level, failures, seed);
  if (bw.withheld) for (const key of CHINCHILLA_KEYS) sum.ci[key] = [NaN, NaN];
  return {
    ...sum,
    strategy: `VPNLS refit per resample: L-BFGS from the full-data optimum and the best of a ${k} x ${k} exponent grid`,
    failureFraction: bw.failureFraction,
    withheld: bw.withheld,
    warnings: bw.warnings,
    x: bw.withheld ? [] : xs,
    ms: performance.now() - t0,
  };
}
