// What the command modules share besides flags (those are options.ts's): the flag-value parsers, exit codes, the
// plain-text tables, the interval text of the analysis commands, reading an input file, and how a sweep's events are
// drawn. Command modules import from here and from options.ts, never from each other.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { AnalysisInputError } from '../analysis/errors.ts';
import { maxOf } from '../analysis/extent.ts';
import type { SweepEvent } from '../sweep/executor.ts';
import { formatGrouped, formatInterval, formatSig } from '../util/format.ts';
import type { MultiProgressView } from './progress.ts';

// ---- exit codes (0 is success; commander's own errors exit 1, bad input with a hint 2)

/** A single run diverged: a result, but not a success for `train`. */
export const EXIT_DIVERGED = 3;
/** A sweep ended with runs that failed after their retries (diverged runs are results, exit 0). */
export const EXIT_RUNS_FAILED = 4;
/** Interrupted (SIGINT/SIGTERM) after checkpointing: the same command resumes. */
export const EXIT_INTERRUPTED = 130;
/** --strict (fit, bcrit, report): the results were printed, but some carry warnings (analysis/diagnostics.ts WARNING_CODES). */
export const EXIT_WARNINGS = 5;

/** The exit codes, for the help text of the commands that take --strict. */
export const EXIT_CODES_HELP = `exit codes: 0 done; 1 usage error; 2 bad input (with a hint); ${EXIT_WARNINGS} with --strict: a result carries warnings (each printed as "warning [code]: ...", and in --json under "warnings")`;

/** Prints each warning to stderr (not under --json, where they are in the object) and, under --strict, sets EXIT_WARNINGS. */
export function finishWarnings(warnings: readonly { code: string; message: string }[], o: { strict?: boolean; json?: boolean; print?: boolean }): void {
  if (o.print) for (const w of warnings) console.error(`warning [${w.code}]: ${w.message}`);
  if (o.strict && warnings.length > 0 && !process.exitCode) process.exitCode = EXIT_WARNINGS;
}

// ---- flag-value parsers: each throws commander's InvalidArgumentError, so a bad value is a one-line usage error

/** An integer >= min: int('--seed', 0)('3') = 3; '3.5', 'abc' and '-1' are errors naming the flag. */
export const int =
  (flag: string, min: number) =>
  (v: string): number => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isInteger(x) || x < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}, got "${v}"`);
    return x;
  };

/** Any finite number, strictly: "3e-4" and "1000000" are fine, "12abc" is an error. */
export const number =
  (flag: string) =>
  (v: string): number => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x)) throw new InvalidArgumentError(`${flag} takes a number, got "${v}"`);
    return x;
  };

/** A finite number > 0. */
export const positive =
  (flag: string) =>
  (v: string): number => {
    const x = Number(v);
    if (!(Number.isFinite(x) && x > 0)) throw new InvalidArgumentError(`${flag} must be a positive number, got "${v}"`);
    return x;
  };

/** A number in the open interval (0, 1). */
export const fraction =
  (flag: string) =>
  (v: string): number => {
    const x = Number(v);
    if (!(x > 0 && x < 1)) throw new InvalidArgumentError(`${flag} must be a number between 0 and 1 (exclusive), got "${v}"`);
    return x;
  };

/** Minutes >= 0 (fractions allowed) -> milliseconds. */
export const minutesToMs =
  (flag: string) =>
  (v: string): number => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || x < 0) throw new InvalidArgumentError(`${flag} takes minutes >= 0 (e.g. 10 or 0.5), got "${v}"`);
    return Math.round(x * 60_000);
  };

/** Seconds > 0 -> milliseconds. */
export const secondsToMs =
  (flag: string) =>
  (v: string): number => {
    const x = Number(v);
    if (!Number.isFinite(x) || x <= 0) throw new InvalidArgumentError(`${flag} takes seconds > 0, got "${v}"`);
    return Math.round(x * 1000);
  };

/** "experiment,condition" -> ["experiment", "condition"]: a non-empty comma-separated list. */
export const commaList =
  (flag: string) =>
  (v: string): string[] => {
    const out = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (out.length === 0) throw new InvalidArgumentError(`${flag} needs at least one value, got "${v}"`);
    return out;
  };

/** For a repeatable flag: each use adds one value. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

// ---- input

/** An input file's text, or an AnalysisInputError (with a hint) naming it. */
export function readSource(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new AnalysisInputError(`cannot read ${file}: ${(err as Error).message}`, 'give the path of a CSV or JSONL file', { file });
  }
}

// ---- text

/** Analysis numbers (fit, bcrit): 4 significant figures, an exponent outside [1e-3, 1e5) with its zeros kept, '-' for NaN. */
export const fmt = (v: number): string => formatSig(v, { digits: 4, trim: 'plain' });

/** '[lo, hi]' in fmt's numbers, '-' without an interval. */
export const ciText = (ci: [number, number]): string => formatInterval(ci, fmt);

/** A table with a header and a rule under it, columns left-aligned, two spaces apart. */
export function renderTable(header: string[], rows: string[][]): string {
  const w = header.map((h, j) => Math.max(h.length, maxOf(rows.map((r) => r[j].length))));
  const line = (r: string[]): string =>
    r
      .map((c, j) => c.padEnd(w[j]))
      .join('  ')
      .trimEnd();
  return [line(header), line(w.map((x) => '-'.repeat(x))), ...rows.map(line)].join('\n');
}

/** A plain left-aligned table of records (keys are the header), printed to stdout. */
export function printTable(rows: Record<string, string>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, maxOf(rows.map((r) => r[c].length))));
  const line = (cells: string[]): string => cells.map((s, i) => (i === cells.length - 1 ? s : s.padEnd(width[i]))).join('  ');
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => r[c])));
}

// ---- sweeps (sweep and demo)

/** A finite number: losses cross the worker's IPC as JSON, where NaN (a run interrupted before its first step) becomes null. */
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Draws a sweep's events on a multi-run progress view: a line per active run, a line per finished run. */
export function renderSweepEvents(progress: MultiProgressView): (e: SweepEvent) => void {
  return (e: SweepEvent) => {
    switch (e.kind) {
      case 'start':
        progress.start(e.id, e.name, e.totalSteps);
        if (e.attempt > 1) progress.log(`${e.id}: attempt ${e.attempt} on ${e.worker}`);
        break;
      case 'step':
        progress.update(e.id, e.step, {
          ...(isNum(e.trainLoss) ? { train: e.trainLoss.toFixed(3) } : {}),
          ...(isNum(e.testLoss) ? { test: e.testLoss.toFixed(3) } : {}),
          ...(isNum(e.tokensPerSecond) ? { 'tok/s': formatGrouped(e.tokensPerSecond) } : {}),
        });
        break;
      case 'end': {
        const losses = [
          isNum(e.finalTrainLoss) ? `train ${e.finalTrainLoss.toFixed(4)}` : '',
          isNum(e.finalTestLoss) ? `test ${e.finalTestLoss.toFixed(4)}` : '',
        ]
          .filter(Boolean)
          .join(', ');
        const line = `${e.id}: ${e.status} at step ${e.step}/${e.totalSteps}${losses ? `, ${losses}` : ''}${e.message && e.status !== 'done' ? ` (${e.message})` : ''}`;
        if (e.status === 'interrupted') progress.log(line);
        else progress.finish(e.id, line);
        break;
      }
      case 'crash':
        progress.log(
          `${e.id}: worker ${e.worker} crashed on attempt ${e.attempt}: ${e.message}${e.retry ? '; retrying from the checkpoint' : '; no retries left'}`,
        );
        break;
      case 'notice':
        if (!e.message.endsWith(': queued')) progress.log(e.message);
        break;
      default:
        e satisfies never;
    }
  };
}
