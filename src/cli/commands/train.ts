// `scaling-lab train`: flags map one to one onto the run config (train/config.ts), plus how to execute it;
// prints the resolved config, shows progress, and turns SIGINT/SIGTERM into a clean checkpointed stop.
import type { Command } from 'commander';
import { RunConfigSchema, parseRunConfig, runId, totalSteps, type ExecOptions } from '../../train/config.ts';
import { trainRun } from '../../train/run.ts';
import { openStore } from '../../store/store.ts';
import { addSchemaOptions, configTable, schemaValues } from '../schema-flags.ts';
import { createProgress, phaseProgress } from '../progress.ts';
import { EXIT_DIVERGED, EXIT_INTERRUPTED } from '../helpers.ts';
import { CORPUS_FLAGS, addShared, cacheDirOf } from '../options.ts';
import { formatGrouped } from '../../util/format.ts';

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train one GPT model and log its metrics, test loss and noise scale to the store; re-running resumes it')
    .addHelpText(
      'after',
      '\nExample:\n  scaling-lab train --depth 1 --batch 32 --tokens 2000000\n\nThe run id is derived from the config, so the same command resumes an interrupted run and skips a finished one.',
    );
  // the corpus flags are the shared ones (the same help and defaults as tokenize, sweep and demo); they fill the same config keys
  addSchemaOptions(cmd, RunConfigSchema.shape, CORPUS_FLAGS);
  addShared(cmd, ...CORPUS_FLAGS, 'cacheDir', 'noCache', 'backend', 'threads', 'store', 'checkpointEvery');
  cmd.option('--quiet', 'no progress output, only the final summary', false);
  cmd.action(async (opts: Record<string, unknown>) => {
    const config = parseRunConfig(schemaValues(opts, RunConfigSchema.shape));
    const exec: ExecOptions = {
      backend: opts.backend as ExecOptions['backend'],
      threads: opts.threads as number | undefined,
      store: opts.store as string,
      checkpointEvery: opts.checkpointEvery as number,
      cacheDir: cacheDirOf(opts),
    };
    const quiet = Boolean(opts.quiet);
    const store = await openStore(exec.store);
    const controller = new AbortController();
    const stop = (signal: string) => {
      if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED); // second Ctrl-C: leave now
      console.error(`\n${signal}: finishing the step, writing a checkpoint (Ctrl-C again to leave at once)`);
      controller.abort();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));

    if (!quiet)
      console.error(
        configTable(`run ${runId(config)} (${totalSteps(config)} steps)`, { ...config, ...exec, cacheDir: exec.cacheDir === null ? 'none' : exec.cacheDir }),
      );
    const progress = createProgress('train', { total: totalSteps(config), unit: 'steps', quiet });
    try {
      const result = await trainRun(config, exec, store, {
        signal: controller.signal,
        onNotice: (m) => progress.log(m),
        onDataProgress: quiet ? undefined : phaseProgress(),
        onStep: (s) =>
          progress.update(s.step, {
            'tok/s': formatGrouped(s.tokensPerSecond),
            train: s.trainLoss.toFixed(3),
            ...(s.testLoss !== undefined ? { test: s.testLoss.toFixed(3) } : {}),
          }),
      });
      progress.stop();
      const losses = [
        result.finalTrainLoss !== undefined ? `train loss ${result.finalTrainLoss.toFixed(4)}` : '',
        result.finalTestLoss !== undefined ? `test loss ${result.finalTestLoss.toFixed(4)}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      const speed = result.tokensPerSecond ? `, ${formatGrouped(result.tokensPerSecond)} tokens/s` : '';
      console.log(
        `${result.id}: ${result.status} at step ${result.step}/${result.totalSteps}${losses ? `, ${losses}` : ''}${speed}${result.message ? ` (${result.message})` : ''}`,
      );
      console.log(`metrics: ${store.kind === 'file' ? `${store.location}/${result.id}/metrics.jsonl` : `${store.location} run ${result.id}`}`);
      if (result.status === 'interrupted') {
        console.error('resume with the same command');
        process.exitCode = EXIT_INTERRUPTED;
      } else if (result.status === 'diverged') process.exitCode = EXIT_DIVERGED;
    } finally {
      await store.close();
    }
  });
}
