// `scaling-lab sweep SPEC`: prints the plan (runs, tokens, FLOPs, a probed time estimate) and runs it on local worker
// processes or through a Redis queue, drawing a line per active run. Expansion and execution are src/sweep's.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { openStore, storeKindOf } from '../../store/store.ts';
import { loadSweepSpec, expandSweep, makeManifest, type SweepManifest } from '../../sweep/spec.ts';
import { planSweep, formatPlan } from '../../sweep/plan.ts';
import { runSweep, type Executor, type SweepEvent } from '../../sweep/executor.ts';
import { createLocalExecutor } from '../../sweep/local.ts';
import { createQueueExecutor, QueueError } from '../../sweep/queue.ts';
import type { ExecOptions } from '../../train/config.ts';
import { redactUrl } from '../../util/redact.ts';
import { createMultiProgress, type MultiProgressView } from '../progress.ts';
import { EXIT_INTERRUPTED, EXIT_RUNS_FAILED, int, renderSweepEvents } from '../helpers.ts';
import { addDeprecatedAlias, addShared, cacheDirOf, parallelism } from '../options.ts';

export function registerSweep(program: Command): void {
  const cmd = program
    .command('sweep')
    .argument('<spec>', 'sweep spec, .yaml or .json (see examples/)')
    .description('expand a sweep spec into runs, print the plan, and run what is not finished (locally, or through a Redis queue)');
  addShared(cmd, 'workers', 'threads', 'backend', 'store', 'cacheDir', 'noCache');
  cmd.option('--queue <url>', 'redis:// URL: only enqueue a job per run and watch; `scaling-lab worker` processes run them');
  addShared(cmd, 'queueName');
  cmd.option('--retries <n>', 'extra tries for a run whose worker crashed or died (each resumes from its checkpoint)', int('--retries', 0), 2);
  addShared(cmd, 'outageWindow', 'statementTimeout');
  cmd
    .option('--dry-run', 'print the plan and exit: nothing is trained, not even the probe steps, so the plan has no time estimate', false)
    .option('--probe-steps <n>', 'timed training steps per model size for the time estimate, before the sweep starts (0: no probe, no estimate)', int('--probe-steps', 0), 2);
  addShared(cmd, 'checkpointEvery');
  cmd.option('--quiet', 'no progress lines, only the plan and the summary', false);
  addDeprecatedAlias(cmd, '--threads-per-worker <n>', '--threads');
  cmd
    .addHelpText(
      'after',
      '\nExamples:\n  scaling-lab sweep examples/batch-scan-small.yaml --dry-run\n  scaling-lab sweep examples/batch-scan-small.yaml --workers 2\n  scaling-lab sweep examples/size-data-small.yaml --queue redis://host:6379 --store postgres://user@host/db\n\n' +
        'Re-running a sweep skips finished runs and resumes unfinished ones from their checkpoints.\n' +
        'What a run reads (corpus, tokenizer, testFraction, textField, chunkChars) is part of its config: set it in the spec.\n' +
        'With --queue, --workers, --threads and --backend are each worker\'s own: scaling-lab worker --workers N --threads T --backend B.',
    )
    .action(async (specPath: string, opts: Record<string, unknown>, cmd: Command) => {
      const queueUrl = opts.queue as string | undefined;
      const storeLocation = opts.store as string;
      // with --queue the workers train, with their own --workers/--threads/--backend: refuse flags that would be ignored
      const machineFlags = (['workers', 'threads', 'backend'] as const).filter((k) => cmd.getOptionValueSource(k) === 'cli');
      if (queueUrl && machineFlags.length > 0) {
        const names = machineFlags.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        throw new QueueError(`${names.join(', ')} cannot be used with --queue: the workers run the jobs, each with its own settings`, 'give them to each worker instead: scaling-lab worker --queue URL --store URL --workers N --threads T --backend B');
      }
      const spec = await loadSweepSpec(specPath);
      const configs = expandSweep(spec);
      if (queueUrl && storeKindOf(storeLocation) !== 'postgres') {
        throw new QueueError('--queue needs a shared store that every worker can reach', 'add --store postgres://user@host/database (the same URL the workers use)');
      }
      const local = parallelism(opts.workers as number | undefined, opts.threads as number | undefined);
      const threads = local.threads;
      const workers = queueUrl ? 1 : local.workers;
      const exec: ExecOptions = { backend: opts.backend as ExecOptions['backend'], threads, store: storeLocation, checkpointEvery: opts.checkpointEvery as number, cacheDir: cacheDirOf(opts) };
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
      // a dry run trains nothing, so it times no probe steps either: its plan says the estimate is unknown
      const plan = await planSweep(spec, configs, { probe: !opts.dryRun, noProbeReason: '--dry-run trains nothing', probeSteps: opts.probeSteps as number, backend: exec.backend, threads, workers });
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
