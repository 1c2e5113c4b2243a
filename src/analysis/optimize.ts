// Minimisers shaped like scipy.optimize.minimize: L-BFGS with simple bounds (projected, L-BFGS-B style) and
// Nelder-Mead. They return a result object and report non-convergence instead of throwing. No fits here.

/** scipy's OptimizeResult, with camel-case counts (nit -> iterations, nfev -> evaluations). */
export interface OptimizeResult {
  x: Float64Array;
  fun: number;
  /** gradient at x (L-BFGS only) */
  jac?: Float64Array;
  success: boolean;
  /** 0 converged, 1 iteration or evaluation limit, 2 line search or numerical failure */
  status: 0 | 1 | 2;
  message: string;
  iterations: number;
  /** objective evaluations (for L-BFGS: calls of the value-and-gradient function) */
  evaluations: number;
}

/** Value and gradient together: writes the gradient into `grad` and returns the value. */
export type ValueAndGradient = (x: Float64Array, grad: Float64Array) => number;
export type ObjectiveFn = (x: Float64Array) => number;
/** [lower, upper] per coordinate; +-Infinity (or null) for no bound. */
export type Bounds = ReadonlyArray<readonly [number | null, number | null]>;

export interface LbfgsOptions {
  bounds?: Bounds;
  /** number of correction pairs kept (scipy maxcor) */
  memory?: number;
  maxIterations?: number;
  maxEvaluations?: number;
  /** stop when (f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= ftol (scipy's default, factr 1e7 * eps) */
  ftol?: number;
  /** stop when max |projected gradient| <= gtol (scipy pgtol) */
  gtol?: number;
}

const EPS = 2.220446049250313e-16;

// ---- finite differences (fallback when no analytic gradient exists)

/**
 * Wrap a value-only objective as value-and-gradient with central differences, step
 * h_i = eps^(1/3) * max(1, |x_i|) (Nocedal & Wright 2006, section 8.1). Costs 2n + 1 evaluations.
 */
export function finiteDifferenceGradient(f: ObjectiveFn): ValueAndGradient {
  return (x, grad) => {
    const fx = f(x);
    const xt = Float64Array.from(x);
    for (let i = 0; i < x.length; i++) {
      const h = Math.cbrt(EPS) * Math.max(1, Math.abs(x[i]));
      xt[i] = x[i] + h;
      const fp = f(xt);
      xt[i] = x[i] - h;
      const fm = f(xt);
      xt[i] = x[i];
      grad[i] = (fp - fm) / (2 * h);
    }
    return fx;
  };
}

// ---- L-BFGS with bounds

/**
 * Limited-memory BFGS (Nocedal & Wright 2006, Algorithm 7.4 two-loop recursion; Liu & Nocedal 1989) with
 * simple bounds handled by projection, not by L-BFGS-B's generalized Cauchy point (Byrd, Lu, Nocedal & Zhu
 * 1995): each iteration fixes the variables that sit on a bound with the gradient pushing outward, takes
 * the two-loop direction over the free variables, clips the step at the first bound it would cross, and
 * runs a strong-Wolfe line search (c1 1e-3, c2 0.9, as scipy's L-BFGS-B) on that segment. Stopping rules
 * and defaults follow scipy's L-BFGS-B (ftol 2.22e-9, gtol 1e-5, memory 10, 15000 iterations and
 * evaluations). Without bounds this is plain L-BFGS.
 */
export function lbfgs(fg: ValueAndGradient, x0: ArrayLike<number>, options: LbfgsOptions = {}): OptimizeResult {
  const n = x0.length;
  const m = options.memory ?? 10;
  const maxIt = options.maxIterations ?? 15000;
  const maxEv = options.maxEvaluations ?? 15000;
  const ftol = options.ftol ?? 2.220446049250313e-9;
  const gtol = options.gtol ?? 1e-5;
  const lo = new Float64Array(n).fill(-Infinity);
  const hi = new Float64Array(n).fill(Infinity);
  if (options.bounds) {
    if (options.bounds.length !== n) throw new RangeError(`lbfgs: ${options.bounds.length} bounds for ${n} variables`);
    options.bounds.forEach(([l, h], i) => {
      lo[i] = l ?? -Infinity;
      hi[i] = h ?? Infinity;
      if (lo[i] > hi[i]) throw new RangeError(`lbfgs: bound ${i} has lower ${lo[i]} > upper ${hi[i]}`);
    });
  }
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.min(hi[i], Math.max(lo[i], x0[i]));
  const g = new Float64Array(n);
  let evaluations = 1;
  let f = fg(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(n);
  const free = new Uint8Array(n);
  const alphaBuf = new Float64Array(m);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  let iterations = 0;
  const done = (status: 0 | 1 | 2, message: string): OptimizeResult => ({
    x: Float64Array.from(x),
    fun: f,
    jac: Float64Array.from(g),
    success: status === 0,
    status,
    message,
    iterations,
    evaluations,
  });
  if (!Number.isFinite(f)) return done(2, 'ABNORMAL: objective is not finite at the starting point');

  for (;;) {
    // projected gradient, scipy's pgtol test P(x - g) - x, written so that it does not round to 0 at large x
    let pgMax = 0;
    for (let i = 0; i < n; i++) {
      const p = Math.min(hi[i] - x[i], Math.max(lo[i] - x[i], -g[i]));
      pgMax = Math.max(pgMax, Math.abs(p));
      free[i] = (x[i] <= lo[i] && g[i] > 0) || (x[i] >= hi[i] && g[i] < 0) ? 0 : 1;
    }
    if (pgMax <= gtol) return done(0, 'CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL');
    if (iterations >= maxIt) return done(1, 'STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT');
    if (evaluations >= maxEv) return done(1, 'STOP: TOTAL NO. OF f AND g EVALUATIONS EXCEEDS LIMIT');

    let attempt = 0;
    let accepted = false;
    while (!accepted) {
      twoLoop(d, g, free, S, Y, rho, alphaBuf);
      // a component that would leave the box at once is dropped (projection of the direction)
      for (let i = 0; i < n; i++) if ((x[i] <= lo[i] && d[i] < 0) || (x[i] >= hi[i] && d[i] > 0)) d[i] = 0;
      let slope = 0;
      for (let i = 0; i < n; i++) slope += g[i] * d[i];
      if (!(slope < 0)) {
        // not a descent direction: forget the curvature pairs and use steepest descent over the free set
        S.length = Y.length = rho.length = 0;
        for (let i = 0; i < n; i++) d[i] = free[i] ? -g[i] : 0;
        for (let i = 0; i < n; i++) if ((x[i] <= lo[i] && d[i] < 0) || (x[i] >= hi[i] && d[i] > 0)) d[i] = 0;
        slope = 0;
        for (let i = 0; i < n; i++) slope += g[i] * d[i];
        if (!(slope < 0)) return done(0, 'CONVERGENCE: NO DESCENT DIRECTION INSIDE THE BOUNDS');
      }
      let stpMax = Infinity;
      let dNorm = 0;
      for (let i = 0; i < n; i++) {
        if (d[i] > 0) stpMax = Math.min(stpMax, (hi[i] - x[i]) / d[i]);
        else if (d[i] < 0) stpMax = Math.min(stpMax, (lo[i] - x[i]) / d[i]);
        dNorm += d[i] * d[i];
      }
      dNorm = Math.sqrt(dNorm);
      // first step (or after a reset): length 1/||d||, as L-BFGS-B does; afterwards the unit step
      const stp0 = Math.min(S.length === 0 ? 1 / dNorm : 1, stpMax);
      const ls = strongWolfe(fg, x, f, slope, d, stp0, stpMax, xNew, gNew, maxEv - evaluations, lo, hi);
      evaluations += ls.evaluations;
      if (ls.ok) {
        accepted = true;
        const fOld = f;
        const s = new Float64Array(n);
        const y = new Float64Array(n);
        let sy = 0;
        let yy = 0;
        for (let i = 0; i < n; i++) {
          s[i] = xNew[i] - x[i];
          y[i] = gNew[i] - g[i];
          sy += s[i] * y[i];
          yy += y[i] * y[i];
        }
        x.set(xNew);
        g.set(gNew);
        f = ls.f;
        iterations++;
        if (sy > EPS * yy) {
          if (S.length === m) {
            S.shift();
            Y.shift();
            rho.shift();
          }
          S.push(s);
          Y.push(y);
          rho.push(1 / sy);
        }
        if (!Number.isFinite(f)) return done(2, 'ABNORMAL: objective is not finite');
        if ((fOld - f) / Math.max(Math.abs(fOld), Math.abs(f), 1) <= ftol) {
          return done(0, 'CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH');
        }
      } else if (evaluations >= maxEv) {
        return done(1, 'STOP: TOTAL NO. OF f AND g EVALUATIONS EXCEEDS LIMIT');
      } else if (attempt === 0 && S.length > 0) {
        S.length = Y.length = rho.length = 0; // retry once from steepest descent
        attempt++;
      } else {
        return done(2, 'ABNORMAL_TERMINATION_IN_LNSRCH');
      }
    }
  }
}

/** d = -H g over the free coordinates (Nocedal & Wright 2006, Algorithm 7.4), H0 = (s'y / y'y) I. */
function twoLoop(d: Float64Array, g: Float64Array, free: Uint8Array, S: Float64Array[], Y: Float64Array[], rho: number[], alpha: Float64Array): void {
  const n = g.length;
  for (let i = 0; i < n; i++) d[i] = free[i] ? -g[i] : 0;
  const k = S.length;
  for (let j = k - 1; j >= 0; j--) {
    let a = 0;
    const s = S[j];
    for (let i = 0; i < n; i++) if (free[i]) a += s[i] * d[i];
    a *= rho[j];
    alpha[j] = a;
    const y = Y[j];
    for (let i = 0; i < n; i++) if (free[i]) d[i] -= a * y[i];
  }
  if (k > 0) {
    const s = S[k - 1];
    const y = Y[k - 1];
    let sy = 0;
    let yy = 0;
    for (let i = 0; i < n; i++) {
      sy += s[i] * y[i];
      yy += y[i] * y[i];
    }
    const gamma = sy / yy;
    for (let i = 0; i < n; i++) d[i] *= gamma;
  }
  for (let j = 0; j < k; j++) {
    let b = 0;
    const y = Y[j];
    for (let i = 0; i < n; i++) if (free[i]) b += y[i] * d[i];
    b *= rho[j];
    const s = S[j];
    for (let i = 0; i < n; i++) if (free[i]) d[i] += s[i] * (alpha[j] - b);
  }
}

interface LineSearch {
  ok: boolean;
  f: number;
  evaluations: number;
}

/**
 * Strong-Wolfe line search (Nocedal & Wright 2006, Algorithms 3.5 and 3.6, cubic interpolation with
 * safeguards) on x + t d for t in (0, tMax]. On success xNew, gNew hold the accepted point. Returns the
 * best sufficient-decrease point when the curvature condition cannot be met (e.g. at tMax, or a linear
 * objective), and ok = false only when no step decreases f enough.
 */
function strongWolfe(
  fg: ValueAndGradient,
  x: Float64Array,
  f0: number,
  slope0: number,
  d: Float64Array,
  t0: number,
  tMax: number,
  xNew: Float64Array,
  gNew: Float64Array,
  budget: number,
  lo: Float64Array,
  hi: Float64Array,
): LineSearch {
  const c1 = 1e-3;
  const c2 = 0.9;
  const n = x.length;
  let evaluations = 0;
  let bestT = 0;
  let bestF = f0;
  const bestX = new Float64Array(n);
  const bestG = new Float64Array(n);
  const phi = (t: number): [number, number] => {
    // clipping only removes rounding past the bound the step was cut at (t <= tMax)
    for (let i = 0; i < n; i++) xNew[i] = Math.min(hi[i], Math.max(lo[i], x[i] + t * d[i]));
    evaluations++;
    const fv = fg(xNew, gNew);
    let dv = 0;
    for (let i = 0; i < n; i++) dv += gNew[i] * d[i];
    if (Number.isFinite(fv) && fv <= f0 + c1 * t * slope0 && fv < bestF) {
      bestT = t;
      bestF = fv;
      bestX.set(xNew);
      bestG.set(gNew);
    }
    return [Number.isFinite(fv) ? fv : Infinity, Number.isFinite(dv) ? dv : NaN];
  };
  const accept = (fv: number): LineSearch => ({ ok: true, f: fv, evaluations });
  const fallback = (): LineSearch => {
    if (bestT > 0) {
      xNew.set(bestX);
      gNew.set(bestG);
      return { ok: true, f: bestF, evaluations };
    }
    return { ok: false, f: f0, evaluations };
  };

  let tPrev = 0;
  let fPrev = f0;
  let dPrev = slope0;
  let t = t0;
  const maxSteps = Math.min(40, budget);
  for (let k = 0; k < maxSteps; k++) {
    const [ft, dt] = phi(t);
    if (ft > f0 + c1 * t * slope0 || (k > 0 && ft >= fPrev) || Number.isNaN(dt)) {
      return zoom(tPrev, fPrev, dPrev, t, ft, dt);
    }
    if (Math.abs(dt) <= -c2 * slope0) return accept(ft);
    if (dt >= 0) return zoom(t, ft, dt, tPrev, fPrev, dPrev);
    if (t >= tMax) return accept(ft); // hit the bound still descending: stop there
    tPrev = t;
    fPrev = ft;
    dPrev = dt;
    t = Math.min(tMax, t * 4);
  }
  return fallback();

  function zoom(tLo: number, fLo: number, dLo: number, tHi: number, fHi: number, dHi: number): LineSearch {
    for (let k = 0; k < 30 && evaluations < budget; k++) {
      const width = Math.abs(tHi - tLo);
      if (width <= 1e-16 * Math.max(1, Math.abs(tLo))) break;
      let tj = cubicMin(tLo, fLo, dLo, tHi, fHi, dHi);
      const a = Math.min(tLo, tHi);
      const b = Math.max(tLo, tHi);
      if (!Number.isFinite(tj) || tj < a + 0.1 * width || tj > b - 0.1 * width) tj = 0.5 * (tLo + tHi);
      const [fj, dj] = phi(tj);
      if (fj > f0 + c1 * tj * slope0 || fj >= fLo || Number.isNaN(dj)) {
        tHi = tj;
        fHi = fj;
        dHi = dj;
      } else {
        if (Math.abs(dj) <= -c2 * slope0) return accept(fj);
        if (dj * (tHi - tLo) >= 0) {
          tHi = tLo;
          fHi = fLo;
          dHi = dLo;
        }
        tLo = tj;
        fLo = fj;
        dLo = dj;
      }
    }
    return fallback();
  }
}

/** minimiser of the cubic through (a, fa, da), (b, fb, db) (Nocedal & Wright 2006, eq. 3.59); NaN if none */
function cubicMin(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  if (!Number.isFinite(fa) || !Number.isFinite(fb) || Number.isNaN(da) || Number.isNaN(db)) return NaN;
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  if (disc < 0) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  return b - (b - a) * ((db + d2 - d1) / (db - da + 2 * d2));
}

// ---- Nelder-Mead

export interface NelderMeadOptions {
  bounds?: Bounds;
  maxIterations?: number;
  maxEvaluations?: number;
  /** absolute spread of the simplex in x and in f below which it stops (scipy xatol, fatol) */
  xatol?: number;
  fatol?: number;
  /** dimension-dependent coefficients (Gao & Han 2012), scipy's `adaptive` */
  adaptive?: boolean;
}

/**
 * Nelder-Mead simplex (Nelder & Mead 1965), following scipy's _minimize_neldermead step for step: initial
 * simplex x0 with each coordinate moved by 5% (0.00025 when it is 0), reflection, expansion, outside and
 * inside contraction, shrink; defaults 200 n iterations and evaluations, xatol = fatol = 1e-4. Bounds are
 * enforced by clipping every trial point, as scipy does.
 */
export function nelderMead(f: ObjectiveFn, x0: ArrayLike<number>, options: NelderMeadOptions = {}): OptimizeResult {
  const n = x0.length;
  const maxIt = options.maxIterations ?? 200 * n;
  const maxEv = options.maxEvaluations ?? 200 * n;
  const xatol = options.xatol ?? 1e-4;
  const fatol = options.fatol ?? 1e-4;
  const [rho, chi, psi, sigma] = options.adaptive ? [1, 1 + 2 / n, 0.75 - 1 / (2 * n), 1 - 1 / n] : [1, 2, 0.5, 0.5];
  const clip = (v: Float64Array): Float64Array => {
    if (options.bounds) {
      options.bounds.forEach(([l, h], i) => {
        v[i] = Math.min(h ?? Infinity, Math.max(l ?? -Infinity, v[i]));
      });
    }
    return v;
  };
  let evaluations = 0;
  const F = (v: Float64Array): number => {
    evaluations++;
    const r = f(v);
    return Number.isNaN(r) ? Infinity : r;
  };
  const sim: Float64Array[] = [clip(Float64Array.from(x0))];
  for (let k = 0; k < n; k++) {
    const y = Float64Array.from(x0);
    y[k] = y[k] !== 0 ? 1.05 * y[k] : 0.00025;
    sim.push(clip(y));
  }
  let fs = sim.map(F);
  const order = (): void => {
    const idx = fs.map((_, i) => i).sort((a, b) => fs[a] - fs[b]);
    const s2 = idx.map((i) => sim[i]);
    fs = idx.map((i) => fs[i]);
    for (let i = 0; i <= n; i++) sim[i] = s2[i];
  };
  order();
  const comb = (a: number, u: Float64Array, b: number, v: Float64Array): Float64Array => {
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) r[i] = a * u[i] + b * v[i];
    return clip(r);
  };
  let iterations = 0;
  while (evaluations < maxEv && iterations < maxIt) {
    let xs = 0;
    let fsd = 0;
    for (let j = 1; j <= n; j++) {
      for (let i = 0; i < n; i++) xs = Math.max(xs, Math.abs(sim[j][i] - sim[0][i]));
      fsd = Math.max(fsd, Math.abs(fs[0] - fs[j]));
    }
    if (xs <= xatol && fsd <= fatol) break;
    const xbar = new Float64Array(n);
    for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) xbar[i] += sim[j][i] / n;
    const worst = sim[n];
    const xr = comb(1 + rho, xbar, -rho, worst);
    const fxr = F(xr);
    let shrink = false;
    if (fxr < fs[0]) {
      const xe = comb(1 + rho * chi, xbar, -rho * chi, worst);
      const fxe = F(xe);
      if (fxe < fxr) [sim[n], fs[n]] = [xe, fxe];
      else [sim[n], fs[n]] = [xr, fxr];
    } else if (fxr < fs[n - 1]) {
      [sim[n], fs[n]] = [xr, fxr];
    } else if (fxr < fs[n]) {
      const xc = comb(1 + psi * rho, xbar, -psi * rho, worst);
      const fxc = F(xc);
      if (fxc <= fxr) [sim[n], fs[n]] = [xc, fxc];
      else shrink = true;
    } else {
      const xcc = comb(1 - psi, xbar, psi, worst);
      const fxcc = F(xcc);
      if (fxcc < fs[n]) [sim[n], fs[n]] = [xcc, fxcc];
      else shrink = true;
    }
    if (shrink) {
      for (let j = 1; j <= n; j++) {
        sim[j] = comb(1 - sigma, sim[0], sigma, sim[j]);
        fs[j] = F(sim[j]);
      }
    }
    order();
    iterations++;
  }
  const base = { x: Float64Array.from(sim[0]), fun: fs[0], iterations, evaluations };
  if (evaluations >= maxEv) return { ...base, success: false, status: 1, message: 'Maximum number of function evaluations has been exceeded.' };
  if (iterations >= maxIt) return { ...base, success: false, status: 1, message: 'Maximum number of iterations has been exceeded.' };
  return { ...base, success: true, status: 0, message: 'Optimization terminated successfully.' };
}
