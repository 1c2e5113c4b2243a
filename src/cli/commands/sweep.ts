// `scaling-lab sweep`: placeholder registered by the lead; the issue that owns this command fills it in.
import type { Command } from 'commander';

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('(not implemented yet)')
    .action(() => {
      throw new Error('scaling-lab sweep is not implemented yet');
    });
}
