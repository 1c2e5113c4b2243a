// `scaling-lab corpora`: placeholder registered by the lead; the issue that owns this command fills it in.
import type { Command } from 'commander';

export function registerCorpora(program: Command): void {
  program
    .command('corpora')
    .description('(not implemented yet)')
    .action(() => {
      throw new Error('scaling-lab corpora is not implemented yet');
    });
}
