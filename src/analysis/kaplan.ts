// Kaplan et al. 2020's forms: L(N, D) (eq. 1.5, section 4) and L(N, S_min) (eq. 1.6, section 5.2), fitted
// by least squares in log L with bounded L-BFGS from a small grid, and their bootstraps over runs.
import type { Accounting, ScalingPoint } from './records.ts';
import { lbfgs, type OptimizeResult, type ValueAndGradient, type Bounds } from './optimize.ts';
import { bootstrap, type BootstrapOptions, type BootstrapResult } from './stats.ts';
import { checkScalingPoints } from './chinchilla.ts';
import { AnalysisInputError } from './errors.ts';
import { bootstrapWarnings, checkLndInput, logFitQuality, lndWarnings, pointCounts, warning, type DataCounts, type Warning } from './diagnostics.ts';

export interface KaplanNDParams {
  Nc: number;
  Dc: number;
  alphaN: number;
  alphaD: number;
}
export type KaplanNDKey = keyof KaplanNDParams;
export const KAPLAN_ND_KEYS: KaplanNDKey[] = ['Nc', 'Dc', 'alphaN', 'alphaD'];
/** Kaplan et al. 2020 Table 2 / eq. (1.5) */
export const KAPLAN_ND_PUBLISHED: KaplanNDParams = { Nc: 6.4e13, Dc: 1.8e13, alphaN: 0.076, alphaD: 0.103 };

export interface KaplanNSParams {
  Nc: number;
  Sc: number;
  alphaN: number;
  alphaS: number;
}
export type KaplanNSKey = keyof KaplanNSParams;
/** Kaplan et al. 2020 eq. (1.6) / Table 3 */
export const KAPLAN_NS_PUBLISHED: KaplanNSParams = { Nc: 6.5e13, Sc: 2.1e3, alphaN: 0.077, alphaS: 0.76 };

export interface KaplanFit<P> {
  form: 'kaplan-nd' | 'kaplan-ns';
  formula: string;
  params: P;
  /** optimiser variables: [log Nc, log Dc (or Sc), alphaN, alphaD (or alphaS)] */
  x: Float64Array;
  /** sum of squared log residuals / 2 */
  objective: number;
  accounting: Accounting;
  /** log L_pred - log L per point */
  residuals: Float64Array;
  n: number;
  /** L(N, D): the data the fit stood on (runs, distinct sizes, token counts, budgets, duplicates dropped) */
  counts?: DataCounts;
  /** poor fit, exponents at their bounds, duplicates (docs: analysis/diagnostics.ts WARNING_CODES) */
  warnings: Warning[];
  diagnostics: {
    starts: number;
    converged: number;
    rmseLog: number;
    r2Log?: number;
    optimizer: Pick<OptimizeResult, 'success' | 'message' | 'iterations' | 'evaluations'>;
  };
}

/** A Kaplan bootstrap with its failure fraction; intervals withheld (NaN) when most resamples failed. */
export type KaplanBootstrap<K extends string> = BootstrapResult<K> & { failureFraction: number; withheld: boolean; warnings: Warning[] };

const EXP_BOUNDS: Bounds = [
  [null, null],
  [null, null],
  [1e-4, 5],
  [1e-4, 5],
];

// ---- L(N, D)

/** Kaplan et al. 2020 eq. (1.5): L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D. */
export function kaplanNDLoss(p: KaplanNDParams, N: number, D: number): number {
  return ((p.Nc / N) ** (p.alphaN / p.alphaD) + p.Dc / D) ** p.alphaD;
}

/**
 * sum_i w_i (log L_pred,i - log L_i)^2 / 2 with log L_pred = alpha_D LSE(u1, u2),
 * u1 = (alpha_N/alpha_D)(log N_c - log N), u2 = log D_c - log D; analytic gradient with softmax weights
 * p1, p2: d/dlogNc = alpha_N p1, d/dlogDc = alpha_D p2, d/dalpha_N = p1 (log N_c - log N),
 * d/dalpha_D = LSE - p1 u1.
 */
function ndObjective(lN: Float64Array, lD: Float64Array, lL: Float64Array, w?: Float64Array): ValueAndGradient {
  return (x, g) => {
    const [lNc, lDc, aN, aD] = x;
    g.fill(0);
    let f = 0;
    for (let i = 0; i < lN.length; i++) {
      const wi = w ? w[i] : 1;
      if (wi === 0) continue;
      const u1 = (aN / aD) * (lNc - lN[i]);
      const u2 = lDc - lD[i];
      const m = Math.max(u1, u2);
      const e1 = Math.exp(u1 - m);
      const e2 = Math.exp(u2 - m);
      const s = e1 + e2;
      const lse = m + Math.log(s);
      const r = aD * lse - lL[i];
      f += 0.5 * wi * r * r;
      const h = wi * r;
      const p1 = e1 / s;
      const p2 = e2 / s;
      g[0] += h * aN * p1;
      g[1] += h * aD * p2;
      g[2] += h * p1 * (lNc - lN[i]);
      g[3] += h * (lse - p1 * u1);
    }
    return f;
  };
}

function ndStarts(): Float64Array[] {
  const out: Float64Array[] = [];
  for (const aN of [0.05, 0.1, 0.3])
    for (const aD of [0.05, 0.1, 0.3])
      for (const nc of [8, 11, 14]) for (const dc of [8, 11, 14]) out.push(Float64Array.of(nc * Math.LN10, dc * Math.LN10, aN, aD));
  return out;
}

const ndParams = (x: ArrayLike<number>): KaplanNDParams => ({ Nc: Math.exp(x[0]), Dc: Math.exp(x[1]), alphaN: x[2], alphaD: x[3] });

/** Fit Kaplan's L(N, D) by least squares in log L, best of an 81-point start grid, exponents in [1e-4, 5]. */
export function fitKaplanND(
  points: readonly ScalingPoint[],
  accounting?: Accounting,
  starts: Float64Array[] = ndStarts(),
  data: { duplicatesDropped?: number; budget?: ArrayLike<number> } = {},
): KaplanFit<KaplanNDParams> {
  checkScalingPoints(points, 5, "Kaplan's L(N, D) fit");
  checkLndInput(points, 4, "Kaplan's L(N, D) fit");
  const lN = Float64Array.from(points, (p) => Math.log(p.n));
  const lD = Float64Array.from(points, (p) => Math.log(p.d));
  const lL = Float64Array.from(points, (p) => Math.log(p.loss));
  const best = bestOf(ndObjective(lN, lD, lL), starts);
  const params = ndParams(best.r.x);
  const residuals = Float64Array.from(points, (p, i) => Math.log(kaplanNDLoss(params, p.n, p.d)) - lL[i]);
  const fit = finish('kaplan-nd', 'L(N, D) = [(Nc/N)^(alphaN/alphaD) + Dc/D]^alphaD', params, best, residuals, points.length, accounting, starts.length);
  const counts = pointCounts(points, data.budget, data.duplicatesDropped ?? 0);
  const quality = logFitQuality(
    residuals,
    points.map((p) => p.loss),
  );
  fit.counts = counts;
  fit.diagnostics.r2Log = quality.r2Log;
  fit.warnings.push(...lndWarnings(counts, 4, quality));
  const atBound = (['alphaN', 'alphaD'] as const).filter((k) => !(params[k] > 1.01 * EXP_BOUNDS[2][0]! && params[k] < 0.99 * EXP_BOUNDS[2][1]!));
  if (atBound.length)
    fit.warnings.push(
      warning(
        'not-identified',
        `${atBound.map((k) => `${k} = ${params[k].toPrecision(3)}`).join(', ')} at the bound of [${EXP_BOUNDS[2][0]}, ${EXP_BOUNDS[2][1]}]: not identified by these runs`,
      ),
    );
  return fit;
}

/** bootstrapKaplanND with its failure fraction; intervals withheld when most resamples failed. */
function withFailures<K extends string>(b: BootstrapResult<K>, keys: readonly K[]): KaplanBootstrap<K> {
  const tried = b.failures + (b.samples[keys[0]]?.length ?? 0);
  const bw = bootstrapWarnings(b.failures, tried);
  if (bw.withheld) for (const k of keys) b.ci[k] = [NaN, NaN];
  return { ...b, failureFraction: bw.failureFraction, withheld: bw.withheld, warnings: bw.warnings };
}

export function bootstrapKaplanND(
  points: readonly ScalingPoint[],
  fit: KaplanFit<KaplanNDParams>,
  options: BootstrapOptions = {},
): KaplanBootstrap<KaplanNDKey> {
  const lN = Float64Array.from(points, (p) => Math.log(p.n));
  const lD = Float64Array.from(points, (p) => Math.log(p.d));
  const lL = Float64Array.from(points, (p) => Math.log(p.loss));
  const grid = ndStarts();
  const w = new Float64Array(points.length);
  // warm start from the full-data optimum plus 3 fixed grid points (the same documented speed-up as Approach 3)
  const starts = [fit.x, grid[13], grid[40], grid[67]];
  const res = bootstrap(
    points.length,
    (idx) => {
      w.fill(0);
      for (const i of idx) w[i]++;
      const b = bestOf(ndObjective(lN, lD, lL, w), starts);
      return b.r.x.every(Number.isFinite) ? { ...ndParams(b.r.x) } : null;
    },
    { ...fit.params },
    options,
  );
  return withFailures(res, KAPLAN_ND_KEYS);
}

// ---- L(N, S_min)

export interface StepPoint {
  id: string;
  n: number;
  /** S_min: steps adjusted to the critical batch size, Kaplan eq. (5.4) */
  sMin: number;
  loss: number;
}

/** Kaplan et al. 2020 eq. (1.6): L(N, S_min) = (N_c/N)^alpha_N + (S_c/S_min)^alpha_S. */
export function kaplanNSLoss(p: KaplanNSParams, N: number, sMin: number): number {
  return (p.Nc / N) ** p.alphaN + (p.Sc / sMin) ** p.alphaS;
}

/** log L_pred = LSE(alpha_N (log N_c - log N), alpha_S (log S_c - log S)); x = [log Nc, log Sc, alphaN, alphaS] */
function nsObjective(lN: Float64Array, lS: Float64Array, lL: Float64Array): ValueAndGradient {
  return (x, g) => {
    const [lNc, lSc, aN, aS] = x;
    g.fill(0);
    let f = 0;
    for (let i = 0; i < lN.length; i++) {
      const u1 = aN * (lNc - lN[i]);
      const u2 = aS * (lSc - lS[i]);
      const m = Math.max(u1, u2);
      const e1 = Math.exp(u1 - m);
      const e2 = Math.exp(u2 - m);
      const s = e1 + e2;
      const r = m + Math.log(s) - lL[i];
      f += 0.5 * r * r;
      const p1 = e1 / s;
      const p2 = e2 / s;
      g[0] += r * p1 * aN;
      g[1] += r * p2 * aS;
      g[2] += r * p1 * (lNc - lN[i]);
      g[3] += r * p2 * (lSc - lS[i]);
    }
    return f;
  };
}

/** Fit Kaplan's L(N, S_min) by least squares in log L from a 64-point start grid. */
export function fitKaplanNS(points: readonly StepPoint[], accounting?: Accounting): KaplanFit<KaplanNSParams> {
  if (points.length < 5) {
    throw new AnalysisInputError(`L(N, S_min) needs at least 5 points, got ${points.length}`, 'add runs or eval steps');
  }
  for (const p of points) {
    if (!(p.n > 0 && p.sMin > 0 && p.loss > 0)) throw new AnalysisInputError(`point ${p.id}: N, S_min and loss must be positive`, 'drop that point');
  }
  const lN = Float64Array.from(points, (p) => Math.log(p.n));
  const lS = Float64Array.from(points, (p) => Math.log(p.sMin));
  const lL = Float64Array.from(points, (p) => Math.log(p.loss));
  const starts: Float64Array[] = [];
  for (const aN of [0.05, 0.2])
    for (const aS of [0.2, 0.8]) for (const nc of [8, 11, 14]) for (const sc of [2, 3, 5]) starts.push(Float64Array.of(nc * Math.LN10, sc * Math.LN10, aN, aS));
  const best = bestOf(nsObjective(lN, lS, lL), starts);
  const x = best.r.x;
  const params: KaplanNSParams = { Nc: Math.exp(x[0]), Sc: Math.exp(x[1]), alphaN: x[2], alphaS: x[3] };
  const residuals = Float64Array.from(points, (p, i) => Math.log(kaplanNSLoss(params, p.n, p.sMin)) - lL[i]);
  return finish('kaplan-ns', 'L(N, S_min) = (Nc/N)^alphaN + (Sc/S_min)^alphaS', params, best, residuals, points.length, accounting, starts.length);
}

// ---- shared

function bestOf(fg: ValueAndGradient, starts: Float64Array[]) {
  let r: OptimizeResult | null = null;
  let converged = 0;
  for (const s of starts) {
    const res = lbfgs(fg, s, { bounds: EXP_BOUNDS });
    if (res.success) converged++;
    if (Number.isFinite(res.fun) && (r === null || res.fun < r.fun)) r = res;
  }
  if (r === null) throw new AnalysisInputError('the Kaplan fit found no finite objective from any start', 'check the data for extreme values');
  return { r, converged };
}

function finish<P>(
  form: 'kaplan-nd' | 'kaplan-ns',
  formula: string,
  params: P,
  best: { r: OptimizeResult; converged: number },
  residuals: Float64Array,
  n: number,
  accounting: Accounting | undefined,
  starts: number,
): KaplanFit<P> {
  const { success, message, iterations, evaluations } = best.r;
  let ss = 0;
  for (const r of residuals) ss += r * r;
  return {
    form,
    formula,
    params,
    x: best.r.x,
    objective: best.r.fun,
    accounting: accounting ?? { n: 'unknown', flops: 'given' },
    residuals,
    n,
    warnings: [],
    diagnostics: { starts, converged: best.converged, rmseLog: Math.sqrt(ss / n), optimizer: { success, message, iterations, evaluations } },
  };
}
