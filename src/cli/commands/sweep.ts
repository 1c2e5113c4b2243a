// `scaling-lab sweep SPEC`: prints the plan (runs, tokens, FLOPs, a probed time estimate) and runs it on local worker
// processes or through a Redis queue, drawing a line per active run. Expansion and execution are src/sweep's.
import { existsSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { openStore, storeKindOf } from '../../store/store.ts';
import { loadSweepSpec, expandSweep, makeManifest, SweepSpecError, type SweepManifest } from '../../sweep/spec.ts';
import { designBatchScan, designIsoFlop, designToYaml, type Design } from '../../sweep/design.ts';
import { planSweep, formatPlan } from '../../sweep/plan.ts';
import { runSweep, type Executor, type SweepEvent } from '../../sweep/executor.ts';
import { createLocalExecutor } from '../../sweep/local.ts';
import { createQueueExecutor, QueueError } from '../../sweep/queue.ts';
import type { ExecOptions } from '../../train/config.ts';
import { redactUrl } from '../../util/redact.ts';
import { createMultiProgress, type MultiProgressView } from '../progress.ts';
import { EXIT_INTERRUPTED, EXIT_RUNS_FAILED, int, number, positive, renderSweepEvents } from '../helpers.ts';
import { addDeprecatedAlias, addShared, cacheDirOf, parallelism } from '../options.ts';

export function registerSweep(program: Command): void {
  const cmd = program
    .command('sweep')
    .argument('[spec]', 'sweep spec, .yaml or .json (see examples/); with --design, an optional spec whose base config and name the design starts from')
    .description('expand a sweep spec into runs, print the plan, and run what is not finished (locally, or through a Redis queue)');
  addShared(cmd, 'workers', 'threads', 'backend', 'store', 'cacheDir', 'noCache');
  cmd.option('--queue <url>', 'redis:// URL: only enqueue a job per run and watch; `scaling-lab worker` processes run them');
  addShared(cmd, 'queueName');
  cmd.option('--retries <n>', 'extra tries for a run whose worker crashed or died (each resumes from its checkpoint)', int('--retries', 0), 2);
  addShared(cmd, 'outageWindow', 'statementTimeout');
  cmd
    .option('--dry-run', 'print the plan and exit: nothing is trained, not even the probe steps, so the plan has no time estimate', false)
    .option(
      '--probe-steps <n>',
      'timed training steps per model size for the time estimate, before the sweep starts (0: no probe, no estimate)',
      int('--probe-steps', 0),
      2,
    );
  addShared(cmd, 'checkpointEvery');
  cmd.option('--quiet', 'no progress lines, only the plan and the summary', false);
  addDesignOptions(cmd);
  addDeprecatedAlias(cmd, '--threads-per-worker <n>', '--threads');
  cmd
    .addHelpText(
      'after',
      '\nExamples:\n  scaling-lab sweep examples/batch-scan-small.yaml --dry-run\n  scaling-lab sweep examples/batch-scan-small.yaml --workers 2\n  scaling-lab sweep examples/size-data-small.yaml --queue redis://host:6379 --store postgres://user@host/db\n\n' +
        'Re-running a sweep skips finished runs and resumes unfinished ones from their checkpoints.\n' +
        'What a run reads (corpus, tokenizer, testFraction, textField, chunkChars) is part of its config: set it in the spec.\n' +
        "With --queue, --workers, --threads and --backend are each worker's own: scaling-lab worker --workers N --threads T --backend B.",
    )
    .action(async (specPath: string | undefined, opts: Record<string, unknown>, cmd: Command) => {
      if (opts.design) return writeDesign(specPath, opts);
      if (!specPath)
        throw new SweepSpecError(
          'sweep needs a spec',
          'give a .yaml or .json sweep spec (see examples/), or design one: scaling-lab sweep --design isoflop --budgets 1e11,1e12',
        );
      const queueUrl = opts.queue as string | undefined;
      const storeLocation = opts.store as string;
      // with --queue the workers train, with their own --workers/--threads/--backend: refuse flags that would be ignored
      const machineFlags = (['workers', 'threads', 'backend'] as const).filter((k) => cmd.getOptionValueSource(k) === 'cli');
      if (queueUrl && machineFlags.length > 0) {
        const names = machineFlags.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        throw new QueueError(
          `${names.join(', ')} cannot be used with --queue: the workers run the jobs, each with its own settings`,
          'give them to each worker instead: scaling-lab worker --queue URL --store URL --workers N --threads T --backend B',
        );
      }
      const spec = await loadSweepSpec(specPath);
      const configs = expandSweep(spec);
      if (queueUrl && storeKindOf(storeLocation) !== 'postgres') {
        throw new QueueError(
          '--queue needs a shared store that every worker can reach',
          'add --store postgres://user@host/database (the same URL the workers use)',
        );
      }
      const local = parallelism(opts.workers as number | undefined, opts.threads as number | undefined);
      const threads = local.threads;
      const workers = queueUrl ? 1 : local.workers;
      const exec: ExecOptions = {
        backend: opts.backend as ExecOptions['backend'],
        threads,
        store: storeLocation,
        checkpointEvery: opts.checkpointEvery as number,
        cacheDir: cacheDirOf(opts),
      };
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
      const plan = await planSweep(spec, configs, {
        probe: !opts.dryRun,
        noProbeReason: '--dry-run trains nothing',
        probeSteps: opts.probeSteps as number,
        backend: exec.backend,
        threads,
        workers,
      });
      console.log(formatPlan(plan, state));
      if (opts.dryRun) {
        if (recorded && recorded.hash !== makeManifest(spec, configs).hash)
          console.log(`warning: sweep '${spec.name}' is recorded in ${storeLocation} with a different spec; running this one would be refused (rename it)`);
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
        console.log(
          queueUrl
            ? `enqueueing on ${redactUrl(queueUrl)} and watching ${storeLocation}`
            : `running on ${workers} local worker(s), ${threads} thread(s) each, store ${storeLocation}`,
        );
        console.log(`watch it live: scaling-lab serve ${storeLocation.startsWith('postgres') ? redactUrl(storeLocation) : storeLocation}`);
        progress = createMultiProgress(`sweep ${spec.name}`, { total: configs.length, done: finishedBefore, quiet });
        draw = renderSweepEvents(progress);
      };
      let result: Awaited<ReturnType<typeof runSweep>>;
      try {
        const store = { outageWindowMs: opts.outageWindow as number, statementTimeoutMs: opts.statementTimeout as number };
        result = await runSweep(spec, {
          executor,
          exec,
          retries: opts.retries as number,
          store,
          signal: controller.signal,
          onRecorded,
          onEvent: (e) => draw?.(e),
        });
      } finally {
        progress?.stop();
      }
      const count = (s: string) => result.runs.filter((r) => r.status === s).length;
      console.log(
        `sweep ${spec.name}: ${result.status}: ${count('done')} done, ${count('diverged')} diverged, ${count('failed')} failed, ${result.runs.length - count('done') - count('diverged') - count('failed')} unfinished (${result.skipped} were finished before)`,
      );
      console.log(`status: scaling-lab status ${spec.name} --store ${storeLocation}`);
      if (result.status === 'interrupted') {
        console.error('resume with the same command');
        process.exitCode = EXIT_INTERRUPTED;
      } else if (result.status === 'failed') process.exitCode = EXIT_RUNS_FAILED;
    });
}

// ---- --design: write a designed sweep spec (sweep/design.ts) instead of running one (issue 16 item 2)

const numberList =
  (flag: string, integer = false) =>
  (v: string): number[] =>
    v.split(',').map((s) => {
      const x = Number(s);
      if (s.trim() === '' || !(Number.isFinite(x) && x > 0) || (integer && !Number.isInteger(x)))
        throw new InvalidArgumentError(`${flag} takes positive ${integer ? 'whole numbers' : 'numbers'} separated by commas, got "${s}"`);
      return x;
    });

function addDesignOptions(cmd: Command): void {
  cmd
    .addOption(
      new Option(
        '--design <kind>',
        'write a sweep spec instead of running one: isoflop (sizes and tokens around the optimum of each --budgets) or batch-scan (a batch ladder with an LR envelope)',
      ).choices(['isoflop', 'batch-scan']),
    )
    .option('--budgets <flops>', 'isoflop: FLOP budgets, comma separated (C = 6ND, N Kaplan non-embedding), e.g. 1e11,1e12,1e13', numberList('--budgets'))
    .option('--sizes-per-budget <m>', 'isoflop: model sizes per budget', int('--sizes-per-budget', 1), 5)
    .option('--tokens-per-param <k>', 'isoflop: the prior optimum D/N (Hoffmann et al. 2022: ~20)', positive('--tokens-per-param'), 20)
    .option('--spread <f>', 'isoflop: sizes span N*/f to N* x f around the prior optimum N*', positive('--spread'), 4)
    .option('--n-layer <L>', 'isoflop: keep every size at L layers and vary the width (default: d_model ~ 64 n_layer, the depth dial)', int('--n-layer', 1))
    .option(
      '--lr-width-power <p>',
      "isoflop: LR per size, base.lr x (64 / d_model)^p (1: muP's 1/width rule for Adam; 0: one LR)",
      number('--lr-width-power'),
      0,
    )
    .option('--depths <list>', 'batch-scan: model depths (d_model = 64 depth), comma separated', numberList('--depths', true), [1, 2])
    .option('--batches <list>', 'batch-scan: batch sizes in sequences, comma separated', numberList('--batches', true), [8, 16, 32, 64, 128, 256])
    .option('--tokens <n>', 'batch-scan: token budget at the smallest batch (larger batches get more, as 1 + B/24)', int('--tokens', 1), 600000)
    .option('--lr <lr>', 'batch-scan: the LR rule at batch 64 (x 0.5, 1, 2 at every batch size)', positive('--lr'), 2.5e-3)
    .option('--lr-power <p>', 'batch-scan: the LR rule lr (B/64)^p (0.5: square-root rule)', positive('--lr-power'), 0.5)
    .option('--name <name>', "the designed sweep's name (default: from the design, or the given spec's)")
    .option('--out <file>', 'write the designed spec here (default: print it)');
}

async function writeDesign(specPath: string | undefined, opts: Record<string, unknown>): Promise<void> {
  const from = specPath ? await loadSweepSpec(specPath) : undefined;
  const name = (opts.name as string | undefined) ?? from?.name;
  const base = from?.base;
  let design: Design;
  if (opts.design === 'isoflop') {
    if (!opts.budgets) throw new SweepSpecError('--design isoflop needs --budgets', 'e.g. --budgets 1e11,1e12,1e13 (FLOPs, C = 6ND)');
    design = designIsoFlop({
      budgets: opts.budgets as number[],
      sizesPerBudget: opts.sizesPerBudget as number,
      tokensPerParam: opts.tokensPerParam as number,
      spread: opts.spread as number,
      nLayer: opts.nLayer as number | undefined,
      lrWidthPower: opts.lrWidthPower as number,
      base,
      name,
    });
  } else {
    design = designBatchScan({
      depths: opts.depths as number[],
      batches: opts.batches as number[],
      tokens: opts.tokens as number,
      lr: opts.lr as number,
      lrPower: opts.lrPower as number,
      base,
      name,
    });
  }
  const yaml = designToYaml(design, `scaling-lab sweep ${process.argv.slice(3).join(' ')}`.trim());
  if (!opts.out) {
    process.stdout.write(yaml);
    return;
  }
  writeFileSync(opts.out as string, yaml);
  const spec = await loadSweepSpec(opts.out as string);
  const configs = expandSweep(spec);
  console.log(formatPlan(await planSweep(spec, configs, { probe: false, noProbeReason: 'a design trains nothing' })));
  console.log(`wrote ${opts.out}: run it with scaling-lab sweep ${opts.out}`);
}
