// `scaling-lab status [SWEEP]`: each run's state, progress (step/total), last losses and worker, read from the store;
// without a sweep name, a line per recorded sweep. Sweep records (manifests) and runs are the store's.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { StoreError, openStore, storeKindOf, type Store } from '../../store/store.ts';
import { warnDamaged } from '../damaged.ts';
import { leaseIsLive } from '../../store/lease.ts';
import { SweepSpecError, expandSweep, type SweepManifest, type SweepSpec } from '../../sweep/spec.ts';
import { parseRunConfig, runId, totalSteps } from '../../train/config.ts';
import { maxOf } from '../../analysis/extent.ts';
import { sharedOption } from '../options.ts';
import { fixed } from '../../util/format.ts';

export interface RunStatusRow {
  id: string;
  state: string;
  step: number;
  totalSteps: number;
  trainLoss?: number;
  testLoss?: number;
  worker?: string;
  attempt?: number;
  updatedAt?: string;
  message?: string;
  /** who holds the run's lease (one writer per run), since when, and whether it is live (renewed, its process alive) */
  holder?: string;
  heldSince?: string;
  holderLive?: boolean;
}

async function sweepRows(store: Store, m: SweepManifest): Promise<RunStatusRow[]> {
  const steps = new Map(expandSweep(m.spec).map((c) => [runId(c), totalSteps(c)]));
  return runRows(store, m.runIds, (id) => steps.get(id) ?? 0);
}

/** The total steps of a stored run, from its spec (0 when the spec is not a run config this version reads). */
function specSteps(spec: unknown): number {
  try {
    const s = spec as { config?: unknown } | undefined;
    return totalSteps(parseRunConfig(s && typeof s === 'object' && 'config' in s ? s.config : spec));
  } catch {
    return 0;
  }
}

async function runRows(store: Store, ids: readonly string[], stepsOf: (id: string) => number): Promise<RunStatusRow[]> {
  const rows: RunStatusRow[] = [];
  for (const id of ids) {
    const run = await store.getRun(id);
    if (!run) {
      rows.push({ id, state: 'not started', step: 0, totalSteps: stepsOf(id) });
      continue;
    }
    const metrics = await store.readMetrics(id);
    const last = metrics.at(-1);
    const lease = await store.getLease(id);
    rows.push({
      ...(lease !== undefined && { holder: lease.holder, heldSince: lease.since, holderLive: leaseIsLive(lease) }),
      id,
      state: run.state.status,
      step: last?.step ?? run.state.step ?? 0,
      totalSteps: stepsOf(id),
      trainLoss: last?.trainLoss,
      testLoss: metrics.findLast((r) => r.testLoss !== undefined)?.testLoss,
      worker: run.state.worker,
      attempt: run.state.attempt,
      updatedAt: run.state.updatedAt,
      message: run.state.message,
    });
  }
  return rows;
}

/** The note column: the status message, and for a held run who holds it (a lapsed lease: its holder went silent or died). */
function note(r: RunStatusRow): string {
  const held =
    r.holder === undefined
      ? ''
      : r.holderLive
        ? `held by ${r.holder} since ${r.heldSince}`
        : `lease of ${r.holder} lapsed (its process is gone or silent): the next worker or train takes the run over`;
  // the first line only: an external trainer's failure carries its command and stderr tail below (details())
  return [r.message?.split('\n')[0] ?? '', held].filter(Boolean).join('; ');
}

/** The rest of failed runs' messages (an external trainer's exit, command line and stderr tail; docs/ARCHITECTURE.md 4.9). */
function details(rows: readonly RunStatusRow[]): string[] {
  return rows
    .filter((r) => r.state === 'failed' && (r.message ?? '').includes('\n'))
    .flatMap((r) => [
      `${r.id} failed: ${r.message!.split('\n')[0]}`,
      ...r
        .message!.split('\n')
        .slice(1)
        .map((l) => `    ${l}`),
    ]);
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, maxOf(rows.map((r) => r[i].length))));
  return [head, ...rows]
    .map(
      (r) =>
        '  ' +
        r
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .argument('[sweep]', 'a sweep name (default: a line per sweep in the store, and every run outside a sweep, e.g. trained with `train`)')
    .description("show a sweep's runs, or every sweep and every run outside one: state, step/total, last train and test loss, which worker holds each")
    .addOption(sharedOption('store'))
    .option('--json', 'print JSON instead of a table', false)
    .action(async (name: string | undefined, opts: { store: string; json: boolean }) => {
      // reading must not create: a mistyped --store is an error, not a new empty store
      if (storeKindOf(opts.store) === 'file' && !existsSync(opts.store.replace(/^file:\/\//, ''))) {
        throw new StoreError(
          'not-found',
          `no store at ${opts.store}: no such directory`,
          'give the --store the runs were written to (default ./runs), or a postgres:// URL',
        );
      }
      const store = await openStore(opts.store);
      try {
        await warnDamaged(store);
        if (name === undefined) {
          const sweeps = await store.listSweeps<SweepSpec>();
          const summary = [];
          for (const m of sweeps) {
            const rows = await sweepRows(store, m);
            const by = (s: string) => rows.filter((r) => r.state === s).length;
            summary.push({
              name: m.name,
              purpose: m.purpose,
              runs: rows.length,
              done: by('done'),
              diverged: by('diverged'),
              running: by('running'),
              failed: by('failed'),
              pending: rows.length - by('done') - by('diverged') - by('running') - by('failed'),
            });
          }
          // every run outside the sweeps (trained with `train`, or a sweep's record lost): listed one by one
          const inSweeps = new Set(sweeps.flatMap((m) => m.runIds));
          const loose = (await store.listRuns()).filter((r) => !inSweeps.has(r.id));
          const specs = new Map(loose.map((r) => [r.id, r]));
          const looseRows = await runRows(
            store,
            loose.map((r) => r.id),
            (id) => specSteps(specs.get(id)?.spec),
          );
          if (opts.json) {
            // the array of sweeps, as before; runs outside any sweep as one more entry (name null) with each run
            const by = (s: string) => looseRows.filter((r) => r.state === s).length;
            const extra = looseRows.length
              ? [
                  {
                    name: null,
                    purpose: 'runs outside any sweep',
                    runs: looseRows.length,
                    done: by('done'),
                    diverged: by('diverged'),
                    running: by('running'),
                    failed: by('failed'),
                    pending: looseRows.length - by('done') - by('diverged') - by('running') - by('failed'),
                    runIds: looseRows.map((r) => r.id),
                    rows: looseRows.map((r) => ({ ...r, name: specs.get(r.id)?.name })),
                  },
                ]
              : [];
            return console.log(JSON.stringify([...summary, ...extra], null, 2));
          }
          if (summary.length === 0 && looseRows.length === 0) return console.log(`no sweeps and no runs in ${store.location}`);
          if (summary.length) {
            console.log(`sweeps in ${store.location}`);
            console.log(
              table(
                ['sweep', 'purpose', 'runs', 'done', 'diverged', 'running', 'failed', 'pending'],
                summary.map((s) => [s.name, s.purpose, ...[s.runs, s.done, s.diverged, s.running, s.failed, s.pending].map(String)]),
              ),
            );
          } else console.log(`no sweeps recorded in ${store.location}`);
          if (looseRows.length) {
            const fmt = (x?: number) => (x === undefined ? '-' : fixed(4)(x));
            console.log(`runs outside any sweep in ${store.location} (${looseRows.length}; e.g. trained with \`scaling-lab train\`)`);
            console.log(
              table(
                ['run', 'name', 'state', 'step', 'train', 'test', 'note'],
                looseRows.map((r) => [
                  r.id,
                  specs.get(r.id)?.name ?? '',
                  r.state,
                  `${r.step}/${r.totalSteps || '?'}`,
                  fmt(r.trainLoss),
                  fmt(r.testLoss),
                  note(r),
                ]),
              ),
            );
            for (const line of details(looseRows)) console.log(line);
          }
          return;
        }
        const m = await store.getSweep<SweepSpec>(name);
        if (!m) {
          const known = (await store.listSweeps()).map((s) => s.name);
          throw new SweepSpecError(
            `no sweep '${name}' in ${store.location}`,
            known.length ? `sweeps there: ${known.join(', ')}` : 'run `scaling-lab sweep SPEC` first, or pass the --store it used',
          );
        }
        const rows = await sweepRows(store, m);
        if (opts.json) return console.log(JSON.stringify({ sweep: m.name, purpose: m.purpose, hash: m.hash, runs: rows }, null, 2));
        const fmt = (x?: number) => (x === undefined ? '-' : fixed(4)(x));
        console.log(
          `sweep ${m.name} (${m.purpose}) in ${store.location}: ${rows.filter((r) => r.state === 'done' || r.state === 'diverged').length}/${rows.length} finished`,
        );
        console.log(
          table(
            ['run', 'state', 'step', 'train', 'test', 'worker', 'note'],
            rows.map((r) => [
              r.id,
              r.state + (r.attempt && r.attempt > 1 ? ` (try ${r.attempt})` : ''),
              `${r.step}/${r.totalSteps}`,
              fmt(r.trainLoss),
              fmt(r.testLoss),
              r.state === 'running' ? (r.worker ?? '') : '',
              note(r),
            ]),
          ),
        );
        for (const line of details(rows)) console.log(line);
      } finally {
        await store.close();
      }
    });
}
