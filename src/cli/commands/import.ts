// `scaling-lab import FILE... --trainer NAME`: training logs of another trainer (a W&B history export, a CSV or JSONL
// log) into a store as finished runs of that trainer, so `report` and `bcrit` compare them with ours. The shell only:
// parsing is analysis/importers.ts (importTrainingLog, parseLogMeta), writing is store/import-log.ts.
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { parseTable } from '../../analysis/importers.ts';
import { importTrainingLog, parseLogMeta, type LogColumn, type LogMeta } from '../../analysis/training-log.ts';
import { putImportedLog, type ImportedRun } from '../../store/import-log.ts';
import { openStore } from '../../store/store.ts';
import { EXIT_CODES_HELP, int, readSource, renderTable } from '../helpers.ts';
import { addShared } from '../options.ts';

interface ImportCliOptions {
  store: string;
  trainer: string;
  sweep?: string;
  meta?: string;
  batch?: number;
  context?: number;
  params?: number;
  nConvention: 'kaplan' | 'total' | 'unknown';
  seed?: number;
  warmupSteps?: number;
  schedule?: string;
  data?: string;
  json: boolean;
  runColumn?: string;
  stepColumn?: string;
  tokensColumn?: string;
  testLossColumn?: string;
  trainLossColumn?: string;
  lrColumn?: string;
  gradNormColumn?: string;
  runtimeColumn?: string;
  batchSizeColumn?: string;
  batchTokensColumn?: string;
}

/** Each column role's flag and its help. */
const COLUMN_FLAGS: [LogColumn, string, string][] = [
  ['run', 'run-column', 'run name, for a file of several runs (default: detect run, name, run_id; none: one run named after the file)'],
  ['step', 'step-column', "optimiser step (default: detect trainer/global_step, train/global_step, global_step, step, iter, then W&B's _step)"],
  ['tokens', 'tokens-column', 'tokens processed (default: detect tokens, train/tokens; else step x batch tokens)'],
  ['testLoss', 'test-loss-column', 'held-out loss, at eval rows (default: detect eval/loss, val/loss, test/loss, val_loss, eval_loss, test_loss)'],
  ['trainLoss', 'train-loss-column', 'training loss (default: detect train/loss, train_loss, loss)'],
  ['lr', 'lr-column', 'learning rate at each row (default: detect train/lr, train/learning_rate, lr, learning_rate)'],
  ['gradNorm', 'grad-norm-column', 'gradient norm (default: detect train/grad_norm, grad_norm)'],
  ['runtime', 'runtime-column', "seconds since the run started (default: detect W&B's _runtime, runtime)"],
  ['batchSize', 'batch-size-column', 'sequences per step, with --context (default: detect batch_size)'],
  ['batchTokens', 'batch-tokens-column', 'tokens per step (default: detect batch_tokens)'],
];

const camel = (flag: string): keyof ImportCliOptions => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof ImportCliOptions;

export function registerImport(program: Command): void {
  const cmd = program
    .command('import')
    .description(
      'Put training logs of another trainer into a store as finished runs of that trainer (a W&B history export with _step, train/loss, eval/loss, ...; or a CSV/JSONL log, one row per logged step), so report and bcrit show them beside ours. Importing a file twice adds nothing.',
    )
    .argument(
      '<files...>',
      'CSV or JSONL training logs; FILE.meta.json beside a file, when present, supplies what the log does not say (keys as the flags below)',
    )
    .requiredOption(
      '--trainer <name>',
      'who trained these runs (e.g. nanogpt, torch): reports label and group runs by it and never pool two trainers into one scan',
    );
  addShared(cmd, 'store');
  cmd
    .option('--sweep <name>', 'record the runs under this sweep name (report --sweep and status read it)')
    .option(
      '--meta <file>',
      'a JSON sidecar for every file: {"batch", "context", "params", "nConvention", "seed", "warmupSteps", "schedule", "data", "runs": {NAME: {...}}} (default: FILE.meta.json)',
    )
    .option('--batch <n>', 'sequences per optimiser step, where the log has no batch column', int('--batch', 1))
    .option('--context <T>', 'tokens per sequence', int('--context', 1))
    .option('--params <n>', 'parameters of the model (N); --n-convention says how they count', int('--params', 1));
  addShared(cmd, 'nConvention');
  cmd
    .option('--seed <s>', "the runs' training seed (runs of one batch size and seed form an LR envelope)", int('--seed', 0))
    .option('--warmup-steps <w>', 'linear LR warm-up steps, for logs without an lr column', int('--warmup-steps', 0))
    .option('--schedule <name>', "the LR schedule's name (cosine, constant, ...): scans are grouped by it")
    .option('--data <name>', "the data's name, e.g. openwebtext/gpt2: scans are grouped by it");
  for (const [, flag, help] of COLUMN_FLAGS) cmd.option(`--${flag} <column>`, `column of the ${help}`);
  cmd.addOption(new Option('--json', 'print one JSON object instead of a table').default(false));
  cmd.addHelpText('after', `\n${EXIT_CODES_HELP}`);
  cmd.action(async (files: string[], o: ImportCliOptions) => {
    const flags: Omit<LogMeta, 'runs'> = Object.fromEntries(
      Object.entries({
        batch: o.batch,
        context: o.context,
        params: o.params,
        nConvention: o.nConvention === 'unknown' ? undefined : o.nConvention,
        seed: o.seed,
        warmupSteps: o.warmupSteps,
        schedule: o.schedule,
        data: o.data,
      }).filter(([, v]) => v !== undefined),
    );
    const columns = Object.fromEntries(COLUMN_FLAGS.flatMap(([role, flag]) => (o[camel(flag)] !== undefined ? [[role, o[camel(flag)] as string]] : [])));
    const store = await openStore(o.store);
    const results: { file: string; format: string; sidecar?: string; skipped: number; runs: ImportedRun[] }[] = [];
    try {
      for (const file of files) {
        const sidecar = o.meta ?? (existsSync(`${file}.meta.json`) ? `${file}.meta.json` : undefined);
        const meta = sidecar !== undefined ? parseLogMeta(readSource(sidecar), sidecar) : {};
        const merged = (run: string): Omit<LogMeta, 'runs'> => ({ ...meta, ...meta.runs?.[run], ...flags });
        const imp = importTrainingLog(parseTable(readSource(file), file), {
          columns,
          batchSize: flags.batch ?? meta.batch,
          context: flags.context ?? meta.context,
          runMeta: merged,
        });
        const runs = await putImportedLog(store, imp, { trainer: o.trainer, sweep: o.sweep, meta, flags });
        results.push({ file, format: imp.format, ...(sidecar !== undefined && { sidecar }), skipped: imp.skipped, runs });
      }
    } finally {
      await store.close();
    }
    if (o.json) {
      console.log(JSON.stringify({ store: store.location, trainer: o.trainer, files: results }, null, 2));
      return;
    }
    for (const r of results) {
      console.log(
        `${r.file}: ${r.format === 'wandb' ? 'W&B history export' : 'training log'}${r.sidecar ? ` (with ${r.sidecar})` : ''}, ${r.runs.length} run${r.runs.length === 1 ? '' : 's'}${r.skipped ? `; ${r.skipped} rows without a loss left out` : ''}`,
      );
      console.log(
        renderTable(
          ['run', 'id', 'rows', 'evals', 'stored'],
          r.runs.map((x) => [x.name, x.id, String(x.rows), String(x.evals), x.existed ? 'already there' : `${x.added} rows added`]),
        ),
      );
    }
    const n = results.reduce((t, r) => t + r.runs.filter((x) => !x.existed).length, 0);
    console.log(`imported ${n} new run${n === 1 ? '' : 's'} of trainer ${o.trainer} into ${store.location}; compare them with: scaling-lab report ${o.store}`);
  });
}
