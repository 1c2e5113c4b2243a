// `scaling-lab bench`: placeholder registered by the lead; the issue that owns this command fills it in.
import type { Command } from 'commander';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('(not implemented yet)')
    .action(() => {
      throw new Error('scaling-lab bench is not implemented yet');
    });
}
