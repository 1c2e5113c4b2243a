// `scaling-lab worker`: takes sweep jobs from a Redis queue and trains them against a shared Postgres store, logging a
// line per event; SIGINT/SIGTERM checkpoint the current runs and hand their jobs back. The queue mechanics are sweep/queue.ts's.
import type { Command } from 'commander';
import { storeKindOf } from '../../store/store.ts';
import { runQueueWorker } from '../../sweep/queue.ts';
import type { SweepEvent } from '../../sweep/executor.ts';
import type { ExecOptions } from '../../train/config.ts';
import { EXIT_INTERRUPTED, int } from '../helpers.ts';
import { addDeprecatedAlias, addShared, cacheDirOf, parallelism } from '../options.ts';

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description('run sweep jobs from a Redis queue on this machine (any number of machines may run workers)')
    .requiredOption('--queue <url>', 'redis:// URL of the queue `scaling-lab sweep --queue` fills');
  addShared(cmd, 'store', 'queueName', 'workers', 'threads', 'backend', 'cacheDir', 'noCache');
  cmd
    .option('--lock-duration <ms>', 'a job whose worker stops renewing its lock this long is stalled (a dead worker)', int('--lock-duration', 1), 30_000)
    .option('--stalled-interval <ms>', 'how often to look for stalled jobs and take them back', int('--stalled-interval', 1), 30_000)
    .option(
      '--max-stalled <n>',
      "a cap of this worker's own on how often a job's worker may die (default: none; deaths count against the sweep's --retries)",
      int('--max-stalled', 1),
    )
    .option('--quiet', 'log only runs starting, ending and crashing', false);
  addShared(cmd, 'outageWindow', 'statementTimeout');
  addDeprecatedAlias(cmd, '--concurrency <n>', '--workers');
  cmd
    .addHelpText(
      'after',
      '\nExample:\n  scaling-lab worker --queue redis://host:6379 --store postgres://user@host/db --workers 2 --threads 4\n\n--store is the shared postgres:// store the sweep was given (a directory is shared only by workers on this machine).\nA run another worker left (killed, crashed) is resumed here from its last checkpoint. A PostgreSQL or Redis\noutage shorter than --outage-window is waited out (one line per outage); the job lock is not renewed while the\nstore does not answer, so another worker can take a stuck run over.',
    )
    .action(async (opts: Record<string, unknown>) => {
      const store = opts.store as string;
      if (storeKindOf(store) !== 'postgres') {
        console.error(`warning: --store ${store} is a directory: only workers on this machine share it`);
      }
      const controller = new AbortController();
      const stop = (signal: string) => {
        if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
        console.error(`${signal}: no new jobs; checkpointing the current runs and handing their jobs back (again to leave at once)`);
        controller.abort();
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      const last = new Map<string, number>();
      const onEvent = (e: SweepEvent) => {
        const t = new Date().toISOString().slice(11, 19);
        switch (e.kind) {
          case 'start':
            console.log(`${t} ${e.id}: start (attempt ${e.attempt}, ${e.totalSteps} steps)`);
            break;
          case 'step': {
            const now = Date.now();
            if (opts.quiet || now - (last.get(e.id) ?? 0) < 5000) break;
            last.set(e.id, now);
            console.log(`${t} ${e.id}: step ${e.step}/${e.totalSteps}${e.trainLoss !== undefined ? ` train ${e.trainLoss.toFixed(3)}` : ''}`);
            break;
          }
          case 'end':
            console.log(
              `${t} ${e.id}: ${e.status} at step ${e.step}/${e.totalSteps}${e.finalTestLoss !== undefined ? ` test ${e.finalTestLoss.toFixed(4)}` : ''}${e.message ? ` (${e.message})` : ''}`,
            );
            break;
          case 'crash':
            console.log(`${t} ${e.id}: crashed on attempt ${e.attempt}: ${e.message}${e.retry ? ' (the queue retries it)' : ' (no retries left)'}`);
            break;
          case 'notice':
            console.log(`${t} ${e.message}`);
            break;
          default:
            e satisfies never;
        }
      };
      const { workers, threads } = parallelism(opts.workers as number | undefined, opts.threads as number | undefined);
      const exec: Omit<ExecOptions, 'checkpointEvery'> = { backend: opts.backend as ExecOptions['backend'], threads, store, cacheDir: cacheDirOf(opts) };
      await runQueueWorker({
        url: opts.queue as string,
        queueName: opts.queueName as string,
        concurrency: workers,
        exec,
        lockDurationMs: opts.lockDuration as number,
        stalledIntervalMs: opts.stalledInterval as number,
        maxStalled: opts.maxStalled as number | undefined,
        store: { outageWindowMs: opts.outageWindow as number, statementTimeoutMs: opts.statementTimeout as number },
        signal: controller.signal,
        onEvent,
      });
      console.log('worker stopped');
    });
}
