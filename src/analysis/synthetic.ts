// Synthetic data with known answers, for tests, benchmarks and demos: batch-size scans from McCandlish et
// al.'s model with a known B_crit(L), and L(N, D) grids from a known Chinchilla law. No fitting here.
import type { LossCurve, ScalingPoint } from './records.ts';
import { chinchillaLoss, type ChinchillaParams } from './chinchilla.ts';
import { SeededRandom } from '../util/random.ts';

export interface SyntheticScanOptions {
  /** B_crit(L) = bStar / L^(1/alphaB), tokens */
  bStar: number;
  alphaB: number;
  /** S_min(L) = sRef ((L - lossFloor) / (lossRef - lossFloor))^(-p) */
  sRef?: number;
  lossRef?: number;
  lossFloor?: number;
  p?: number;
  /** tokens per step, one curve each */
  batchTokens: number[];
  /** runs per batch size (an LR axis); extra runs are worse by `lrPenalty` in steps */
  runsPerBatch?: number;
  lrPenalty?: number;
  /** the lowest loss the curves reach (each run stops 5% past it), unless `tokenBudget` is given */
  finalLoss: number;
  /** equal token budgets: every run trains tokenBudget / B steps (as a real scan does) */
  tokenBudget?: number;
  /** log-spaced eval points per curve, unless `evalInterval` is given */
  evals?: number;
  /** evals every this many steps, and at the last step (a real trainer's cadence) */
  evalInterval?: number;
  /** relative Gaussian noise on each logged loss */
  noise?: number;
  seed?: number;
  /**
   * linear LR warm-up of W steps, logged in each curve's lrSchedule. Progress per step during it is
   * (lr_t / lr_peak)^warmupPower: 1 is exactly LR-weighted progress, other powers are not (Adam's early steps)
   */
  warmupSteps?: number;
  warmupPower?: number;
  /**
   * an early regime outside the power law: above loss `above` B_crit is lower by `factor` (a logistic step of width
   * `width` in loss), as byte-level models show on their unigram plateau; truth for the law is the power law alone
   */
  earlyRegime?: { above: number; factor: number; width?: number };
  /** replicas per batch size (seeds), each with its own noise and a log-normal step factor of sd seedSpread */
  seeds?: number;
  seedSpread?: number;
  /** peak LR of the first (best) run at each batch size; later runs try x2, x0.5, x4, x0.25 and are slower */
  lr?: number;
}

/**
 * McCandlish et al. 2018 section 2.3 / Kaplan et al. 2020 eq. (5.1): the progress needed to reach loss L at batch
 * B is S(B, L) = S_min(L) (1 + B_crit(L) / B), with B_crit(L) = B* L^(-1/alpha_B) (eq. 5.3) (times the early
 * regime's factor above its loss). A run's progress after s steps is the sum of its per-step rates (warm-up: see
 * warmupPower), times its seed's factor; the loss at an eval is S(B, .) inverted at that progress by bisection,
 * times (1 + noise N(0, 1)). Extra runs at a batch size take (1 + lrPenalty k) times the steps (a worse LR).
 */
export function syntheticBatchScan(o: SyntheticScanOptions): LossCurve[] {
  const sRef = o.sRef ?? 10;
  const lossRef = o.lossRef ?? 4;
  const floor = o.lossFloor ?? 1.5;
  const p = o.p ?? 4;
  const evals = o.evals ?? 80;
  const W = o.warmupSteps ?? 0;
  const gamma = o.warmupPower ?? 1;
  const rng = new SeededRandom(o.seed ?? 0);
  const sMin = (L: number): number => sRef * ((L - floor) / (lossRef - floor)) ** -p;
  const early = (L: number): number =>
    o.earlyRegime ? o.earlyRegime.factor ** (1 / (1 + Math.exp(-(L - o.earlyRegime.above) / (o.earlyRegime.width ?? 0.05)))) : 1;
  const bCrit = (L: number): number => o.bStar * L ** (-1 / o.alphaB) * early(L);
  const progress = (s: number): number => {
    if (s <= W) {
      let u = 0;
      for (let t = 1; t <= s; t++) u += (t / W) ** gamma;
      return u;
    }
    return progress(W) + (s - W);
  };
  const curves: LossCurve[] = [];
  for (const B of o.batchTokens) {
    for (let seed = 0; seed < (o.seeds ?? 1); seed++) {
      const seedFactor = Math.exp((o.seedSpread ?? 0) * rng.normal());
      for (let k = 0; k < (o.runsPerBatch ?? 1); k++) {
        const slow = (1 + (o.lrPenalty ?? 0.3) * k) / seedFactor;
        const steps = (L: number): number => slow * sMin(L) * (1 + bCrit(L) / B);
        const lastStep = o.tokenBudget !== undefined ? Math.max(1, Math.round(o.tokenBudget / B)) : Math.ceil(steps(o.finalLoss) * 1.05);
        const at: number[] = [];
        if (o.evalInterval !== undefined) {
          for (let s = o.evalInterval; s < lastStep; s += o.evalInterval) at.push(s);
          at.push(lastStep);
        } else {
          for (let j = 0; j < evals; j++) {
            const s = Math.max(1, Math.round(Math.exp((Math.log(lastStep) * (j + 1)) / evals)));
            if (at[at.length - 1] !== s) at.push(s);
          }
        }
        const points = at.map((s) => {
          const u = progress(s);
          let lo = floor + 1e-9;
          let hi = 50;
          for (let it = 0; it < 100; it++) {
            const mid = 0.5 * (lo + hi);
            if (steps(mid) > u) lo = mid;
            else hi = mid;
          }
          return { step: s, tokens: s * B, loss: 0.5 * (lo + hi) * (1 + (o.noise ?? 0) * rng.normal()) };
        });
        const peak = (o.lr ?? 1e-3) * [1, 2, 0.5, 4, 0.25][k % 5]; // the best LR in the middle of the axis
        const c: LossCurve = { id: `b${B}-lr${k}${(o.seeds ?? 1) > 1 ? `-s${seed}` : ''}`, batchTokens: B, lr: peak, seed, points };
        if (W > 0) {
          const logged = [...new Set([...Array.from({ length: W }, (_, t) => t + 1), ...at])].sort((a, b) => a - b);
          c.lrSchedule = logged.map((s) => ({ step: s, lr: peak * Math.min(1, s / W) }));
          c.warmupSteps = W;
        }
        curves.push(c);
      }
    }
  }
  return curves;
}

/**
 * Final losses of a grid of runs from a known Chinchilla law (Hoffmann et al. 2022 eq. 2), with C = 6ND
 * and multiplicative log-normal noise: loss = L(N, D) exp(noise N(0, 1)).
 */
export function syntheticChinchilla(params: ChinchillaParams, ns: number[], ds: number[], noise: number, seed = 0): ScalingPoint[] {
  const rng = new SeededRandom(seed);
  const out: ScalingPoint[] = [];
  for (const n of ns)
    for (const d of ds) out.push({ id: `n${n}-d${d}`, n, d, c: 6 * n * d, loss: chinchillaLoss(params, n, d) * Math.exp(noise * rng.normal()) });
  return out;
}

export interface SyntheticIsoFlopOptions {
  /**
   * Off-centre sampling (Open-Athena 2026, "Problems with Chinchilla Approach 2"): the sizes are centred on
   * N_opt(C) times this factor instead of N_opt(C); a function of C makes the offset drift with the budget, as
   * a design centred on a prior allocation law does (default 1: centred).
   */
  offset?: number | ((c: number) => number);
}

/**
 * IsoFLOP design: for each budget C, `sizesPerBudget` model sizes log-spaced over a factor spread^2 around the
 * budget's optimum N_opt(C) (Hoffmann et al. 2022 eq. 4) times `offset`, D = C / (6N), and multiplicative
 * log-normal noise.
 */
export function syntheticIsoFlop(
  params: ChinchillaParams,
  budgets: number[],
  sizesPerBudget: number,
  spread: number,
  noise: number,
  seed = 0,
  options: SyntheticIsoFlopOptions = {},
): ScalingPoint[] {
  const rng = new SeededRandom(seed);
  const out: ScalingPoint[] = [];
  const s = params.alpha + params.beta;
  const G = ((params.alpha * params.A) / (params.beta * params.B)) ** (1 / s);
  const offset = options.offset ?? 1;
  for (const c of budgets) {
    const nStar = G * (c / 6) ** (params.beta / s) * (typeof offset === 'function' ? offset(c) : offset);
    for (let k = 0; k < sizesPerBudget; k++) {
      const n = nStar * spread ** ((2 * k) / (sizesPerBudget - 1) - 1);
      const d = c / (6 * n);
      out.push({ id: `c${c.toExponential(1)}-n${Math.round(n)}`, n, d, c, loss: chinchillaLoss(params, n, d) * Math.exp(noise * rng.normal()) });
    }
  }
  return out;
}
