// `scaling-lab bcrit`: placeholder registered by the lead; the issue that owns this command fills it in.
import type { Command } from 'commander';

export function registerBcrit(program: Command): void {
  program
    .command('bcrit')
    .description('(not implemented yet)')
    .action(() => {
      throw new Error('scaling-lab bcrit is not implemented yet');
    });
}
