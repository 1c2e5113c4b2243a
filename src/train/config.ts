// A training run's typed config (zod-validated), its defaults, and the run id derived from it.
// The CLI maps kebab-case flags one to one onto these keys; the trainer (run.ts) only reads them.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_CHUNK_CHARS } from '../data/split.ts';
import { formatCount, formatSig } from '../util/format.ts';
import { canonicalJson } from '../util/json.ts';

const int = (min: number) => z.number().int().min(min);
const DEFAULT_LR = 1e-3;
/** evaluations of the 'log' eval schedule when --evals is not given */
export const DEFAULT_LOG_EVALS = 40;

/**
 * Every field that decides what a run computes. Two configs with the same values are the same run
 * (same id), so a sweep re-run skips or resumes it. Execution choices (backend, threads, store,
 * checkpoint interval) are in ExecOptions, not here: they do not change what is being measured.
 */
export const RunConfigSchema = z
  .object({
    // ---- model: depth is the one size dial (d_model = 64 * depth, heads = depth), or an explicit shape
    depth: int(1).optional().describe('model depth; d_model = 64 * depth, heads = depth'),
    nLayer: int(1).optional().describe('explicit number of layers (with --d-model and --n-head, instead of --depth)'),
    dModel: int(1).optional().describe('explicit model width'),
    nHead: int(1).optional().describe('explicit number of attention heads'),
    context: int(1).default(64).describe('context length T in tokens'),
    // ---- data
    corpus: z.string().min(1).default('gutenberg').describe('corpus name (see `scaling-lab corpora`) or a path to text'),
    tokenizer: z.string().min(1).default('byte').describe("tokenizer: 'byte', 'bpe-<vocab>' (e.g. bpe-4096), 'gpt2', or a saved tokenizer file"),
    testFraction: z.number().gt(0).lt(1).default(0.1).describe('fraction of documents held out for test loss'),
    // optional, and left out at their defaults (parseRunConfig): a config without them hashes (and so ids) as before
    textField: z.string().min(1).optional().describe("for .jsonl corpora: the field that holds each document's text (default text)"),
    chunkChars: int(0)
      .optional()
      .describe(`cut documents longer than this into sections before the split (default ${DEFAULT_CHUNK_CHARS}; 0 = whole documents)`),
    // ---- batch and budget
    batch: int(1).default(32).describe('sequences per optimiser step'),
    microBatch: int(1).optional().describe('sequences per forward/backward (default: the batch size); must divide it'),
    tokens: int(1).optional().describe('token budget (steps = ceil(tokens / (batch * context)))'),
    steps: int(1).optional().describe('step budget (instead of --tokens)'),
    // ---- optimiser (AdamW) and schedule
    lr: z.number().positive().default(DEFAULT_LR).describe('peak learning rate'),
    schedule: z.enum(['constant', 'cosine', 'wsd']).default('cosine').describe('LR schedule after warm-up'),
    warmupSteps: int(0).default(20).describe('steps of linear LR warm-up'),
    minLrRatio: z.number().min(0).max(1).default(0.1).describe('final LR as a fraction of the peak (cosine, wsd)'),
    decayFraction: z.number().gt(0).max(1).default(0.2).describe('wsd: fraction of steps in the final decay'),
    beta1: z.number().min(0).lt(1).default(0.9).describe('AdamW beta1'),
    beta2: z.number().min(0).lt(1).default(0.95).describe('AdamW beta2'),
    eps: z.number().positive().default(1e-8).describe('AdamW epsilon'),
    weightDecay: z.number().min(0).default(0.1).describe('AdamW decoupled weight decay (matrices only)'),
    gradClip: z.number().min(0).default(1).describe('global gradient-norm clip (0 = off)'),
    seed: int(0).default(0).describe('seed for initialisation and batch sampling'),
    // ---- measurement
    evalInterval: int(1).default(50).describe('interval schedule: steps between test-loss evaluations (and always at the last step)'),
    // optional with no default: a config without them hashes (and so ids) as before
    evalSchedule: z
      .enum(['interval', 'log'])
      .optional()
      .describe(
        "when to evaluate test loss: 'interval' (default; every --eval-interval steps) or 'log' (--evals log-spaced steps from 1 to the last, so runs of any batch size at one token budget get as many; for scans)",
      ),
    evals: int(2)
      .optional()
      .describe(
        `log schedule: number of evaluations (default ${DEFAULT_LOG_EVALS}; all steps when the run is shorter), always including the first and last step`,
      ),
    evalWindows: int(1).default(64).describe('fixed test windows per evaluation'),
    noiseInterval: int(0).default(1).describe('steps between noise-scale measurements (0 = off; needs >= 2 micro-batches)'),
    noiseBeta: z.number().min(0).lt(1).default(0.99).describe('EMA beta of the noise-scale estimates'),
    logEvery: int(1).default(1).describe('steps between metric rows'),
    divergeLoss: z.number().positive().optional().describe('train loss above which the run counts as diverged (default: 1.5 ln V + 1)'),
  })
  .strict();

/**
 * An external trainer (issue 17; docs/ARCHITECTURE.md 4.9): a command template filled from the run's config, run in
 * its own process group, its metrics read back as JSON lines (train/external.ts). Kept beside RunConfigSchema, not in
 * it, so `train`'s flags (generated from that schema) stay as they are.
 */
export const TrainerSpecSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, . _ - (at most 64), starting with a letter or digit')
      .describe('shown in reports; runs of different trainers never mix'),
    command: z.string().min(1).describe('command line template, e.g. python3 train.py --batch {batch} --out {run_dir}'),
    resume: z.string().min(1).optional().describe('appended (a template too) when the run restarts and has stored rows'),
    cwd: z.string().min(1).optional().describe('working directory (relative to the spec file in a sweep spec)'),
    env: z.record(z.string(), z.string()).optional().describe('environment variables added to ours'),
    metrics: z.enum(['file', 'stdout']).default('file').describe("'file': JSON lines in {metrics}; 'stdout': JSON lines on stdout"),
    timeout: z.number().positive().default(600).describe('seconds without a new metrics line before the run counts as hung'),
    flags: z.record(z.string(), z.string().min(1)).optional().describe('config key -> flag, each appended as `flag value` (e.g. batch: --batch-size)'),
    runDir: z.string().min(1).optional().describe('directory under which each run gets its {run_dir} (default: beside the store)'),
  })
  .strict();
export type TrainerSpec = z.output<typeof TrainerSpecSchema>;

/** An external trainer's own knob (an axis key RunConfigSchema does not know): a plain value, part of the run id. */
export const ExtraValueSchema = z.union([z.string(), z.number(), z.boolean()]);
export type ExtraValue = z.output<typeof ExtraValueSchema>;

export type RunConfigInput = z.input<typeof RunConfigSchema> & { trainer?: z.input<typeof TrainerSpecSchema>; extra?: Record<string, ExtraValue> };
/**
 * What a run computes. `trainer` (absent: scaling-lab's own trainer) and `extra` (an external trainer's own keys) are
 * optional without defaults, so a config without them hashes, and so ids, as before.
 */
export type RunConfig = z.output<typeof RunConfigSchema> & { trainer?: TrainerSpec; extra?: Record<string, ExtraValue> };

/** How a run is executed; none of it changes what the run measures. */
export interface ExecOptions {
  backend: 'auto' | 'native' | 'ts';
  threads?: number;
  /** a directory (file store) or a postgres:// URL */
  store: string;
  checkpointEvery: number;
  /** token and tokenizer cache directory (default: $SCALING_LAB_CACHE or ./.cache/scaling-lab); null: no disk cache */
  cacheDir?: string | null;
}

/** Error for a config that cannot run, with what to do about it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** Validate and fill defaults; every problem names the field. */
export function parseRunConfig(input: unknown): RunConfig {
  const { trainer: trainerInput, extra: extraInput, ...fields } = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const parsed = RunConfigSchema.safeParse(typeof input === 'object' && input !== null ? fields : input);
  const trainer = trainerInput === undefined ? undefined : TrainerSpecSchema.safeParse(trainerInput);
  const extra = extraInput === undefined ? undefined : z.record(z.string(), ExtraValueSchema).safeParse(extraInput);
  const issues = [
    ...(parsed.success ? [] : parsed.error.issues),
    ...(trainer?.success === false ? trainer.error.issues.map((i) => ({ ...i, path: ['trainer', ...i.path] })) : []),
    ...(extra?.success === false ? extra.error.issues.map((i) => ({ ...i, path: ['extra', ...i.path] })) : []),
  ];
  if (!parsed.success || issues.length > 0) {
    const lines = issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid run config:\n  ${lines.join('\n  ')}`, 'see `scaling-lab train --help` for every field and its default');
  }
  const c = parsed.data;
  const explicit = [c.nLayer, c.dModel, c.nHead].filter((v) => v !== undefined).length;
  if (c.depth === undefined && explicit === 0) throw new ConfigError('no model size given', 'pass --depth D, or --n-layer, --d-model and --n-head');
  if (c.depth !== undefined && explicit > 0)
    throw new ConfigError('both --depth and an explicit shape given', 'pass either --depth or --n-layer/--d-model/--n-head');
  if (c.depth === undefined && explicit !== 3)
    throw new ConfigError('an explicit shape needs all of --n-layer, --d-model and --n-head', 'add the missing ones, or use --depth');
  if ((c.tokens === undefined) === (c.steps === undefined)) throw new ConfigError('give exactly one budget', 'pass --tokens N or --steps N');
  const micro = c.microBatch ?? c.batch;
  if (c.batch % micro !== 0)
    throw new ConfigError(`micro-batch ${micro} does not divide batch size ${c.batch}`, `choose a micro-batch that divides ${c.batch}`);
  if (c.evals !== undefined && c.evalSchedule !== 'log')
    throw new ConfigError(`--evals ${c.evals} is for the log eval schedule`, 'add --eval-schedule log, or use --eval-interval for evaluations every N steps');
  if (c.tokens !== undefined && c.tokens < c.batch * c.context) {
    throw new ConfigError(
      `token budget ${c.tokens} is smaller than one step (${c.batch} x ${c.context} = ${c.batch * c.context} tokens)`,
      'raise --tokens or lower --batch/--context',
    );
  }
  // the data defaults are left out rather than written in, so giving them explicitly is the same run as not
  if (extra?.data && Object.keys(extra.data).length > 0 && trainer?.data === undefined)
    throw new ConfigError(
      `keys ${Object.keys(extra.data).join(', ')} are not run config keys, and only an external trainer takes keys of its own`,
      'add a trainer section (docs/ARCHITECTURE.md 4.9), or use run config keys (`scaling-lab train --help`)',
    );
  const { textField, chunkChars, ...rest } = c;
  return {
    ...rest,
    ...(textField !== undefined && textField !== 'text' && { textField }),
    ...(chunkChars !== undefined && chunkChars !== DEFAULT_CHUNK_CHARS && { chunkChars }),
    microBatch: micro,
    ...(trainer?.data !== undefined && { trainer: trainer.data }),
    ...(extra?.data !== undefined && Object.keys(extra.data).length > 0 && { extra: extra.data }),
  };
}

/** Model shape the config asks for (vocab comes from the tokenizer). */
export function modelShape(c: RunConfig): { nLayer: number; dModel: number; nHead: number } {
  if (c.depth !== undefined) return { nLayer: c.depth, dModel: 64 * c.depth, nHead: c.depth };
  return { nLayer: c.nLayer!, dModel: c.dModel!, nHead: c.nHead! };
}

/** Optimiser steps the budget buys. */
export function totalSteps(c: RunConfig): number {
  return c.steps ?? Math.ceil(c.tokens! / (c.batch * c.context));
}

/**
 * The steps at which the run evaluates test loss, increasing; always includes the last step.
 * 'interval': every evalInterval steps. 'log': `evals` steps (DEFAULT_LOG_EVALS) spaced evenly in log(step) from 1 to
 * the last step, each at least one after the one before (so the first few are consecutive steps and the rest share
 * one ratio), and every step when the run has fewer steps than that. A pure function of the config: a resumed run evaluates at the same steps.
 */
export function evalSteps(c: RunConfig): number[] {
  const steps = totalSteps(c);
  if (c.evalSchedule !== 'log') {
    const out: number[] = [];
    for (let s = c.evalInterval; s < steps; s += c.evalInterval) out.push(s);
    out.push(steps);
    return out;
  }
  const n = Math.min(c.evals ?? DEFAULT_LOG_EVALS, steps);
  if (n === steps) return Array.from({ length: steps }, (_, i) => i + 1);
  // Each next step is one geometric stride from the previous toward the last, with the strides re-spread over the
  // evaluations still to place: where a stride would be under one step (the start) steps are consecutive, and the
  // evaluations that saves go to the rest of the run instead of collapsing onto the same integers.
  const out = [1];
  for (let k = 1; k < n - 1; k++) {
    const prev = out[k - 1];
    const left = n - k; // evaluations still to place, the last one included
    const next = Math.round(prev * Math.pow(steps / prev, 1 / left));
    out.push(Math.min(Math.max(next, prev + 1), steps - (left - 1)));
  }
  out.push(steps);
  return out;
}

/** The model part of a run name: d2 for a depth, L2-d96-h2 for an explicit shape. */
export function modelName(c: RunConfig): string {
  const m = modelShape(c);
  return c.depth !== undefined ? `d${c.depth}` : `L${m.nLayer}-d${m.dModel}-h${m.nHead}`;
}

/**
 * Readable name: model, batch, seed, budget, and the LR when it is not the default, e.g. d2-b32-s0-t1M,
 * L1-d32-h1-b32-s0-t250k-lr3e-3, d1-b8-s0-n500 (a step budget). Names can repeat; ids (runId) cannot.
 */
export function runName(c: RunConfig): string {
  // names (and so ids) keep their old count style (suffix up to G, chosen before rounding: 250k, 1.5M, 2000G, 1000k
  // for 999999) and write the LR always with an exponent (3e-3)
  const budget = c.tokens !== undefined ? `-t${formatCount(c.tokens, { largest: 'G', unitBeforeRounding: true })}` : `-n${c.steps}`;
  const lr = c.lr === DEFAULT_LR ? '' : `-lr${formatSig(c.lr, { small: Infinity, shortExponent: true })}`;
  return `${modelName(c)}-b${c.batch}-s${c.seed}${budget}${lr}`;
}

/** The run id: readable name plus 8 hex digits of the config's hash. Same config, same id. */
export function runId(c: RunConfig): string {
  // an external trainer enters the id by what it runs (name, command, flags); where and how it runs (cwd, env,
  // timeout, metrics channel, resume flag, run directory) does not change what it computes, so it does not
  const trainer = c.trainer && { name: c.trainer.name, command: c.trainer.command, flags: c.trainer.flags };
  const hash = createHash('sha256')
    .update(canonicalJson({ ...c, trainer }))
    .digest('hex')
    .slice(0, 8);
  return `${runName(c)}-${hash}`;
}
