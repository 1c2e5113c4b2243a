// Chinchilla Approaches 1 and 2: the envelope of training curves over FLOPs, and IsoFLOP parabolas, each
// giving N_opt(C) and D_opt(C) power laws. Approach 3 (the parametric fit) lives in chinchilla.ts.
import type { Accounting, LossCurve, ScalingPoint } from './records.ts';
import { fitLine, fitParabola, fitPowerLaw, quantile, std, type LineFit } from './stats.ts';
import { SeededRandom } from '../util/random.ts';
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

// ---- FLOP budgets

/** How runs are grouped into IsoFLOP budgets when no budget column is given. */
export interface BudgetOptions {
  /** half-width of a budget in decades of log10 C (default 0.05: within x1.12 of the budget's centre) */
  tolerance?: number;
  /** fewest runs a budget must hold (default 6); runs in smaller clumps are left unassigned */
  minRuns?: number;
  /**
   * a clump of 3 or more runs whose C all lie within this many decades of its centre (default 0.01: within 2.3%) is a
   * budget however few its runs: runs placed on a budget by design (`sweep --design isoflop`), not a density estimate
   */
  exact?: number;
  /** least distance between two budgets' centres, in decades (default 3 x tolerance) */
  separation?: number;
}

export interface BudgetGroup {
  /** the budget: the column's value, or the cluster's centre 10^(mean log10 C) */
  c: number;
  /** indices into the input, increasing */
  members: number[];
}

export interface Budgets {
  source: 'column' | 'clustered';
  /** by increasing c */
  groups: BudgetGroup[];
  /** indices of runs on no budget (clustering only: runs between budgets) */
  unassigned: number[];
  /** how the budgets were found, in words */
  method: string;
}

/** One budget per distinct value of a budget column (the FLOP budget the authors ran). */
export function budgetsFromColumn(budget: ArrayLike<number>): Budgets {
  const by = new Map<number, number[]>();
  for (let i = 0; i < budget.length; i++) {
    const b = budget[i];
    if (!(Number.isFinite(b) && b > 0)) {
      throw new AnalysisInputError(
        `run ${i}: budget ${b} is not a positive number`,
        'fix or drop that run, or leave out the budget column to cluster C instead',
      );
    }
    const m = by.get(b);
    if (m) m.push(i);
    else by.set(b, [i]);
  }
  const groups = [...by.entries()].sort((x, y) => x[0] - y[0]).map(([c, members]) => ({ c, members }));
  return { source: 'column', groups, unassigned: [], method: `budget column: ${groups.length} distinct values` };
}

/**
 * FLOP budgets from noisy C (figure extractions: Epoch AI's reconstruction of Chinchilla has 245 runs whose C
 * scatter by up to ~20% around the 9 budgets Hoffmann et al. ran). In x = log10 C: every run's window
 * [x - tol, x + tol] is moved to the mean of the runs inside it until it stops (flat-kernel mean shift,
 * Fukunaga & Hostetler 1975), which ends at a local density mode; modes are taken densest first, each at
 * least `separation` decades from every mode taken before and holding at least `minRuns` runs; a run joins
 * the nearest mode within tol. Runs near no mode are returned as unassigned (not on an IsoFLOP budget), never
 * made into budgets of their own. Budgets closer than `separation` are not told apart: pass a budget column
 * or a smaller tolerance. Sorting plus binary-searched windows: O(n log n) per shift step, no spreads.
 */
export function clusterBudgets(c: ArrayLike<number>, options: BudgetOptions = {}): Budgets {
  const tol = options.tolerance ?? 0.05;
  const minRuns = options.minRuns ?? 6;
  const sep = options.separation ?? 3 * tol;
  const exact = options.exact ?? 0.01;
  if (!(tol > 0)) throw new AnalysisInputError(`budget tolerance ${tol} is not positive`, 'pass a tolerance in decades of C, e.g. 0.05');
  const n = c.length;
  const order = Array.from({ length: n }, (_, i) => i);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (!(Number.isFinite(c[i]) && c[i] > 0)) throw new AnalysisInputError(`run ${i}: C = ${c[i]} is not a positive number`, 'fix or drop that run');
    x[i] = Math.log10(c[i]);
  }
  order.sort((i, j) => x[i] - x[j]);
  const xs = Float64Array.from(order, (i) => x[i]);
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i] + xs[i];
  const lowerBound = (v: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const upperBound = (v: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // one mode per distinct start value (duplicates shift identically); `width`: the farthest run in its window
  const modes: { centre: number; count: number; width: number }[] = [];
  for (let k = 0; k < n; k++) {
    if (k > 0 && xs[k] === xs[k - 1]) continue;
    let centre = xs[k];
    let count = 0;
    for (let it = 0; it < 100; it++) {
      const lo = lowerBound(centre - tol);
      const hi = upperBound(centre + tol);
      count = hi - lo;
      const next = (prefix[hi] - prefix[lo]) / count;
      if (Math.abs(next - centre) <= 1e-12) break;
      centre = next;
    }
    const lo = lowerBound(centre - tol);
    const hi = upperBound(centre + tol);
    const width = hi > lo ? Math.max(centre - xs[lo], xs[hi - 1] - centre) : Infinity;
    modes.push({ centre, count, width });
  }
  modes.sort((p, q) => q.count - p.count || p.centre - q.centre);
  const taken: number[] = [];
  for (const m of modes) {
    if (m.count < minRuns && !(m.count >= 3 && m.width <= exact)) continue;
    let far = true;
    for (const t of taken) if (Math.abs(t - m.centre) < sep) far = false;
    if (far) taken.push(m.centre);
  }
  taken.sort((p, q) => p - q);
  const members: number[][] = taken.map(() => []);
  const unassigned: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestDist = Infinity;
    for (let k = 0; k < taken.length; k++) {
      const dist = Math.abs(x[i] - taken[k]);
      if (dist < bestDist) {
        bestDist = dist;
        best = k;
      }
    }
    if (best >= 0 && bestDist <= tol) members[best].push(i);
    else unassigned.push(i);
  }
  const groups: BudgetGroup[] = [];
  for (let k = 0; k < taken.length; k++) {
    const mem = members[k];
    if (mem.length === 0) continue;
    let s = 0;
    for (const i of mem) s += x[i];
    groups.push({ c: 10 ** (s / mem.length), members: mem });
  }
  return {
    source: 'clustered',
    groups,
    unassigned,
    method:
      `C clustered in log10 space: density modes (mean shift, window +-${tol} decades = x${(10 ** tol).toFixed(3)}), ` +
      `at least ${minRuns} runs (or 3 within ${exact} decades: a designed budget) and ${sep.toFixed(3)} decades apart; ` +
      `a run joins the nearest mode within ${tol} decades` +
      (unassigned.length ? `; ${unassigned.length} runs near no budget left out` : ''),
  };
}

/** The budgets of a set of runs: the budget column when given (same order as points), else clusterBudgets on C. */
export function isoFlopBudgets(points: readonly ScalingPoint[], options: { budget?: ArrayLike<number>; cluster?: BudgetOptions } = {}): Budgets {
  if (options.budget !== undefined) {
    if (options.budget.length !== points.length) {
      throw new AnalysisInputError(`${options.budget.length} budget values for ${points.length} runs`, 'give one budget per run, in the same order');
    }
    return budgetsFromColumn(options.budget);
  }
  return clusterBudgets(
    Float64Array.from(points, (p) => p.c),
    options.cluster,
  );
}

// ---- Approach 2: IsoFLOP profiles

export type ProfileStatus = 'ok' | 'too-few-sizes' | 'not-convex' | 'minimum-outside-sizes';

export interface IsoFlopProfile {
  /** the budget: the authors' (budget column) or the cluster centre */
  c: number;
  cRange: [number, number];
  runs: string[];
  /** loss = c0 + c1 log N + c2 (log N)^2 */
  parabola: { c0: number; c1: number; c2: number; rmse: number } | null;
  nOpt: number;
  dOpt: number;
  lossOpt: number;
  /** the parabola's vertex lies inside the sizes tried (an interior minimum) */
  interior: boolean;
  status: ProfileStatus;
  /** why a profile is left out of the power laws */
  reason?: string;
}

export interface IsoFlopFit {
  form: 'chinchilla-approach2';
  profiles: IsoFlopProfile[];
  /** N_opt = k C^a (p = a) and D_opt = k' C^b (p = b), over the profiles with status ok; null when not fitted */
  nOpt: PowerLaw | null;
  dOpt: PowerLaw | null;
  /** false with fewer than 3 usable budgets: no law is drawn through 2 minima */
  fitted: boolean;
  /** 'not fitted: why', when not fitted */
  reason?: string;
  /** budgets whose parabola has its minimum inside the sizes tried, of those with a convex parabola */
  interior: { ok: number; total: number; fraction: number };
  budgets: Budgets;
  /** how runs were grouped into budgets, in words */
  grouping: string;
  accounting: Accounting;
}

export interface IsoFlopOptions {
  /** the FLOP budget the authors ran, per point (same order): used instead of clustering C */
  budget?: ArrayLike<number>;
  /** clustering of C when no budget column is given */
  cluster?: BudgetOptions;
  /** keep profiles whose parabola minimum lies outside the sizes tried (default false) */
  keepExtrapolated?: boolean;
  accounting?: Accounting;
}

/** Fewest usable budgets for an N_opt(C) law: two minima always lie on a line, so they test nothing. */
const MIN_BUDGETS = 3;

/**
 * Hoffmann et al. 2022 section 3.2 (Approach 2): for each FLOP budget fit a parabola of final loss in
 * log N; its vertex is N_opt(C); then N_opt = k C^a and D_opt = k' C^b by least squares in log-log space
 * (Chinchilla: a ~ 0.49, b ~ 0.51). Budgets: the budget column when given, else clusterBudgets on C. D_opt is
 * read off the group's own log D vs log N line at N_opt (= C / (6 N_opt) when C = 6ND exactly). A budget
 * with fewer than 3 sizes, a concave parabola, or (unless keepExtrapolated) a vertex outside the sizes tried
 * is reported with its reason and left out; with fewer than 3 usable budgets no law is fitted (fitted false,
 * reason says why). Known biases (Open-Athena 2026): off-centre sampling and alpha != beta move the vertex.
 */
export function fitIsoFlop(points: readonly ScalingPoint[], options: IsoFlopOptions = {}): IsoFlopFit {
  if (points.length === 0) throw new AnalysisInputError('IsoFLOP fit: no runs', 'import at least 3 runs per FLOP budget');
  for (const p of points) {
    for (const k of ['n', 'd', 'c', 'loss'] as const) {
      if (!(Number.isFinite(p[k]) && p[k] > 0)) throw new AnalysisInputError(`run ${p.id}: ${k} = ${p[k]} is not a positive number`, 'fix or drop that run');
    }
  }
  const budgets = isoFlopBudgets(points, options);
  const keep = options.keepExtrapolated ?? false;
  const profiles = budgets.groups.map((g) =>
    profile(
      g.c,
      g.members.map((i) => points[i]),
      keep,
    ),
  );
  return isoFlopLaws(profiles, budgets, options.accounting ?? { n: 'unknown', flops: 'given' });
}

function isoFlopLaws(profiles: IsoFlopProfile[], budgets: Budgets, accounting: Accounting): IsoFlopFit {
  const ok = profiles.filter((p) => p.status === 'ok');
  const convex = profiles.filter((p) => p.parabola !== null && p.parabola.c2 > 0);
  const nInterior = convex.filter((p) => p.interior).length;
  const fitted = ok.length >= MIN_BUDGETS;
  const reason = fitted
    ? undefined
    : `not fitted: ${ok.length} usable budget${ok.length === 1 ? '' : 's'} of ${profiles.length} (need ${MIN_BUDGETS}; a line through 2 minima tests nothing)` +
      (profiles.length > ok.length
        ? `; ${profiles
            .filter((p) => p.status !== 'ok')
            .map((p) => `C ${p.c.toPrecision(3)}: ${p.reason}`)
            .join('; ')}`
        : '');
  return {
    form: 'chinchilla-approach2',
    profiles,
    nOpt: fitted
      ? powerLaw(
          ok.map((p) => p.c),
          ok.map((p) => p.nOpt),
        )
      : null,
    dOpt: fitted
      ? powerLaw(
          ok.map((p) => p.c),
          ok.map((p) => p.dOpt),
        )
      : null,
    fitted,
    reason,
    interior: { ok: nInterior, total: convex.length, fraction: convex.length ? nInterior / convex.length : NaN },
    budgets,
    grouping: budgets.method,
    accounting,
  };
}

function profile(c: number, g: ScalingPoint[], keepExtrapolated: boolean): IsoFlopProfile {
  let cLo = Infinity;
  let cHi = -Infinity;
  for (const p of g) {
    if (p.c < cLo) cLo = p.c;
    if (p.c > cHi) cHi = p.c;
  }
  const base = { c, cRange: [cLo, cHi] as [number, number], runs: g.map((p) => p.id) };
  const sizes = new Set(g.map((p) => p.n)).size;
  if (sizes < 3) {
    return {
      ...base,
      parabola: null,
      nOpt: NaN,
      dOpt: NaN,
      lossOpt: NaN,
      interior: false,
      status: 'too-few-sizes',
      reason: `${sizes} distinct model size${sizes === 1 ? '' : 's'}; a parabola needs 3`,
    };
  }
  const lN = g.map((p) => Math.log(p.n));
  const par = fitParabola(
    lN,
    g.map((p) => p.loss),
  );
  if (!(par.c2 > 0)) {
    return {
      ...base,
      parabola: par,
      nOpt: NaN,
      dOpt: NaN,
      lossOpt: NaN,
      interior: false,
      status: 'not-convex',
      reason: `parabola opens downward (c2 = ${par.c2.toPrecision(3)})`,
    };
  }
  const x = -par.c1 / (2 * par.c2);
  const dLine: LineFit = fitLine(
    lN,
    g.map((p) => Math.log(p.d)),
  );
  const nOpt = Math.exp(x);
  const dOpt = Math.exp(dLine.intercept + dLine.slope * x);
  const lossOpt = par.c0 + par.c1 * x + par.c2 * x * x;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of lN) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const inside = x >= lo && x <= hi;
  if (!inside && !keepExtrapolated) {
    return {
      ...base,
      parabola: par,
      nOpt,
      dOpt,
      lossOpt,
      interior: false,
      status: 'minimum-outside-sizes',
      reason: `vertex N = ${nOpt.toPrecision(3)} outside the sizes tried (${Math.exp(lo).toPrecision(3)}-${Math.exp(hi).toPrecision(3)})`,
    };
  }
  return { ...base, parabola: par, nOpt, dOpt, lossOpt, interior: inside, status: 'ok' };
}

// ---- Approach 2 bootstrap

/** An estimate with its percentile interval and bootstrap standard error. */
export interface Est {
  estimate: number;
  ci: [number, number];
  se: number;
}

export interface IsoFlopBootstrap {
  /** N_opt ~ C^a and D_opt ~ C^b */
  a: Est;
  b: Est;
  samples: { a: Float64Array; b: Float64Array };
  level: number;
  /** resamples with fewer than 3 usable budgets (left out) */
  failures: number;
  seed: number;
  strategy: string;
  ms: number;
}

/**
 * Bootstrap of Approach 2: runs resampled with replacement within each budget (the design, budgets and sizes
 * per budget, is kept), each budget's parabola refitted, and the N_opt(C), D_opt(C) laws refitted over the
 * budgets still usable; percentile intervals on a and b. A resample with fewer than 3 usable budgets counts
 * as a failure. Resample r uses the PRNG seeded by (seed, r).
 */
export function bootstrapIsoFlop(
  points: readonly ScalingPoint[],
  fit: IsoFlopFit,
  options: { samples?: number; seed?: number; level?: number } = {},
): IsoFlopBootstrap {
  const t0 = performance.now();
  const R = options.samples ?? 1000;
  const seed = options.seed ?? 0;
  const level = options.level ?? 0.95;
  const keep = fit.profiles.some((p) => p.status === 'ok' && !p.interior);
  const groups = fit.budgets.groups;
  const as: number[] = [];
  const bs: number[] = [];
  let failures = 0;
  for (let r = 0; r < R; r++) {
    const rng = new SeededRandom(seed * 1000003 + r);
    const profiles = groups.map((g) => {
      const m = g.members.length;
      const pts: ScalingPoint[] = new Array(m);
      for (let k = 0; k < m; k++) pts[k] = points[g.members[rng.int(m)]];
      return profile(g.c, pts, keep);
    });
    const ok = profiles.filter((p) => p.status === 'ok');
    if (ok.length < MIN_BUDGETS) {
      failures++;
      continue;
    }
    const a = fitPowerLaw(
      ok.map((p) => p.c),
      ok.map((p) => p.nOpt),
    ).p;
    const b = fitPowerLaw(
      ok.map((p) => p.c),
      ok.map((p) => p.dOpt),
    ).p;
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      failures++;
      continue;
    }
    as.push(a);
    bs.push(b);
  }
  const q = (1 - level) / 2;
  const est = (v: number[], e: number): Est => ({ estimate: e, ci: [quantile(v, q), quantile(v, 1 - q)], se: std(v) });
  return {
    a: est(as, fit.nOpt?.p ?? NaN),
    b: est(bs, fit.dOpt?.p ?? NaN),
    samples: { a: Float64Array.from(as), b: Float64Array.from(bs) },
    level,
    failures,
    seed,
    strategy: `runs resampled within each of ${groups.length} budgets, parabolas and power laws refitted`,
    ms: performance.now() - t0,
  };
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
  const prepared = curves
    .map((cv) => {
      if (!(cv.n && cv.n > 0)) throw new AnalysisInputError(`curve ${cv.id} has no parameter count`, 'the envelope needs N for every run');
      const pts = cv.points
        .map((p) => ({ c: p.flops ?? 6 * cv.n! * p.tokens, loss: p.loss, d: p.tokens }))
        .filter((p) => p.c > 0 && Number.isFinite(p.loss))
        .sort((a, b) => a.c - b.c);
      return { id: cv.id, n: cv.n, pts };
    })
    .filter((cv) => cv.pts.length >= 2);
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
    new Set(out.map((p) => p.run)).size >= 2
      ? powerLaw(
          out.map((p) => p.c),
          out.map((p) => p[key]),
        )
      : null;
  return { form: 'chinchilla-approach1', points: out, nOpt: fit('n'), dOpt: fit('d'), accounting: options.accounting ?? { n: 'unknown', flops: 'given' } };
}
