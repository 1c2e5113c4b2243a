// The scaling-lab command line as a commander program: one module per command, registered here, and how thrown
// errors become a message, a hint and an exit code. main.ts runs it; tests walk it (every command's --help).
import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench.ts';
import { registerCorpora } from './commands/corpora.ts';
import { registerFit } from './commands/fit.ts';
import { registerBcrit } from './commands/bcrit.ts';
import { registerPlan } from './commands/plan.ts';
import { registerTrain } from './commands/train.ts';
import { registerTokenize } from './commands/tokenize.ts';
import { registerSweep } from './commands/sweep.ts';
import { registerWorker } from './commands/worker.ts';
import { registerStatus } from './commands/status.ts';
import { registerReport } from './commands/report.ts';
import { registerDemo } from './commands/demo.ts';
import { registerImport } from './commands/import.ts';
import { registerServe } from './commands/serve.ts';

export function buildProgram(): Command {
  const program = new Command('scaling-lab')
    .description('Empirical scaling laws for language models: train, sweep, measure the noise scale, fit, chart.')
    .showHelpAfterError('(run with --help for every flag)')
    .allowExcessArguments(false);
  registerTrain(program);
  registerSweep(program);
  registerWorker(program);
  registerStatus(program);
  registerReport(program);
  registerDemo(program);
  registerServe(program);
  registerBench(program);
  registerCorpora(program);
  registerTokenize(program);
  registerFit(program);
  registerBcrit(program);
  registerImport(program);
  registerPlan(program);
  return program;
}

/**
 * Errors for bad input carry a `hint` saying what to do (docs/ARCHITECTURE.md 5.1). Anything else is a bug and is
 * printed with its stack.
 */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof Error && 'hint' in err) {
    console.error(`error: ${err.message}`);
    if (err.hint) console.error(`hint: ${String(err.hint)}`);
    return 2;
  }
  console.error(err);
  return 1;
}
