// `scaling-lab sweep SPEC`: prints the plan (runs, tokens, FLOPs, a probed time estimate) and runs it on local worker
// processes or through a Redis queue, drawing a line per active run. Expansion and execution are src/sweep's.
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { openStore, storeKindOf } from '../../store/store.ts';
import { loadSweepSpec, expandSweep, makeManifest, type SweepManifest } from '../../sweep/spec.ts';
import { planSweep, formatPlan } from '../../sweep/plan.ts';
import { runSweep, type Executor, type SweepEvent } from '../../sweep/executor.ts';
import { createLocalExecutor, defaultWorkers } from '../../sweep/local.ts';
import { createQueueExecutor, DEFAULT_QUEUE_NAME, QueueError } from '../../sweep/queue.ts';
import type { ExecOptions } from '../../train/config.ts';
import { redactUrl } from '../../util/redact.ts';
import { createMultiProgress, type MultiProgressView } from '../progress.ts';
import { EXIT_INTERRUPTED } from './train.ts';

/** A finite number: losses cross the worker's IPC as JSON, where NaN (a run interrupted before its first step) becomes null. */
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Exit code when the sweep ended with runs that failed after their retries (diverged runs are results, exit 0). */
export const EXIT_RUNS_FAILED = 4;

export const positiveInt = (flag: string) => (raw: string): number => {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${flag} takes a positive integer, got '${raw}'`);
  return v;
};
/** --outage-window in minutes (fractions allowed; 0: no waiting) -> ms */
export const outageMinutes = (raw: string): number => {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--outage-window takes minutes >= 0 (e.g. 10 or 0.5), got '${raw}'`);
  return Math.round(v * 60_000);
};
/** --statement-timeout in seconds -> ms */
export const timeoutSeconds = (flag: string) => (raw: string): number => {
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${flag} takes seconds > 0, got '${raw}'`);
  return Math.round(v * 1000);
};
/** --outage-window and --statement-timeout, shared with `worker` (values in ms; the defaults shown in their units) */
export const outageWindowOption = () =>
  new Option('--outage-window <minutes>', 'minutes to wait out a PostgreSQL or Redis outage (refused, reset, restart, timeout), retrying with backoff, before failing')
    .argParser(outageMinutes)
    .default(10 * 60_000, '10');
export const statementTimeoutOption = () =>
  new Option('--statement-timeout <seconds>', 'seconds before PostgreSQL cancels a statement (a stuck query fails and is retried instead of hanging)')
    .argParser(timeoutSeconds('statement-timeout'))
    .default(60_000, '60');

const nonNegativeInt = (flag: string) => (raw: string): number => {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${flag} takes an integer >= 0, got '${raw}'`);
  return v;
};

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .argument('<spec>', 'sweep spec, .yaml or .json (see examples/)')
    .description('expand a sweep spec into runs, print the plan, and run what is not finished (locally, or through a Redis queue)')
    .option('--workers <n>', 'local worker processes (default: cores / threads per worker; not with --queue)', positiveInt('workers'))
    .option('--threads-per-worker <n>', 'threads each run uses (native kernels; not with --queue)', positiveInt('threads-per-worker'), 1)
    .option('--store <dir|url>', 'where runs are kept: a directory (file store) or a postgres:// URL (required with --queue)', 'runs')
    .option('--queue <url>', 'redis:// URL: only enqueue a job per run and watch; `scaling-lab worker` processes run them')
    .option('--queue-name <name>', 'BullMQ queue name (workers must use the same)', DEFAULT_QUEUE_NAME)
    .option('--retries <n>', 'extra tries for a run whose worker crashed or died (each resumes from its checkpoint)', nonNegativeInt('retries'), 2)
    .addOption(outageWindowOption())
    .addOption(statementTimeoutOption())
    .option('--dry-run', 'print the plan and exit; nothing is trained', false)
    .option('--probe-steps <n>', 'timed steps per model size for the time estimate (0: no probe)', nonNegativeInt('probe-steps'), 2)
    .addOption(new Option('--backend <name>', 'kernels: native, ts, auto (native if built; not with --queue)').choices(['auto', 'native', 'ts']).default('auto'))
    .option('--checkpoint-every <steps>', 'steps between checkpoints (and always at the end)', positiveInt('checkpoint-every'), 50)
    .option('--quiet', 'no progress lines, only the plan and the summary', false)
    .addHelpText('after', '\nExamples:\n  scaling-lab sweep examples/batch-scan-small.yaml --dry-run\n  scaling-lab sweep examples/batch-scan-small.yaml --workers 2\n  scaling-lab sweep examples/size-data-small.yaml --queue redis://host:6379 --store postgres://user@host/db\n\nRe-running a sweep skips finished runs and resumes unfinished ones from their checkpoints.\nWith --queue, each worker decides how it runs: scaling-lab worker --concurrency N --threads T --backend B.')
    .action(async (specPath: string, opts: Record<string, unknown>, cmd: Command) => {
      const queueUrl = opts.queue as string | undefined;
      const storeLocation = opts.store as string;
      // with --queue the workers train, with their own --concurrency/--threads/--backend: refuse flags that would be ignored
      const machineFlags = (['workers', 'threadsPerWorker', 'backend'] as const).filter((k) => cmd.getOptionValueSource(k) === 'cli');
      if (queueUrl && machineFlags.length > 0) {
        const names = machineFlags.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        throw new QueueError(`${names.join(', ')} cannot be used with --queue: the workers run the jobs, each with its own settings`, 'give them to each worker instead: scaling-lab worker --queue URL --store URL --concurrency N --threads T --backend B');
      }
      const spec = await loadSweepSpec(specPath);
      const configs = expandSweep(spec);
      if (queueUrl && storeKindOf(storeLocation) !== 'postgres') {
        throw new QueueError('--queue needs a shared store that every worker can reach', 'add --store postgres://user@host/database (the same URL the workers use)');
      }
      const threads = opts.threadsPerWorker as number;
      const workers = queueUrl ? 1 : ((opts.workers as number | undefined) ?? defaultWorkers(threads));
      const exec: ExecOptions = { backend: opts.backend as ExecOptions['backend'], threads, store: storeLocation, checkpointEvery: opts.checkpointEvery as number };
      const quiet = Boolean(opts.quiet);

      // ---- the plan, with each run's state where the store already exists
      const state = new Map<string, string>();
      let recorded: SweepManifest | undefined;
      const storeExists = storeKindOf(storeLocation) === 'postgres' || existsSync(storeLocation.replace(/^file:\/\//, ''));
      if (storeExists) {
        const store = await openStore(storeLocation);
        try {
          for (const c of makeManifest(spec, configs).runIds) {
            const run = await store.getRun(c);
            if (run) state.set(c, run.state.status + (run.state.status === 'running' || run.state.status === 'pending' ? ` @${run.state.step ?? 0}` : ''));
          }
          recorded = await store.getSweep(spec.name);
        } finally {
          await store.close();
        }
      }
      const plan = await planSweep(spec, configs, { probeSteps: opts.probeSteps as number, backend: exec.backend, threads, workers });
      console.log(formatPlan(plan, state));
      if (opts.dryRun) {
        if (recorded && recorded.hash !== makeManifest(spec, configs).hash) console.log(`warning: sweep '${spec.name}' is recorded in ${storeLocation} with a different spec; running this one would be refused (rename it)`);
        console.log('dry run: nothing trained');
        return;
      }

      const executor: Executor = queueUrl ? createQueueExecutor({ url: queueUrl, queueName: opts.queueName as string }) : createLocalExecutor({ workers });
      const controller = new AbortController();
      const stop = (signal: string) => {
        if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
        console.error(`\n${signal}: ${queueUrl ? 'stopping the watch (jobs stay queued)' : 'workers are checkpointing their runs'} (again to leave at once)`);
        controller.abort();
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));

      const finishedBefore = [...state.values()].filter((s) => s === 'done' || s === 'diverged').length;
      // runSweep records the sweep (refusing a changed spec) before anything starts; the header and progress come after
      let progress: MultiProgressView | undefined;
      let draw: ((e: SweepEvent) => void) | undefined;
      const onRecorded = () => {
        console.log(queueUrl ? `enqueueing on ${redactUrl(queueUrl)} and watching ${storeLocation}` : `running on ${workers} local worker(s), ${threads} thread(s) each, store ${storeLocation}`);
        progress = createMultiProgress(`sweep ${spec.name}`, { total: configs.length, done: finishedBefore, quiet });
        draw = renderSweepEvents(progress);
      };
      let result: Awaited<ReturnType<typeof runSweep>>;
      try {
        const store = { outageWindowMs: opts.outageWindow as number, statementTimeoutMs: opts.statementTimeout as number };
        result = await runSweep(spec, { executor, exec, retries: opts.retries as number, store, signal: controller.signal, onRecorded, onEvent: (e) => draw?.(e) });
      } finally {
        progress?.stop();
      }
      const count = (s: string) => result.runs.filter((r) => r.status === s).length;
      console.log(`sweep ${spec.name}: ${result.status}: ${count('done')} done, ${count('diverged')} diverged, ${count('failed')} failed, ${result.runs.length - count('done') - count('diverged') - count('failed')} unfinished (${result.skipped} were finished before)`);
      console.log(`status: scaling-lab status ${spec.name} --store ${storeLocation}`);
      if (result.status === 'interrupted') {
        console.error('resume with the same command');
        process.exitCode = EXIT_INTERRUPTED;
      } else if (result.status === 'failed') process.exitCode = EXIT_RUNS_FAILED;
    });
}

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
          ...(isNum(e.tokensPerSecond) ? { 'tok/s': Math.round(e.tokensPerSecond).toLocaleString('en-US') } : {}),
        });
        break;
      case 'end': {
        const losses = [isNum(e.finalTrainLoss) ? `train ${e.finalTrainLoss.toFixed(4)}` : '', isNum(e.finalTestLoss) ? `test ${e.finalTestLoss.toFixed(4)}` : ''].filter(Boolean).join(', ');
        const line = `${e.id}: ${e.status} at step ${e.step}/${e.totalSteps}${losses ? `, ${losses}` : ''}${e.message && e.status !== 'done' ? ` (${e.message})` : ''}`;
        if (e.status === 'interrupted') progress.log(line);
        else progress.finish(e.id, line);
        break;
      }
      case 'crash':
        progress.log(`${e.id}: worker ${e.worker} crashed on attempt ${e.attempt}: ${e.message}${e.retry ? '; retrying from the checkpoint' : '; no retries left'}`);
        break;
      case 'notice':
        if (!/: queued$/.test(e.message)) progress.log(e.message);
        break;
      default:
        e satisfies never;
    }
  };
}
