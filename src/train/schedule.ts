// Learning-rate schedules: linear warm-up, then constant, cosine to a floor, or warm-up-stable-decay.
// Pure functions of the step, so a resumed run needs no schedule state.

export type ScheduleKind = 'constant' | 'cosine' | 'wsd';

export interface Schedule {
  kind: ScheduleKind;
  /** peak learning rate, reached at the end of warm-up */
  lr: number;
  /** optimiser steps of linear warm-up from lr/warmup to lr */
  warmupSteps: number;
  /** the floor, as a fraction of lr (cosine and wsd end there) */
  minLrRatio: number;
  /** wsd: the fraction of all steps spent in the final linear decay (Hu et al. 2024, MiniCPM) */
  decayFraction: number;
}

/** Learning rate for optimiser step `step` (1-based, as AdamW's t) of a run of totalSteps steps. */
export function learningRate(s: Schedule, step: number, totalSteps: number): number {
  if (step <= s.warmupSteps) return (s.lr * step) / s.warmupSteps;
  const floor = s.lr * s.minLrRatio;
  switch (s.kind) {
    case 'constant':
      return s.lr;
    case 'cosine': {
      // Loshchilov & Hutter 2017 (SGDR), one cycle from the end of warm-up to the last step
      const span = Math.max(1, totalSteps - s.warmupSteps);
      const progress = Math.min(1, (step - s.warmupSteps) / span);
      return floor + 0.5 * (s.lr - floor) * (1 + Math.cos(Math.PI * progress));
    }
    case 'wsd': {
      const decaySteps = Math.max(1, Math.round(totalSteps * s.decayFraction));
      const decayStart = totalSteps - decaySteps;
      if (step <= decayStart) return s.lr;
      const progress = Math.min(1, (step - decayStart) / decaySteps);
      return s.lr + (floor - s.lr) * progress;
    }
    default:
      return s.kind satisfies never;
  }
}
