// Synthetic data with known answers, for tests, benchmarks and demos: batch-size scans from McCandlish et
// al.'s model with a known B_crit(L), and L(N, D) grids from a known Chinchilla law. No fitting here.
import type { LossCurve, ScalingPoint } from './records.ts';
import { chinchillaLoss, type ChinchillaParams } from './chinchilla.ts';
import { SeededRandom } from './random.ts';

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
  /** the lowest loss the curves reach */
  finalLoss: number;
  /** log-spaced eval points per curve */
  evals?: number;
  /** relative Gaussian noise on each logged loss */
  noise?: number;
  seed?: number;
}

/**
 * McCandlish et al. 2018 section 2.3 / Kaplan et al. 2020 eq. (5.1): the steps to reach loss L at batch B
 * are S(B, L) = S_min(L) (1 + B_crit(L) / B), with B_crit(L) = B* L^(-1/alpha_B) (eq. 5.3). Each curve
 * inverts S(B, L) = s for L by bisection at log-spaced eval steps and multiplies the loss by
 * (1 + noise * N(0, 1)). Extra runs at a batch size take (1 + lrPenalty k) times the steps (a worse LR).
 */
export function syntheticBatchScan(o: SyntheticScanOptions): LossCurve[] {
  const sRef = o.sRef ?? 10;
  const lossRef = o.lossRef ?? 4;
  const floor = o.lossFloor ?? 1.5;
  const p = o.p ?? 4;
  const evals = o.evals ?? 80;
  const rng = new SeededRandom(o.seed ?? 0);
  const sMin = (L: number): number => sRef * ((L - floor) / (lossRef - floor)) ** -p;
  const bCrit = (L: number): number => o.bStar * L ** (-1 / o.alphaB);
  const curves: LossCurve[] = [];
  for (const B of o.batchTokens) {
    for (let k = 0; k < (o.runsPerBatch ?? 1); k++) {
      const slow = 1 + (o.lrPenalty ?? 0.3) * k;
      const steps = (L: number): number => slow * sMin(L) * (1 + bCrit(L) / B);
      const lastStep = steps(o.finalLoss) * 1.05;
      const points: { step: number; tokens: number; loss: number }[] = [];
      for (let j = 0; j < evals; j++) {
        const s = Math.max(1, Math.round(Math.exp((Math.log(lastStep) * (j + 1)) / evals)));
        if (points.length && points[points.length - 1].step === s) continue;
        let lo = floor + 1e-9;
        let hi = 50;
        for (let it = 0; it < 100; it++) {
          const mid = 0.5 * (lo + hi);
          if (steps(mid) > s) lo = mid;
          else hi = mid;
        }
        const loss = 0.5 * (lo + hi) * (1 + (o.noise ?? 0) * rng.normal());
        points.push({ step: s, tokens: s * B, loss });
      }
      curves.push({ id: `b${B}-lr${k}`, batchTokens: B, points });
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
  for (const n of ns) for (const d of ds) out.push({ id: `n${n}-d${d}`, n, d, c: 6 * n * d, loss: chinchillaLoss(params, n, d) * Math.exp(noise * rng.normal()) });
  return out;
}

/** IsoFLOP design: for each budget C, model sizes log-spaced around the budget's optimum, D = C / (6N). */
export function syntheticIsoFlop(params: ChinchillaParams, budgets: number[], sizesPerBudget: number, spread: number, noise: number, seed = 0): ScalingPoint[] {
  const rng = new SeededRandom(seed);
  const out: ScalingPoint[] = [];
  const s = params.alpha + params.beta;
  const G = ((params.alpha * params.A) / (params.beta * params.B)) ** (1 / s);
  for (const c of budgets) {
    const nStar = G * (c / 6) ** (params.beta / s);
    for (let k = 0; k < sizesPerBudget; k++) {
      const n = nStar * spread ** ((2 * k) / (sizesPerBudget - 1) - 1);
      const d = c / (6 * n);
      out.push({ id: `c${c.toExponential(1)}-n${Math.round(n)}`, n, d, c, loss: chinchillaLoss(params, n, d) * Math.exp(noise * rng.normal()) });
    }
  }
  return out;
}
