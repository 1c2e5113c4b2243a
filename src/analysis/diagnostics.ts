// What every fit says about itself besides its estimates (issue 15): how much data it stood on (distinct model sizes,
// token counts, budgets, batch sizes, duplicates dropped), whether the input can support the law at all (refused with a
// reason when not), how well the law fits (rmse and R^2 of log loss), which parameters the data do not identify (at a
// bound), and a machine-readable list of warnings, each a code and a message. Diagnostics add information; they never
// change an estimate.
import type { ScalingPoint } from './records.ts';
import { AnalysisInputError } from './errors.ts';
import { maxOf, minOf } from './extent.ts';

/**
 * The warning codes, each with what it means (the CLI's --help and docs cite this table). A result carries
 * `warnings: Warning[]`; under --strict a command exits with EXIT_WARNINGS when any result has one.
 */
export const WARNING_CODES = {
  'duplicate-rows': 'exact duplicate rows were dropped before fitting (duplicates would narrow the intervals)',
  'poor-fit': 'the law fits the data poorly: rmse of log loss above RMSE_LOG_WARN (0.1); pooled experiments, or the wrong form',
  'not-identified': 'a parameter ran to a bound (E -> 0, an exponent at its limit): the data do not identify it',
  'few-points': 'fewer than 2 runs per fitted parameter: the intervals are wide and the fit fragile',
  'bootstrap-failures': 'some bootstrap resamples could not be fitted: the intervals understate the uncertainty',
  'intervals-withheld': 'most bootstrap resamples failed: no interval is reported',
  'bcrit-falls': "B_crit falls as the loss falls (alpha_B < 0), against the law's premise (Kaplan et al. 2020 fig. 10)",
  'bcrit-weak': 'the B_crit(L) law is weakly determined (levels scatter about the line, or span a short loss range)',
  'approach2-not-fitted': 'only two usable IsoFLOP minima: a line through them tests nothing, so Approach 2 gives no N_opt(C) law',
} as const;

export type WarningCode = keyof typeof WARNING_CODES;

export interface Warning {
  code: WarningCode;
  message: string;
}

/** rmse of log loss above which a fit is flagged as poor: the fixtures' per-experiment fits sit below 0.03. */
export const RMSE_LOG_WARN = 0.1;
/** Failed resamples above this fraction withhold the intervals (they would come from a biased remainder). */
export const BOOTSTRAP_WITHHOLD = 0.5;
/** Failed resamples above this fraction are warned about. */
const BOOTSTRAP_WARN = 0.05;
/** Fewest distinct model sizes and token counts an L(N, D) fit accepts, in `fit` and `report` alike. */
export const LND_MIN_SIZES = 3;
export const LND_MIN_TOKENS = 2;

export const warning = (code: WarningCode, message: string): Warning => ({ code, message });

/** The counts a result states about its data. */
export interface DataCounts {
  runs: number;
  /** distinct model sizes N */
  sizes: number;
  /** distinct token counts D */
  tokens: number;
  /** distinct FLOP budgets: the budget column's values when given, else distinct C to 3 significant figures */
  budgets: number;
  /** exact duplicate rows dropped before fitting (the importer's count) */
  duplicatesDropped: number;
}

export function pointCounts(points: readonly ScalingPoint[], budget?: ArrayLike<number>, duplicatesDropped = 0): DataCounts {
  return {
    runs: points.length,
    sizes: new Set(points.map((p) => p.n)).size,
    tokens: new Set(points.map((p) => p.d)).size,
    budgets: budget ? new Set(Array.from(budget)).size : new Set(points.map((p) => p.c.toPrecision(3))).size,
    duplicatesDropped,
  };
}

/**
 * Refuses inputs an L(N, D) law cannot be fitted to, with the reason: a loss that does not vary, fewer than 3 model
 * sizes or 2 token counts (the N and D terms cannot be told apart), fewer runs than parameters + 1.
 */
export function checkLndInput(points: readonly ScalingPoint[], params: number, what: string): void {
  const c = pointCounts(points);
  const losses = points.map((p) => p.loss);
  const lo = minOf(losses);
  const hi = maxOf(losses);
  if (points.length >= 2 && !(hi - lo > 1e-9 * Math.abs(hi))) {
    throw new AnalysisInputError(
      `${what}: the loss is ${hi} in all ${points.length} runs; a constant loss determines no exponent`,
      'check the loss column (is it the final loss of each run?)',
    );
  }
  if (c.sizes < LND_MIN_SIZES || c.tokens < LND_MIN_TOKENS) {
    throw new AnalysisInputError(
      `${what}: ${c.sizes} distinct model size${c.sizes === 1 ? '' : 's'} and ${c.tokens} token count${c.tokens === 1 ? '' : 's'}; L(N, D) needs at least ${LND_MIN_SIZES} sizes and ${LND_MIN_TOKENS} token counts to tell the N and D terms apart`,
      'add runs at more model sizes (and token counts)',
    );
  }
  if (points.length < params + 1) {
    throw new AnalysisInputError(`${what}: ${points.length} runs for ${params} parameters; the fit needs at least ${params + 1}`, 'add runs');
  }
}

/** rmse and R^2 of log loss from log residuals (predicted - observed) and the observed losses. */
export function logFitQuality(residuals: ArrayLike<number>, losses: ArrayLike<number>): { rmseLog: number; r2Log: number } {
  const n = residuals.length;
  let ss = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) {
    ss += residuals[i] ** 2;
    mean += Math.log(losses[i]);
  }
  mean /= n;
  let st = 0;
  for (let i = 0; i < n; i++) st += (Math.log(losses[i]) - mean) ** 2;
  return { rmseLog: Math.sqrt(ss / n), r2Log: st > 0 ? 1 - ss / st : NaN };
}

/** The warnings every L(N, D) fit shares: duplicates, too few runs per parameter, poor fit. */
export function lndWarnings(counts: DataCounts, params: number, quality: { rmseLog: number; r2Log: number }): Warning[] {
  const out: Warning[] = [];
  if (counts.duplicatesDropped > 0)
    out.push(warning('duplicate-rows', `${counts.duplicatesDropped} exact duplicate row${counts.duplicatesDropped === 1 ? '' : 's'} dropped before fitting`));
  if (counts.runs < 2 * params)
    out.push(warning('few-points', `${counts.runs} runs for ${params} parameters (fewer than 2 per parameter): read the intervals as rough`));
  if (quality.rmseLog > RMSE_LOG_WARN) {
    out.push(
      warning(
        'poor-fit',
        `poor fit: rmse of log loss ${quality.rmseLog.toPrecision(2)} (warning above ${RMSE_LOG_WARN}), R^2 ${quality.r2Log.toFixed(2)}: one law does not describe these runs; if they pool several experiments, fit each on its own (fit --group COLUMN)`,
      ),
    );
  }
  return out;
}

/** The bootstrap's failure fraction, and whether its intervals are withheld. */
export function bootstrapWarnings(failures: number, tried: number): { failureFraction: number; withheld: boolean; warnings: Warning[] } {
  const f = tried > 0 ? failures / tried : 0;
  if (f > BOOTSTRAP_WITHHOLD) {
    return {
      failureFraction: f,
      withheld: true,
      warnings: [
        warning(
          'intervals-withheld',
          `${failures} of ${tried} bootstrap resamples failed (more than ${BOOTSTRAP_WITHHOLD * 100}%): the intervals are withheld, the estimates are unreliable`,
        ),
      ],
    };
  }
  if (f > BOOTSTRAP_WARN)
    return {
      failureFraction: f,
      withheld: false,
      warnings: [
        warning('bootstrap-failures', `${failures} of ${tried} bootstrap resamples failed: the intervals come from the rest and understate the uncertainty`),
      ],
    };
  return { failureFraction: f, withheld: false, warnings: [] };
}

/** Warnings as text lines, for the tables: "warning [code]: message". */
export const warningLines = (ws: readonly Warning[]): string[] => ws.map((w) => `warning [${w.code}]: ${w.message}`);
