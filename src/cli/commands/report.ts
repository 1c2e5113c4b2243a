// `scaling-lab report`: placeholder registered by the lead; the issue that owns this command fills it in.
import type { Command } from 'commander';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('(not implemented yet)')
    .action(() => {
      throw new Error('scaling-lab report is not implemented yet');
    });
}
