// `scaling-lab serve [STORE]`: the live dashboard on a file store or PostgreSQL, read-only, on 127.0.0.1 unless told
// otherwise (then with a token). The shell only: the server, feeds and fits are src/server/'s.
import type { Command } from 'commander';
import { startDashboard } from '../../server/http.ts';
import { ServeError } from '../../server/errors.ts';
import { addShared } from '../options.ts';
import { int, secondsToMs } from '../helpers.ts';
import { storeKindOf } from '../../store/store.ts';
import { redactUrl } from '../../util/redact.ts';

/** the default port: fixed, so a bookmark keeps working; --port 0 takes any free one */
const DEFAULT_PORT = 8377;

interface ServeCliOptions {
  store: string;
  host: string;
  port: number;
  token?: string;
  poll: number;
  fitEvery: number;
  bootstrap: number;
  bootstrapSeed: number;
  nParams: 'kaplan' | 'total';
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description(
      'a live dashboard of a store: sweeps and runs (status, progress, tokens/s, ETA, losses, why a run diverged or failed), learning curves, and the scaling charts and fits recomputed as runs land; read-only',
    )
    .argument('[store]', 'a runs directory (file store) or a postgres:// URL; the same as --store (default ./runs)');
  addShared(cmd, 'store');
  cmd
    .option('--host <address>', 'address to listen on; anything but loopback needs --token', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', int('--port', 0), DEFAULT_PORT)
    .option('--token <token>', 'a secret every request must carry (?token= or Authorization: Bearer); required off loopback (default: $SCALING_LAB_TOKEN)')
    .option('--poll <ms>', 'how often the store is polled for new rows and status changes (a file store is also watched)', int('--poll', 50), 500)
    .option(
      '--fit-every <seconds>',
      'least seconds between two recomputations of the fits (each runs the report code in a child process)',
      secondsToMs('--fit-every'),
      5000,
    );
  addShared(cmd, 'bootstrap', 'bootstrapSeed', 'nParams');
  cmd
    .addHelpText(
      'after',
      '\nExamples:\n  scaling-lab serve runs\n  scaling-lab serve postgres://user@host/db --port 8080\n  scaling-lab serve runs --host 0.0.0.0 --token "$(openssl rand -hex 16)"',
    )
    .action(async (positional: string | undefined, opts: ServeCliOptions) => {
      if (positional !== undefined && cmd.getOptionValueSource('store') === 'cli' && positional !== opts.store) {
        throw new ServeError(`two stores given: ${positional} and --store ${opts.store}`, 'give the store once, as the argument or as --store');
      }
      const location = positional ?? opts.store;
      const dashboard = await startDashboard({
        location,
        host: opts.host,
        port: opts.port,
        token: opts.token ?? process.env.SCALING_LAB_TOKEN,
        pollMs: opts.poll,
        fitGapMs: opts.fitEvery,
        bootstrap: opts.bootstrap,
        seed: opts.bootstrapSeed,
        nCount: opts.nParams,
      });
      console.log(`dashboard: ${dashboard.url}`);
      const n = dashboard.feed.runs.size;
      console.log(`watching ${storeKindOf(location) === 'postgres' ? redactUrl(location) : location} (${n} run${n === 1 ? '' : 's'}); read-only; Ctrl-C stops`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await dashboard.close();
    });
}
