// `scaling-lab fit`: placeholder registered by the lead; the issue that owns this command fills it in.
import type { Command } from 'commander';

export function registerFit(program: Command): void {
  program
    .command('fit')
    .description('(not implemented yet)')
    .action(() => {
      throw new Error('scaling-lab fit is not implemented yet');
    });
}
