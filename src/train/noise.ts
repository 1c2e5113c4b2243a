// The gradient noise scale probe (McCandlish et al. 2018, "An Empirical Model of Large-Batch Training",
// section 2.2 and appendix A.1): unbiased |G|^2 and tr(Sigma) from gradient norms at two batch sizes, each
// step's raw pair (what the metric rows log, so analysis can take a ratio of means over a loss bin) and their
// bias-corrected EMAs (as GPT-NeoX's gradient_noise_scale.py; the live B_simple). The trainer feeds it norms.

/**
 * One measurement: the squared norms of micro-batch gradients (each over bSmall sequences) and of the
 * accumulated gradient over bBig = m * bSmall sequences, all of the mean loss.
 */
export interface NoiseSample {
  bSmall: number;
  bBig: number;
  /** |G_small|^2 for each micro-batch; their mean is a lower-variance estimate of E|G_bSmall|^2 */
  microGradSq: readonly number[];
  /** |G_big|^2 of the accumulated (mean) gradient */
  gradSq: number;
}

export interface NoiseEstimate {
  /** bias-corrected EMA of the |G|^2 estimate */
  gradSq: number;
  /** bias-corrected EMA of the tr(Sigma) estimate (per-sequence covariance) */
  traceSigma: number;
  /** B_simple = tr(Sigma) / |G|^2, in sequences (multiply by T for tokens) */
  bSimple: number;
}

/** One step's unbiased estimates (before any smoothing): the means of many of them are unbiased too. */
export interface RawNoiseEstimate {
  /** unbiased estimate of |G|^2 (can be negative on one step when the gradient is small against the noise) */
  gradSq: number;
  /** unbiased estimate of tr(Sigma), per-sequence covariance */
  traceSigma: number;
}

export interface NoiseProbeState {
  emaGradSq: number;
  emaTrace: number;
  count: number;
}

/**
 * E|G_B|^2 = |G|^2 + tr(Sigma)/B (McCandlish et al. 2018, eq. A.1), so two batch sizes give
 *   |G|^2     ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
 *   tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big)
 * Each is unbiased; their ratio is not, so we average each separately before dividing.
 */
export function unbiasedEstimates(sample: NoiseSample): RawNoiseEstimate {
  const { bSmall, bBig, microGradSq, gradSq } = sample;
  if (!(bBig > bSmall && bSmall > 0)) throw new RangeError(`noise probe needs 0 < bSmall < bBig, got ${bSmall}, ${bBig}`);
  if (microGradSq.length === 0) throw new RangeError('noise probe needs at least one micro-batch gradient norm');
  let small = 0;
  for (const g of microGradSq) small += g;
  small /= microGradSq.length;
  return {
    gradSq: (bBig * gradSq - bSmall * small) / (bBig - bSmall),
    traceSigma: (small - gradSq) / (1 / bSmall - 1 / bBig),
  };
}

/** Exponential moving averages of both estimates with Adam-style bias correction (beta 0.99 default). */
export class NoiseProbe {
  private state: NoiseProbeState = { emaGradSq: 0, emaTrace: 0, count: 0 };

  constructor(readonly beta = 0.99) {
    if (!(beta >= 0 && beta < 1)) throw new RangeError(`noise probe EMA beta must be in [0, 1), got ${beta}`);
  }

  /** Add one measurement; returns the current smoothed estimate and this step's raw estimates. */
  update(sample: NoiseSample): NoiseEstimate & { raw: RawNoiseEstimate } {
    const raw = unbiasedEstimates(sample);
    const s = this.state;
    s.emaGradSq = this.beta * s.emaGradSq + (1 - this.beta) * raw.gradSq;
    s.emaTrace = this.beta * s.emaTrace + (1 - this.beta) * raw.traceSigma;
    s.count++;
    return { ...this.estimate()!, raw };
  }

  /** The smoothed estimate, or undefined before the first update. */
  estimate(): NoiseEstimate | undefined {
    const s = this.state;
    if (s.count === 0) return undefined;
    const correction = 1 - this.beta ** s.count;
    const gradSq = s.emaGradSq / correction;
    const traceSigma = s.emaTrace / correction;
    return { gradSq, traceSigma, bSimple: traceSigma / gradSq };
  }

  getState(): NoiseProbeState {
    return { ...this.state };
  }

  setState(state: NoiseProbeState): void {
    this.state = { ...state };
  }
}
