// Training logs of other trainers: W&B history exports and plain CSV/JSONL logs, one row per logged step, read into
// runs with metric rows (`scaling-lab import`, `report FILE`). The table parsing and column detection are importers.ts's.
import type { MetricRow, ParamConvention } from './records.ts';
import { AnalysisInputError } from './errors.ts';
import { baseName, cellOf, findColumn, optNum, type Table } from './importers.ts';

/**
 * Common names of a training log's columns, first match wins. W&B's `run.history()` and its "Export CSV" write
 * `_step` (W&B's own log counter), `_runtime` (seconds), `_timestamp`, and metrics under prefixes: `train/loss`,
 * `eval/loss` or `val/loss`, `train/lr`, `train/global_step` or `trainer/global_step` (Hugging Face's Trainer): the
 * trainer's own step is preferred to `_step`, which counts log calls, not optimiser steps. nanoGPT-style logs write
 * `iter`, `loss` (train), `val_loss`, `lr`.
 */
const LOG_NAMES = {
  run: ['run', 'name', 'run_name', 'run_id', 'id'],
  step: ['trainer/global_step', 'train/global_step', 'global_step', 'step', 'iter', 'iteration', '_step'],
  tokens: ['tokens', 'train/tokens', 'tokens_seen', 'train/tokens_seen', 'num_tokens', 'train/num_input_tokens_seen'],
  testLoss: ['eval/loss', 'val/loss', 'test/loss', 'valid/loss', 'validation/loss', 'val_loss', 'eval_loss', 'test_loss', 'validation_loss'],
  trainLoss: ['train/loss', 'train_loss', 'loss', 'training_loss'],
  lr: ['train/lr', 'train/learning_rate', 'lr', 'learning_rate'],
  gradNorm: ['train/grad_norm', 'grad_norm', 'gradient_norm'],
  /** seconds since the run started */
  runtime: ['_runtime', 'runtime', 'elapsed', 'time_s'],
  batchSize: ['batch_size', 'train/batch_size'],
  batchTokens: ['batch_tokens', 'tokens_per_step'],
};

export type LogColumn = keyof typeof LOG_NAMES;

export interface LogImportOptions {
  /** the column for each role (default: the first of LOG_NAMES present); an explicit name must exist */
  columns?: Partial<Record<LogColumn, string>>;
  /** the run's name when the file has no run column (default: the file's basename without extension) */
  defaultRun?: string;
  /** sequences per step and tokens per sequence, where the file has no batch column */
  batchSize?: number;
  context?: number;
  /** per run name: its batch size and context where they differ between runs (a sidecar's "runs" entries); over the two above */
  runMeta?: (run: string) => { batch?: number; context?: number } | undefined;
}

/** One run of a training log: its rows merged by step (a W&B train row and eval row at one step are one row). */
export interface LogRun {
  name: string;
  /** tokens per optimiser step and the sequences and context behind them */
  batchTokens: number;
  batchSize: number;
  context: number;
  /** by step, increasing; tokens from the tokens column or step x batch tokens; `flops` 0 (the importer of N sets it) */
  rows: MetricRow[];
  /** lines of the file the run's rows came from */
  lines: [number, number];
  /** rows with a test loss */
  evals: number;
}

export interface LogImport {
  file: string;
  /** 'wandb' when the file has W&B's `_step` column, else a plain log */
  format: 'wandb' | 'log';
  /** the column used for each role (undefined: none) */
  columns: Record<LogColumn, string | undefined>;
  runs: LogRun[];
  /** rows with neither a train nor a test loss (e.g. W&B system rows), left out */
  skipped: number;
}

/**
 * A training log (one row per logged step, a W&B history export or a plain CSV/JSONL log) to runs of metric rows.
 * Rows of one run and step are merged (the first value of each metric wins), so train rows every step and eval rows
 * every k steps with empty cells between are read as one log; rows with no loss at all are skipped. Batch size per
 * run: a batch_tokens column, a batch_size column times `context`, or `batchSize` x `context`; missing, the error
 * names the flags that supply them.
 */
export function importTrainingLog(table: Table, o: LogImportOptions = {}): LogImport {
  const m = o.columns ?? {};
  const find = (role: LogColumn, what: string, required = false) => findColumn(table, what, m[role], LOG_NAMES[role], required);
  const columns: Record<LogColumn, string | undefined> = {
    run: find('run', 'run'),
    step: find('step', 'step', true),
    tokens: find('tokens', 'tokens'),
    testLoss: find('testLoss', 'test loss'),
    trainLoss: find('trainLoss', 'train loss'),
    lr: find('lr', 'learning rate'),
    gradNorm: find('gradNorm', 'gradient norm'),
    runtime: find('runtime', 'runtime (seconds)'),
    batchSize: find('batchSize', 'batch size'),
    batchTokens: find('batchTokens', 'batch tokens'),
  };
  if (columns.testLoss === columns.trainLoss) columns.trainLoss = undefined;
  if (columns.testLoss === undefined && columns.trainLoss === undefined) {
    throw new AnalysisInputError(
      `${table.file}: no loss column; looked for ${[...LOG_NAMES.testLoss, ...LOG_NAMES.trainLoss].map((c) => `"${c}"`).join(', ')} among ${table.columns.map((c) => `"${c}"`).join(', ')}`,
      'name the columns with import --test-loss-column (held-out loss) and import --train-loss-column (`scaling-lab import FILE --store S`, then report or bcrit S)',
      { file: table.file, column: 'loss' },
    );
  }
  const defaultRun = o.defaultRun ?? baseName(table.file).replace(/\.[^.]+$/, '');
  interface Acc {
    name: string;
    byStep: Map<number, MetricRow>;
    first: number;
    last: number;
    batchTokens?: number;
    batchSize?: number;
  }
  const runs = new Map<string, Acc>();
  let skipped = 0;
  for (const row of table.rows) {
    const testLoss = optNum(table, row, columns.testLoss);
    const trainLoss = optNum(table, row, columns.trainLoss);
    if (testLoss === undefined && trainLoss === undefined) {
      skipped++;
      continue;
    }
    const name = columns.run !== undefined ? String(cellOf(table, row, columns.run) ?? '').trim() || defaultRun : defaultRun;
    const step = optNum(table, row, columns.step);
    if (step === undefined || !Number.isInteger(step) || step < 0) {
      throw new AnalysisInputError(
        `${table.file}: row at line ${row.line}, column "${columns.step}": ${JSON.stringify(cellOf(table, row, columns.step!) ?? null)} is not a step (an integer >= 0)`,
        'every row with a loss needs its optimiser step; map another column with import --step-column (`scaling-lab import FILE --store S`)',
        { file: table.file, row: row.line, column: columns.step },
      );
    }
    let acc = runs.get(name);
    if (!acc) runs.set(name, (acc = { name, byStep: new Map(), first: row.line, last: row.line }));
    acc.last = row.line;
    const bt = optNum(table, row, columns.batchTokens);
    const bs = optNum(table, row, columns.batchSize);
    for (const [key, v] of [
      ['batchTokens', bt],
      ['batchSize', bs],
    ] as const) {
      if (v === undefined) continue;
      if (!(v > 0 && Number.isInteger(v)))
        throw new AnalysisInputError(`${table.file}: row at line ${row.line}: ${key} ${v} is not a positive integer`, 'fix the cell', {
          file: table.file,
          row: row.line,
          column: key === 'batchTokens' ? columns.batchTokens : columns.batchSize,
        });
      if (acc[key] !== undefined && acc[key] !== v)
        throw new AnalysisInputError(
          `${table.file}: row at line ${row.line}: run "${name}" changes ${key === 'batchTokens' ? 'batch tokens' : 'batch size'} (${acc[key]} -> ${v})`,
          'one run has one batch size; give each batch size its own run name',
          { file: table.file, row: row.line },
        );
      acc[key] = v;
    }
    const tokens = optNum(table, row, columns.tokens);
    const lr = optNum(table, row, columns.lr);
    const gradNorm = optNum(table, row, columns.gradNorm);
    const runtime = optNum(table, row, columns.runtime);
    const r = acc.byStep.get(step);
    if (!r) {
      const fresh: MetricRow = {
        step,
        tokens: tokens ?? NaN,
        flops: 0,
        trainLoss: trainLoss ?? NaN,
        lr: lr ?? NaN,
        gradNorm: gradNorm ?? NaN,
        wallMs: runtime !== undefined ? runtime * 1000 : NaN,
      };
      if (testLoss !== undefined) fresh.testLoss = testLoss;
      acc.byStep.set(step, fresh);
    } else {
      // the first value of each metric at a step wins (a W&B train row and eval row at one global step)
      if (Number.isNaN(r.tokens) && tokens !== undefined) r.tokens = tokens;
      if (Number.isNaN(r.trainLoss) && trainLoss !== undefined) r.trainLoss = trainLoss;
      if (Number.isNaN(r.lr) && lr !== undefined) r.lr = lr;
      if (Number.isNaN(r.gradNorm) && gradNorm !== undefined) r.gradNorm = gradNorm;
      if (Number.isNaN(r.wallMs) && runtime !== undefined) r.wallMs = runtime * 1000;
      if (r.testLoss === undefined && testLoss !== undefined) r.testLoss = testLoss;
    }
  }
  if (runs.size === 0) {
    const first = table.rows[0]?.line ?? 2;
    const last = table.rows[table.rows.length - 1]?.line ?? first;
    throw new AnalysisInputError(
      `${table.file}: no usable rows: lines ${first}-${last} hold no loss value in ${[columns.testLoss, columns.trainLoss]
        .filter((c) => c !== undefined)
        .map((c) => `"${c}"`)
        .join(' or ')}`,
      'check that the file is a training log (one row per logged step with a loss), or map the loss columns with import --test-loss-column or import --train-loss-column',
      { file: table.file, row: first },
    );
  }
  const out: LogRun[] = [];
  for (const acc of runs.values()) {
    const rows = [...acc.byStep.values()].sort((a, b) => a.step - b.step);
    const where = `${table.file}: run "${acc.name}" (lines ${acc.first}-${acc.last})`;
    const own = o.runMeta?.(acc.name) ?? {};
    let context = own.context ?? o.context;
    let batchTokens = acc.batchTokens;
    let batchSize = acc.batchSize ?? own.batch ?? o.batchSize;
    if (batchTokens === undefined && batchSize !== undefined && context !== undefined) batchTokens = batchSize * context;
    if (batchTokens === undefined) {
      // a tokens column fixes tokens per step: tokens / step, the same on every row
      const per = rows.filter((r) => r.step > 0 && Number.isFinite(r.tokens) && r.tokens > 0).map((r) => r.tokens / r.step);
      if (per.length > 0 && per.every((x) => Math.abs(x - per[0]) <= 1e-9 * per[0]) && Number.isInteger(Math.round(per[0]))) batchTokens = Math.round(per[0]);
    }
    if (batchTokens === undefined && batchSize !== undefined) {
      throw new AnalysisInputError(
        `${where}: ${batchSize} sequences per step, but no context length`,
        'pass --context T (tokens per sequence), or put "context" in a sidecar FILE.meta.json',
        {
          file: table.file,
          row: acc.first,
        },
      );
    }
    if (batchTokens === undefined) {
      throw new AnalysisInputError(
        `${where}: no batch size: the log has no batch_tokens or batch_size column${columns.tokens ? ` and its "${columns.tokens}" column is not a constant multiple of the step` : ' and no tokens column'}`,
        'put "batch" (sequences per optimiser step) and "context" (tokens per sequence) in a sidecar FILE.meta.json, or give them to import --batch N and import --context T',
        { file: table.file, row: acc.first },
      );
    }
    if (batchSize === undefined && context !== undefined) batchSize = batchTokens / context;
    if (context === undefined && batchSize !== undefined) context = batchTokens / batchSize;
    if (batchSize === undefined || context === undefined || !Number.isInteger(batchSize) || !Number.isInteger(context)) {
      throw new AnalysisInputError(
        `${where}: ${batchTokens} tokens per step, but ${context === undefined ? 'no context length' : `context ${context} does not divide it`}`,
        'put "context" (tokens per sequence) and, where the log has no batch column, "batch" (sequences per step) in a sidecar FILE.meta.json, or give them to import --context T and import --batch N',
        { file: table.file, row: acc.first },
      );
    }
    for (const r of rows) if (Number.isNaN(r.tokens)) r.tokens = r.step * batchTokens;
    out.push({
      name: acc.name,
      batchTokens,
      batchSize,
      context,
      rows,
      lines: [acc.first, acc.last],
      evals: rows.filter((r) => r.testLoss !== undefined).length,
    });
  }
  return { file: table.file, format: table.columns.includes('_step') ? 'wandb' : 'log', columns, runs: out, skipped };
}

/** What a training log does not say about its runs: the sidecar `FILE.meta.json`, or the import command's flags. */
export interface LogMeta {
  /** sequences per optimiser step, tokens per sequence */
  batch?: number;
  context?: number;
  /** parameters (N) and how they are counted */
  params?: number;
  nConvention?: ParamConvention | 'unknown';
  seed?: number;
  warmupSteps?: number;
  /** the LR schedule's and the data's names, as our runs record them ('cosine', 'openwebtext/gpt2'): scans group by them */
  schedule?: string;
  data?: string;
  /** per run name (a file of several runs): these fields for that run only */
  runs?: Record<string, Omit<LogMeta, 'runs'>>;
}

const META_KEYS: Record<keyof Omit<LogMeta, 'runs'>, 'int' | 'number' | 'string' | 'convention'> = {
  batch: 'int',
  context: 'int',
  params: 'int',
  nConvention: 'convention',
  seed: 'int',
  warmupSteps: 'int',
  schedule: 'string',
  data: 'string',
};

/** Parses and checks a sidecar (JSON object of LogMeta fields); unknown keys and bad values name the key and file. */
export function parseLogMeta(text: string, file: string): LogMeta {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new AnalysisInputError(
      `${file}: not valid JSON (${(e as Error).message})`,
      `a sidecar is one JSON object, e.g. {"batch": 32, "context": 1024, "params": 124000000}`,
      { file },
    );
  }
  const check = (o: unknown, where: string, nested: boolean): LogMeta => {
    if (o === null || typeof o !== 'object' || Array.isArray(o))
      throw new AnalysisInputError(`${file}: ${where} is not a JSON object`, 'write {"batch": 32, "context": 1024, ...}', { file });
    const out: LogMeta = {};
    for (const [k, val] of Object.entries(o)) {
      if (k === 'runs' && !nested) {
        if (val === null || typeof val !== 'object' || Array.isArray(val))
          throw new AnalysisInputError(`${file}: "runs" is not an object of run names`, 'write "runs": {"NAME": {"batch": 8}}', { file, column: k });
        out.runs = Object.fromEntries(Object.entries(val).map(([name, sub]) => [name, check(sub, `runs["${name}"]`, true)]));
        continue;
      }
      const kind = META_KEYS[k as keyof typeof META_KEYS];
      if (kind === undefined)
        throw new AnalysisInputError(
          `${file}: ${where}: unknown key "${k}"`,
          `the keys are ${[...Object.keys(META_KEYS), ...(nested ? [] : ['runs'])].join(', ')}`,
          { file, column: k },
        );
      const ok =
        kind === 'int'
          ? typeof val === 'number' && Number.isInteger(val) && (k === 'seed' || k === 'warmupSteps' ? val >= 0 : val > 0)
          : kind === 'string'
            ? typeof val === 'string' && val.length > 0
            : val === 'kaplan' || val === 'total' || val === 'unknown';
      if (!ok)
        throw new AnalysisInputError(
          `${file}: ${where}: "${k}" is ${JSON.stringify(val)}, expected ${kind === 'int' ? 'a positive integer' : kind === 'string' ? 'a non-empty string' : 'kaplan, total or unknown'}`,
          'fix the value in the sidecar',
          { file, column: k },
        );
      (out as Record<string, unknown>)[k] = val;
    }
    return out;
  };
  return check(v, 'the sidecar', false);
}
