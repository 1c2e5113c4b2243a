// `scaling-lab worker`: placeholder registered by the lead; the issue that owns this command fills it in.
import type { Command } from 'commander';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('(not implemented yet)')
    .action(() => {
      throw new Error('scaling-lab worker is not implemented yet');
    });
}
