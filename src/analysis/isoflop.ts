// Chinchilla Approaches 1 and 2: the envelope of training curves over FLOPs, and IsoFLOP parabolas, each
// giving N_opt(C) and D_opt(C) power laws. Approach 3 (the parametric fit) lives in chinchilla.ts.
import type { Accounting, LossCurve, ScalingPoint } from './records.ts';
import { fitLine, fitParabola, fitPowerLaw, type LineFit } from './stats.ts';
import { AnalysisInputError } from './errors.ts';
import { maxOf, minOf } from './extent.ts';

/** A power law y = k C^p fitted in log-log space, with the slope's standard error. */
export interface PowerLaw {
  k: number;
  p: number;
  pStdErr: number;
  r2: number;
  /** number of points fitted */
  n: number;
}

function powerLaw(x: number[], y: number[]): PowerLaw {
  const f = fitPowerLaw(x, y);
  return { k: f.k, p: f.p, pStdErr: f.line.slopeStdErr, r2: f.line.r2, n: x.length };
}

// ---- Approach 2: IsoFLOP profiles

export type ProfileStatus = 'ok' | 'too-few-sizes' | 'not-convex' | 'minimum-outside-sizes';

export interface IsoFlopProfile {
  /** geometric mean of the group's FLOPs */
  c: number;
  cRange: [number, number];
  runs: string[];
  /** loss = c0 + c1 log N + c2 (log N)^2 */
  parabola: { c0: number; c1: number; c2: number; rmse: number } | null;
  nOpt: number;
  dOpt: number;
  lossOpt: number;
  status: ProfileStatus;
  /** why a profile is left out of the power laws */
  reason?: string;
}

export interface IsoFlopFit {
  form: 'chinchilla-approach2';
  profiles: IsoFlopProfile[];
  /** N_opt = k C^a (p = a) and D_opt = k' C^b (p = b), over the profiles with status ok */
  nOpt: PowerLaw | null;
  dOpt: PowerLaw | null;
  /** how runs were grouped into budgets, in words */
  grouping: string;
  accounting: Accounting;
}

export interface IsoFlopOptions {
  /** runs join a budget while C <= (1 + tolerance) * the budget's smallest C (default 0.1) */
  tolerance?: number;
  /** keep profiles whose parabola minimum lies outside the sizes tried (default false) */
  keepExtrapolated?: boolean;
  accounting?: Accounting;
}

/**
 * Hoffmann et al. 2022 section 3.2 (Approach 2): for each FLOP budget fit a parabola of final loss in
 * log N; its vertex is N_opt(C); then N_opt = k C^a and D_opt = k' C^b by least squares in log-log space
 * (Chinchilla: a ~ 0.49, b ~ 0.51). Budgets: runs sorted by C are grouped greedily, a run joining the
 * current budget while its C is within (1 + tolerance) of the budget's smallest C, so nominally equal
 * budgets with rounding or attention-term differences share a profile. D_opt is read off the group's
 * own log D vs log N line at N_opt (= C / (6 N_opt) when C = 6ND exactly).
 */
export function fitIsoFlop(points: readonly ScalingPoint[], options: IsoFlopOptions = {}): IsoFlopFit {
  const tol = options.tolerance ?? 0.1;
  const sorted = [...points].sort((a, b) => a.c - b.c);
  const groups: ScalingPoint[][] = [];
  for (const p of sorted) {
    const g = groups[groups.length - 1];
    if (g && p.c <= g[0].c * (1 + tol)) g.push(p);
    else groups.push([p]);
  }
  const profiles = groups.map((g) => profile(g, options.keepExtrapolated ?? false));
  const ok = profiles.filter((p) => p.status === 'ok');
  if (profiles.length === 0) throw new AnalysisInputError('IsoFLOP fit: no runs', 'import at least 3 runs per FLOP budget');
  return {
    form: 'chinchilla-approach2',
    profiles,
    nOpt: ok.length >= 2 ? powerLaw(ok.map((p) => p.c), ok.map((p) => p.nOpt)) : null,
    dOpt: ok.length >= 2 ? powerLaw(ok.map((p) => p.c), ok.map((p) => p.dOpt)) : null,
    grouping: `runs sorted by C; a run joins the current budget while C <= ${1 + tol} x its smallest C; budget C = geometric mean`,
    accounting: options.accounting ?? { n: 'unknown', flops: 'given' },
  };
}

function profile(g: ScalingPoint[], keepExtrapolated: boolean): IsoFlopProfile {
  const c = Math.exp(g.reduce((s, p) => s + Math.log(p.c), 0) / g.length);
  const base = { c, cRange: [g[0].c, g[g.length - 1].c] as [number, number], runs: g.map((p) => p.id) };
  const sizes = new Set(g.map((p) => p.n)).size;
  if (sizes < 3) {
    return { ...base, parabola: null, nOpt: NaN, dOpt: NaN, lossOpt: NaN, status: 'too-few-sizes', reason: `${sizes} distinct model sizes; a parabola needs 3` };
  }
  const lN = g.map((p) => Math.log(p.n));
  const par = fitParabola(lN, g.map((p) => p.loss));
  if (!(par.c2 > 0)) {
    return { ...base, parabola: par, nOpt: NaN, dOpt: NaN, lossOpt: NaN, status: 'not-convex', reason: `parabola opens downward (c2 = ${par.c2.toPrecision(3)})` };
  }
  const x = -par.c1 / (2 * par.c2);
  const dLine: LineFit = fitLine(lN, g.map((p) => Math.log(p.d)));
  const nOpt = Math.exp(x);
  const dOpt = Math.exp(dLine.intercept + dLine.slope * x);
  const lossOpt = par.c0 + par.c1 * x + par.c2 * x * x;
  const inside = x >= minOf(lN) && x <= maxOf(lN);
  if (!inside && !keepExtrapolated) {
    return { ...base, parabola: par, nOpt, dOpt, lossOpt, status: 'minimum-outside-sizes', reason: `vertex N = ${nOpt.toPrecision(3)} outside the sizes tried` };
  }
  return { ...base, parabola: par, nOpt, dOpt, lossOpt, status: 'ok' };
}

// ---- Approach 1: envelope of training curves

export interface EnvelopePoint {
  c: number;
  loss: number;
  run: string;
  n: number;
  d: number;
}

export interface EnvelopeFit {
  form: 'chinchilla-approach1';
  points: EnvelopePoint[];
  nOpt: PowerLaw | null;
  dOpt: PowerLaw | null;
  accounting: Accounting;
}

/**
 * Hoffmann et al. 2022 section 3.1 (Approach 1): at each of `bins` log-spaced FLOP values, the lowest loss
 * over all runs' curves (each interpolated linearly in log C, only inside its own range) and the run, N and
 * D that reach it; then N_opt = k C^a and D_opt = k' C^b over the envelope. Curve points without FLOPs use
 * C = 6 N tokens. Chinchilla used 1500 FLOP values; the default here is 200.
 */
export function fitEnvelope(curves: readonly LossCurve[], options: { bins?: number; accounting?: Accounting } = {}): EnvelopeFit {
  const bins = options.bins ?? 200;
  const prepared = curves.map((cv) => {
    if (!(cv.n && cv.n > 0)) throw new AnalysisInputError(`curve ${cv.id} has no parameter count`, 'the envelope needs N for every run');
    const pts = cv.points
      .map((p) => ({ c: p.flops ?? 6 * cv.n! * p.tokens, loss: p.loss, d: p.tokens }))
      .filter((p) => p.c > 0 && Number.isFinite(p.loss))
      .sort((a, b) => a.c - b.c);
    return { id: cv.id, n: cv.n, pts };
  }).filter((cv) => cv.pts.length >= 2);
  if (prepared.length === 0) throw new AnalysisInputError('envelope: no curve has two points with FLOPs', 'import loss curves with steps and tokens');
  const cMin = minOf(prepared.map((cv) => cv.pts[0].c));
  const cMax = maxOf(prepared.map((cv) => cv.pts[cv.pts.length - 1].c));
  const out: EnvelopePoint[] = [];
  for (let j = 0; j < bins; j++) {
    const c = Math.exp(Math.log(cMin) + ((Math.log(cMax) - Math.log(cMin)) * j) / Math.max(1, bins - 1));
    let best: EnvelopePoint | null = null;
    for (const cv of prepared) {
      const p = cv.pts;
      if (c < p[0].c || c > p[p.length - 1].c) continue;
      let k = 1;
      while (k < p.length - 1 && p[k].c < c) k++;
      const t = p[k].c === p[k - 1].c ? 0 : (Math.log(c) - Math.log(p[k - 1].c)) / (Math.log(p[k].c) - Math.log(p[k - 1].c));
      const loss = p[k - 1].loss + t * (p[k].loss - p[k - 1].loss);
      const d = Math.exp(Math.log(p[k - 1].d || 1) + t * (Math.log(p[k].d || 1) - Math.log(p[k - 1].d || 1)));
      if (best === null || loss < best.loss) best = { c, loss, run: cv.id, n: cv.n, d };
    }
    if (best) out.push(best);
  }
  const fit = (key: 'n' | 'd'): PowerLaw | null =>
    new Set(out.map((p) => p.run)).size >= 2 ? powerLaw(out.map((p) => p.c), out.map((p) => p[key])) : null;
  return { form: 'chinchilla-approach1', points: out, nOpt: fit('n'), dOpt: fit('d'), accounting: options.accounting ?? { n: 'unknown', flops: 'given' } };
}
