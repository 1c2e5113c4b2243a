// `scaling-lab status`: placeholder registered by the lead; the issue that owns this command fills it in.
import type { Command } from 'commander';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('(not implemented yet)')
    .action(() => {
      throw new Error('scaling-lab status is not implemented yet');
    });
}
