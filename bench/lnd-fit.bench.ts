// L(N, D) fits on one published IsoFLOP experiment (~100 runs), ours and the committed scipy reference
// (test/analysis/reference/approach3_scipy.py) side by side in one run: Approach 3 from the 4500-start grid
// (pruned to the 200 lowest starting objectives, as fitChinchilla does by default, and unpruned), VPNLS,
// 1000 bootstrap refits of each; scipy's grid fit and warm-started bootstrap refits.
//
//   node --import tsx bench/lnd-fit.bench.ts [--experiment NAME] [--bootstrap K] [--scipy-grid coarse|full|none]
//        [--scipy-bootstrap K] [--prune-check] [--json]
//
// --prune-check fits Epoch's data and all seven Open-Athena experiments with and without pruning and prints the
// differences (objective, alpha, beta): the evidence that pruning keeps the optimum. Timings are wall-clock on a
// shared machine: the 1-minute load average is printed with them.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseCsv, importScalingPoints } from '../src/analysis/importers.ts';
import { bootstrapChinchilla, fitChinchilla } from '../src/analysis/chinchilla.ts';
import { bootstrapVpnls, fitVpnls } from '../src/analysis/vpnls.ts';
import { OPEN_ATHENA_FILE, openAthenaExperiments } from '../test/analysis/open-athena-data.ts';
import { machineNote, nowMs } from './timing.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const json = args.includes('--json');
const expName = opt('--experiment', 'misfitting__fineweb_c4__transformer');
const K = Number(opt('--bootstrap', '1000'));
const scipyGrid = opt('--scipy-grid', 'coarse');
const scipyBoot = Number(opt('--scipy-bootstrap', '100'));
const log = (s: string): void => {
  if (!json) console.log(s);
};
/** CPU milliseconds of this (single-threaded) process per timed call, beside the wall clock: on a loaded
 * shared machine the CPU time is the fairer figure; both are printed. */
const cpu: number[] = [];
const time = <T>(fn: () => T): [T, number] => {
  const t0 = nowMs();
  const c0 = process.cpuUsage();
  const v = fn();
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  return [v, nowMs() - t0];
};
const lastCpu = (): string => `cpu ${(cpu[cpu.length - 1] / 1000).toFixed(3)} s`;

const exps = openAthenaExperiments();
const exp = exps.find((e) => e.name === expName);
if (!exp) throw new Error(`no experiment ${expName}; have ${exps.map((e) => e.name).join(', ')}`);
const pts = exp.points;
log(`${exp.name}: ${pts.length} runs (outliers dropped)`);

// warm up the JIT on another experiment so the first timed fit is not the compile
fitChinchilla(exps[0].points.slice(0, 40), { prune: 20 });
fitVpnls(exps[0].points.slice(0, 40));

const [pruned, msPruned] = time(() => fitChinchilla(pts));
const cpuPruned = lastCpu();
const [full, msFull] = time(() => fitChinchilla(pts, { prune: 0 }));
const cpuFull = lastCpu();
const [vp, msVp] = time(() => fitVpnls(pts));
const cpuVp = lastCpu();
const [boot, msBoot] = time(() => bootstrapChinchilla(pts, pruned, { samples: K, seed: 0 }));
const cpuBoot = lastCpu();
const [vboot, msVboot] = time(() => bootstrapVpnls(pts, vp, { samples: K, seed: 0 }));
const cpuVboot = lastCpu();
const cpuMs = { approach3Pruned: cpu[0], approach3Full: cpu[1], vpnls: cpu[2], bootstrap: cpu[3], vpnlsBootstrap: cpu[4] };

const ours = {
  approach3Pruned: {
    ms: msPruned,
    starts: pruned.diagnostics.starts,
    optimized: pruned.diagnostics.optimized,
    objective: pruned.objective,
    alpha: pruned.params.alpha,
    beta: pruned.params.beta,
  },
  approach3Full: {
    ms: msFull,
    starts: full.diagnostics.starts,
    optimized: full.diagnostics.optimized,
    objective: full.objective,
    alpha: full.params.alpha,
    beta: full.params.beta,
  },
  vpnls: { ms: msVp, alpha: vp.params.alpha, beta: vp.params.beta, wellPosed: vp.wellPosed },
  bootstrap: { samples: K, ms: msBoot, strategy: boot.strategy, alphaCi: boot.ci.alpha },
  vpnlsBootstrap: { samples: K, ms: msVboot, alphaCi: vboot.ci.alpha },
};

let scipy:
  | {
      grid: string;
      starts: number;
      seconds: number;
      cpuSeconds: number;
      objective: number;
      alpha: number;
      beta: number;
      bootstrap?: { samples: number; seconds: number; cpuSeconds: number };
    }
  | { skipped: string } = { skipped: 'not run' };
if (scipyGrid !== 'none') {
  const script = new URL('../test/analysis/reference/approach3_scipy.py', import.meta.url).pathname;
  const pyArgs = [
    script,
    OPEN_ATHENA_FILE,
    '--experiment',
    exp.name,
    ...(scipyGrid === 'full' ? ['--full'] : []),
    ...(scipyBoot > 0 ? ['--bootstrap', String(scipyBoot)] : []),
  ];
  const r = spawnSync('/usr/bin/python3', pyArgs, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) scipy = { skipped: `python3/scipy failed: ${(r.stderr || r.error?.message || '').slice(0, 300)}` };
  else {
    const out = JSON.parse(r.stdout);
    const e = out.experiments[exp.name];
    scipy = {
      grid: out.grid,
      starts: out.starts,
      seconds: e.seconds,
      cpuSeconds: e.cpu_seconds,
      objective: e.objective,
      alpha: e.alpha,
      beta: e.beta,
      bootstrap: e.bootstrap ? { samples: e.bootstrap.samples, seconds: e.bootstrap.seconds, cpuSeconds: e.bootstrap.cpu_seconds } : undefined,
    };
  }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
log('wall-clock seconds; the CPU seconds of our process in brackets');
log('');
log('                                   ours                       scipy (approach3_scipy.py)');
if ('skipped' in scipy) {
  log(
    `Approach 3, grid                   ${s(msPruned)} [${cpuPruned}] (pruned: 4500 evaluated, ${pruned.diagnostics.optimized} optimised)   scipy: ${scipy.skipped}`,
  );
  log(`                                   ${s(msFull)} [${cpuFull}] (all 4500 optimised)`);
} else {
  const perStart = (scipy.seconds / scipy.starts) * 4500;
  const perStartCpu = (scipy.cpuSeconds / scipy.starts) * 4500;
  log(
    `Approach 3, grid                   ${s(msPruned)} [${cpuPruned}] (pruned, ${pruned.diagnostics.optimized} of 4500)   ${scipy.seconds.toFixed(2)} s [cpu ${scipy.cpuSeconds.toFixed(2)} s] for ${scipy.grid} starts (${perStart.toFixed(0)} s [cpu ${perStartCpu.toFixed(0)} s] per 4500 at that rate)`,
  );
  log(`                                   ${s(msFull)} [${cpuFull}] (all 4500 optimised)`);
  log(
    `  objective                        ${pruned.objective.toExponential(10)}   ${scipy.objective.toExponential(10)}  (ours - scipy) / scipy = ${((pruned.objective - scipy.objective) / scipy.objective).toExponential(2)}`,
  );
  log(
    `  alpha, beta                      ${pruned.params.alpha.toFixed(5)}, ${pruned.params.beta.toFixed(5)}         ${scipy.alpha.toFixed(5)}, ${scipy.beta.toFixed(5)}`,
  );
  if (scipy.bootstrap) {
    log(`Approach 3, ${K} bootstrap refits  ${s(msBoot)} [${cpuBoot}] (${boot.strategy})`);
    log(
      `                                   scipy: ${scipy.bootstrap.samples} warm refits (1 start each) ${scipy.bootstrap.seconds.toFixed(2)} s [cpu ${scipy.bootstrap.cpuSeconds.toFixed(2)} s] = ${((scipy.bootstrap.seconds * K) / scipy.bootstrap.samples).toFixed(1)} s [cpu ${((scipy.bootstrap.cpuSeconds * K) / scipy.bootstrap.samples).toFixed(1)} s] per ${K}`,
    );
  }
}
if ('skipped' in scipy || !scipy.bootstrap) log(`Approach 3, ${K} bootstrap refits  ${s(msBoot)} [${cpuBoot}] (${boot.strategy})`);
log(`VPNLS fit                          ${s(msVp)} [${cpuVp}] (${vp.diagnostics.gridPoints} grid cells + L-BFGS; well posed: ${vp.wellPosed})`);
log(`VPNLS, ${K} bootstrap refits       ${s(msVboot)} [${cpuVboot}]`);
log(`targets (~100 runs): Approach 3 grid <= 1 s, VPNLS <= 0.2 s, ${K} bootstrap refits <= 3 s`);
const note = machineNote();
log(`machine: ${note.cores} cores, load average (1 min) ${note.load1}`);

let pruneCheck: { name: string; n: number; relObjective: number; dAlpha: number; dBeta: number; msPruned: number; msFull: number }[] | null = null;
if (args.includes('--prune-check')) {
  const f = new URL('../test/fixtures/analysis/chinchilla_epoch_svg_extracted.csv', import.meta.url).pathname;
  const sets = [
    { name: 'epoch_svg_extracted (drop 5)', points: importScalingPoints(parseCsv(readFileSync(f, 'utf8'), f), { dropHighest: 5 }).points },
    ...exps,
  ];
  pruneCheck = [];
  log('');
  log('pruned (200 lowest starting objectives) vs all 4500 starts optimised:');
  for (const set of sets) {
    const [a, ta] = time(() => fitChinchilla(set.points));
    const [b, tb] = time(() => fitChinchilla(set.points, { prune: 0 }));
    const row = {
      name: set.name,
      n: set.points.length,
      relObjective: (a.objective - b.objective) / b.objective,
      dAlpha: a.params.alpha - b.params.alpha,
      dBeta: a.params.beta - b.params.beta,
      msPruned: ta,
      msFull: tb,
    };
    pruneCheck.push(row);
    log(
      `  ${row.name.padEnd(46)} ${String(row.n).padStart(4)} runs  objective ${row.relObjective.toExponential(1).padStart(8)}  alpha ${row.dAlpha.toExponential(1).padStart(8)}  beta ${row.dBeta.toExponential(1).padStart(8)}  ${s(ta)} vs ${s(tb)}`,
    );
  }
}

if (json) console.log(JSON.stringify({ experiment: exp.name, runs: pts.length, ours, cpuMs, scipy, pruneCheck, machine: note }, null, 2));
