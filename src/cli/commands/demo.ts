// `scaling-lab demo` (what `npm start` runs): a batch-size scan and a size x data grid on the default corpus
// and file store, then the analysis and the report, and the headline numbers, shown only if they are sensible.
// The sweeps are examples/demo/*.yaml, run by src/sweep; the fits and charts are src/report's.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadSweepSpec, expandSweep, type SweepSpec } from '../../sweep/spec.ts';
import { formatPlan, planSweep } from '../../sweep/plan.ts';
import { partitionFinished, runSweep } from '../../sweep/executor.ts';
import { createLocalExecutor } from '../../sweep/local.ts';
import { openStore } from '../../store/store.ts';
import { buildReport, type Headline, type Report } from '../../report/build.ts';
import type { IsoFlopProfile } from '../../analysis/isoflop.ts';
import { checkReportOut, writeReportAtomic } from '../../report/output.ts';
import { fitCaveats, irreducibleLoss, sanityChecks, type Check } from '../../report/checks.ts';
import type { ExecOptions, RunConfig } from '../../train/config.ts';
import { createMultiProgress } from '../progress.ts';
import { formatInterval, formatSig } from '../../util/format.ts';
import { EXIT_INTERRUPTED, renderSweepEvents } from '../helpers.ts';
import { addDeprecatedAlias, addShared, cacheDirOf, parallelism } from '../options.ts';

const SPEC_DIR = fileURLToPath(new URL('../../../examples/demo/', import.meta.url));

/**
 * The demo's two sweeps: a batch-size scan and an IsoFLOP experiment (examples/demo/isoflop.yaml, written by
 * `sweep --design isoflop`: its header says how), in full (about 10 minutes on 2 idle cores) or quick (about 2).
 */
function demoSpecPaths(quick: boolean): string[] {
  return (quick ? ['quick-scan.yaml', 'quick-isoflop.yaml'] : ['scan.yaml', 'isoflop.yaml']).map((f) => resolve(SPEC_DIR, f));
}

/** A spec file's leading comment lines (a designed spec's notes: what was designed and how), without the '#'. */
function specHeader(path: string): string[] {
  const lines: string[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('#')) break;
    lines.push(line.replace(/^#\s?/, ''));
  }
  return lines;
}

/**
 * What the IsoFLOP experiment found (issue 16): how many budgets have their minimum inside the sizes tried, and
 * whether the parametric fit identifies E. Said whatever the answer, since both decide how far to trust the allocation.
 */
function isoflopFindings(report: Report): string[] {
  const lines: string[] = [];
  const iso = report.fits.isoflop;
  if (iso) {
    const inside = iso.profiles.filter((p) => p.interior);
    const where = (p: IsoFlopProfile) => `C ${sci(p.c)}: N ${sci(p.nOpt)}`;
    const others = iso.profiles.filter((p) => !p.interior).map((p) => `C ${sci(p.c)}: ${p.reason ?? p.status}`);
    lines.push(
      `  IsoFLOP minima: ${inside.length} of ${iso.profiles.length} budgets have their minimum inside the sizes tried${inside.length ? ` (${inside.map(where).join('; ')})` : ''}${others.length ? `; not: ${others.join('; ')}` : ''}`,
    );
  } else lines.push(`  IsoFLOP minima: none (${report.fits.isoflopReason ?? 'no IsoFLOP budgets'})`);
  const e = irreducibleLoss(report);
  if (e) lines.push(`  irreducible loss: ${e.identified ? '' : 'NOT identified: '}${e.detail}`);
  return lines;
}

/** Headline numbers: 3 significant figures, an exponent outside [1e-2, 1e4) (zero too), zeros kept (2.20, 5.50e+4). */
const sci = (x: number) => formatSig(x, { digits: 3, small: 1e-2, large: 1e4, trim: false, zeroExponent: true });
const ci = (c: [number, number]) => formatInterval(c, sci);
const duration = (s: number) => (s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(0)} s`);

/** The headline numbers, as lines. */
function headlineLines(h: Headline): string[] {
  const lines: string[] = [];
  lines.push('critical batch size, B_crit(L) = B* / L^(1/alpha_B) in tokens (Kaplan et al. 2020 eq. 5.3):');
  if (h.bcrit.length === 0) lines.push('  (no fit)');
  for (const b of h.bcrit)
    lines.push(
      `  ${b.size} params: B* = ${sci(b.bStar)} ${ci(b.bStarCi)}, alpha_B = ${sci(b.alphaB)} ${ci(b.alphaBCi)} (B_crit ~ L^-${(1 / b.alphaB).toFixed(1)}, ${b.levels} levels)`,
    );
  const p = h.bcritPooled;
  if (p) {
    lines.push(
      `  pooled over ${p.groups} model sizes (Kaplan's one line): B* = ${sci(p.bStar)} ${ci(p.ci.bStar)}, alpha_B = ${sci(p.alphaB)} ${ci(p.ci.alphaB)} (B_crit ~ L^-${(1 / p.alphaB).toFixed(1)});`,
    );
    lines.push(
      `    ${p.agree === null ? "whether the sizes agree with it cannot be judged: a size's intervals are withheld (more than half its bootstrap resamples failed)" : p.agree ? `every size agrees with it within its own 95% intervals (alpha_B, and B_crit at L ${p.lossMid.toFixed(2)}): B_crit depends on the loss, not the model size` : 'the sizes do not agree with one law within their intervals'} (F-test, indicative only: p ${sci(p.p)})`,
    );
  }
  if (h.chinchilla) {
    const { params: p, ci: c } = h.chinchilla;
    lines.push(`L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022 Approach 3; ${h.chinchilla.runs} runs, N = ${h.chinchilla.nCount}):`);
    lines.push(
      `  E ${sci(p.E)} ${ci(c.E)}, A ${sci(p.A)} ${ci(c.A)}, B ${sci(p.B)} ${ci(c.B)}, alpha ${sci(p.alpha)} ${ci(c.alpha)}, beta ${sci(p.beta)} ${ci(c.beta)}`,
    );
  } else lines.push('L(N, D): (no fit)');
  if (h.allocation)
    lines.push(
      `compute-optimal allocation (C = 6ND): N_opt ~ C^${h.allocation.a.toFixed(3)} ${ci(h.allocation.aCi)}, D_opt ~ C^${h.allocation.b.toFixed(3)} ${ci(h.allocation.bCi)}`,
    );
  if (h.isoflop)
    lines.push(
      `  IsoFLOP profiles (Approach 2, ${h.isoflop.profiles} budgets): N_opt ~ C^${h.isoflop.a.toFixed(3)} ± ${h.isoflop.aStdErr.toFixed(3)}, D_opt ~ C^${h.isoflop.b.toFixed(3)} ± ${h.isoflop.bStdErr.toFixed(3)}`,
    );
  lines.push(`(${Math.round(h.level * 100)}% intervals from ${h.bootstrap} bootstrap resamples, seed ${h.seed})`);
  return lines;
}

export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description(
      'reproduce the three findings at small scale on the default corpus: a batch-size scan (critical batch size and noise scale), a size x data grid (L(N, D)), the fits and the report',
    )
    .option('--quick', 'fewer and shorter runs (about 2 minutes on 2 idle cores instead of about 10)', false);
  addShared(cmd, 'store');
  cmd.option('--out <dir>', 'where the report goes', 'reports/demo');
  addShared(cmd, 'workers', 'threads', 'cacheDir', 'noCache', 'bootstrap', 'bootstrapSeed', 'nParams');
  cmd.option('--quiet', 'no progress lines, only the summary', false);
  cmd.option('--dry-run', "print the two sweeps' designs and plans and exit: nothing is trained, not even the timing probe", false);
  addDeprecatedAlias(cmd, '--threads-per-worker <n>', '--threads');
  addDeprecatedAlias(cmd, '--seed <s>', '--bootstrap-seed');
  cmd
    .addHelpText(
      'after',
      '\nInterrupt it with Ctrl-C and run it again: finished runs are kept and unfinished ones resume from their checkpoints.\nThe sweeps are examples/demo/*.yaml; `scaling-lab sweep` runs them the same way.',
    )
    .action(
      async (opts: {
        quick: boolean;
        store: string;
        out: string;
        workers?: number;
        threads?: number;
        cacheDir?: string;
        cache?: boolean;
        bootstrap: number;
        bootstrapSeed: number;
        nParams: 'kaplan' | 'total';
        quiet: boolean;
        dryRun: boolean;
      }) => {
        const started = performance.now();
        // before minutes of training: a --out that cannot take the report fails now
        checkReportOut(opts.out);
        const { workers, threads } = parallelism(opts.workers, opts.threads);
        const exec: ExecOptions = { backend: 'auto', threads, store: opts.store, checkpointEvery: 50, cacheDir: cacheDirOf(opts) };
        const specs: SweepSpec[] = [];
        for (const path of demoSpecPaths(opts.quick)) specs.push(await loadSweepSpec(path));
        if (opts.dryRun) {
          for (const [i, spec] of specs.entries()) {
            const path = demoSpecPaths(opts.quick)[i];
            console.log(`${spec.name} (${spec.purpose}): ${path}`);
            for (const line of specHeader(path)) console.log(`  ${line}`);
            console.log(formatPlan(await planSweep(spec, expandSweep(spec), { probe: false, noProbeReason: '--dry-run trains nothing' })));
            console.log('');
          }
          console.log('dry run: nothing trained');
          return;
        }

        // ---- the plan: what is left to train (a re-run after Ctrl-C skips finished runs) and a probed estimate
        const sweeps: { spec: SweepSpec; configs: RunConfig[]; finished: number }[] = [];
        let runs = 0,
          finished = 0,
          tokens = 0,
          estimate = 0;
        const planStore = await openStore(opts.store);
        try {
          for (const spec of specs) {
            const configs = expandSweep(spec);
            const { finished: done, todo } = await partitionFinished(planStore, configs);
            sweeps.push({ spec, configs, finished: done.length });
            runs += configs.length;
            finished += done.length;
            if (todo.length === 0) continue;
            const plan = await planSweep(spec, todo, { backend: 'auto', threads, workers, probeSteps: 1, probeSeconds: 1 });
            tokens += plan.totalTokens;
            estimate += plan.estimatedSeconds ?? 0;
          }
        } finally {
          await planStore.close();
        }
        const left = finished > 0 ? ` (${finished} finished before, ${(tokens / 1e6).toFixed(1)}M tokens left)` : `, ${(tokens / 1e6).toFixed(1)}M tokens`;
        console.log(
          `scaling-lab demo${opts.quick ? ' --quick' : ''}: ${specs.map((s) => `${s.name} (${s.purpose})`).join(' and ')}: ${runs} runs${left} of byte-level gutenberg, on ${workers} worker(s); training about ${duration(estimate * 1.3)} here`,
        );
        console.log(`runs: ${opts.store}/, report: ${opts.out}/; Ctrl-C stops, and the same command resumes`);
        console.log(`watch it live: scaling-lab serve ${opts.store}`);

        const controller = new AbortController();
        const stop = () => {
          if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
          console.error('\nstopping: workers checkpoint their runs (Ctrl-C again to leave at once)');
          controller.abort();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);

        // ---- the sweeps
        for (const { spec, configs, finished: done } of sweeps) {
          const progress = createMultiProgress(`${spec.name}`, { total: configs.length, done, quiet: opts.quiet });
          const result = await runSweep(spec, {
            executor: createLocalExecutor({ workers }),
            exec,
            signal: controller.signal,
            onEvent: renderSweepEvents(progress),
          });
          progress.stop();
          if (result.status === 'interrupted') {
            console.error(
              `interrupted; run the same command again to resume (${result.runs.filter((r) => r.status === 'done' || r.status === 'diverged').length} of ${result.runs.length} runs of ${spec.name} are finished)`,
            );
            process.exitCode = EXIT_INTERRUPTED;
            return;
          }
          const failed = result.runs.filter((r) => r.status === 'failed');
          if (failed.length)
            console.error(
              `${spec.name}: ${failed.length} run(s) failed after retries (${failed.map((r) => r.name).join(', ')}); the analysis goes on without them`,
            );
          if (!opts.quiet) console.error(`${spec.name}: ${result.runs.length - result.skipped} runs trained, ${result.skipped} already finished`);
        }

        // ---- analysis and report
        const store = await openStore(opts.store);
        let records;
        try {
          records = (await Promise.all(specs.map((s) => store.loadRecords({ sweep: s.name })))).flat();
        } finally {
          await store.close();
        }
        const report = await buildReport(
          { source: opts.store, records },
          {
            bootstrap: opts.bootstrap,
            seed: opts.bootstrapSeed,
            nCount: opts.nParams,
            onProgress: opts.quiet ? undefined : (l) => console.error(`report: ${l}`),
          },
        );
        const written = writeReportAtomic(opts.out, report, ['svg', 'png', 'html']);
        const checks: Check[] = sanityChecks(report);

        console.log('');
        console.log(
          `done in ${duration((performance.now() - started) / 1000)}: ${records.length} runs; report ${resolve(written.dir, 'report.html')} (+ an SVG and a PNG per chart)`,
        );
        const failedChecks = checks.filter((c) => !c.passed);
        console.log('');
        console.log(
          failedChecks.length === 0
            ? 'all checks passed: the findings below are real and sensible at this scale'
            : `${failedChecks.length} of ${checks.length} checks FAILED: read the numbers below with that in mind`,
        );
        for (const c of checks) console.log(`  ${c.passed ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
        console.log('');
        for (const line of headlineLines(report.headline)) console.log(line);
        for (const line of isoflopFindings(report)) console.log(line);
        for (const caveat of fitCaveats(report)) console.log(`note: ${caveat}`);
        for (const w of report.warnings) console.error(`warning: ${w}`);
      },
    );
}
