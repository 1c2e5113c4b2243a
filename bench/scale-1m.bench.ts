// Scale check (issue 12): a 1M-row end-point import through `fit`, and a file store with 1M metric rows through
// `bcrit` and `report`, each as its own process, printing wall time and peak RSS. Nothing may throw RangeError
// (spread-argument Math.min/max) or grow without bound.
// Run: node --import tsx bench/scale-1m.bench.ts [--rows 1000000] [--store-rows 1000000] [--only import|store] [--keep DIR]
//      [--quick: skip the ~250k-run fit] [--full-fit]
// The fit stages: one experiment of the import (--where experiment=exp0, ~250k runs, --bootstrap 0: minutes, Approach
// 3's L-BFGS starts each evaluate every run), then every experiment grouped after a --where that keeps a 1% slice (10k rows); with
// --full-fit also all 1M rows as one data set (slower still).
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { openStore } from '../src/store/store.ts';
import type { MetricRow } from '../src/analysis/records.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const ROWS = flag('--rows', 1_000_000);
const STORE_ROWS = flag('--store-rows', 1_000_000);
const dir = args.includes('--keep') ? args[args.indexOf('--keep') + 1] : mkdtempSync(join(tmpdir(), 'scale-1m-'));
const bin = new URL('../bin/scaling-lab.js', import.meta.url).pathname;
// prints the child's peak RSS on exit (stderr), without touching the CLI
const PEAK = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\npeak-rss-kb '+process.resourceUsage().maxRSS+'\\n'))`;

function run(label: string, cliArgs: string[]): void {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', PEAK, bin, ...cliArgs], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const s = (Date.now() - t0) / 1000;
  const peak = Number(/peak-rss-kb (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  const err =
    r.status === 0
      ? ''
      : `  FAILED (exit ${r.status}): ${r.stderr
          .split('\n')
          .filter((l) => l && !l.startsWith('peak-rss'))
          .slice(-3)
          .join(' | ')}`;
  console.log(`${label.padEnd(52)} ${s.toFixed(1).padStart(7)} s  peak RSS ${peak.toFixed(0).padStart(5)} MB${err}`);
  if (r.status !== 0) process.exitCode = 1;
}

/** N, D, loss from a Chinchilla law with 1% noise, four experiments, 1% of rows flagged as outliers. */
async function writeImport(file: string, n: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('experiment,slice,params,tokens,loss,outlier\n');
  let s = 1;
  const rnd = (): number => (s = (s * 16807) % 2147483647) / 2147483647;
  let buf: string[] = [];
  for (let i = 0; i < n; i++) {
    const N = 1e7 * 10 ** (3 * rnd());
    const D = 1e8 * 10 ** (3 * rnd());
    const L = (1.8 + 400 / N ** 0.34 + 2000 / D ** 0.28) * Math.exp(0.01 * (rnd() - 0.5));
    buf.push(`exp${i % 4},${Math.floor(i / 4) % 100},${N.toPrecision(6)},${D.toPrecision(6)},${L.toFixed(5)},${rnd() < 0.01 ? 'True' : 'False'}`);
    if (buf.length === 10_000) {
      if (!out.write(buf.join('\n') + '\n')) await once(out, 'drain');
      buf = [];
    }
  }
  out.end(buf.join('\n') + '\n');
  await once(out, 'finish');
}

/** A batch-size scan in a file store: 2 sizes x 4 batch sizes, `rows` metric rows in all, test loss every 10th. */
async function writeStore(path: string, rows: number): Promise<void> {
  const store = await openStore(path);
  const runs: { n: number; batch: number }[] = [];
  for (const n of [4e5, 3e6]) for (const batch of [8, 16, 32, 64]) runs.push({ n, batch });
  const per = Math.ceil(rows / runs.length);
  try {
    for (const [k, r] of runs.entries()) {
      const id = `scale-n${r.n}-b${r.batch}`;
      const T = 64;
      await store.putRun({
        id,
        name: id,
        sweep: 'scale',
        paramsKaplan: r.n,
        paramsTotal: Math.round(r.n * 1.1),
        batchSize: r.batch,
        context: T,
        batchTokens: r.batch * T,
        lr: 1e-3,
        seed: 0,
        spec: { id },
      });
      // steps to reach L: S_min(L) (1 + B_crit(L) / B), B_crit = 4e5 L^-5 tokens (Kaplan eq. 5.1 / 5.3)
      const floor = r.n < 1e6 ? 1.8 : 1.6;
      for (let start = 1; start <= per; start += 20_000) {
        const chunk: MetricRow[] = [];
        for (let step = start; step < Math.min(per + 1, start + 20_000); step++) {
          const tokens = step * r.batch * T;
          const loss = floor + (3 / (1 + (step / (1 + 2000 / (r.batch * T))) ** 0.35)) * (1 + 0.002 * Math.sin(step + k));
          const row: MetricRow = { step, tokens, flops: 6 * r.n * tokens, trainLoss: loss * 1.01, lr: 1e-3, gradNorm: 1, wallMs: step };
          if (step % 10 === 0) row.testLoss = loss;
          chunk.push(row);
        }
        await store.appendMetrics(id, chunk);
      }
      await store.setStatus(id, 'done');
    }
  } finally {
    await store.close();
  }
}

mkdirSync(dir, { recursive: true });
console.log(`scale bench in ${dir}`);
if (only !== 'store') {
  const file = join(dir, 'import-1m.csv');
  const t0 = Date.now();
  await writeImport(file, ROWS);
  console.log(`${`generated ${ROWS} end-point rows`.padEnd(52)} ${((Date.now() - t0) / 1000).toFixed(1).padStart(7)} s`);
  if (!args.includes('--quick')) run(`fit ${ROWS} rows, --where experiment=exp0`, ['fit', file, '--where', 'experiment=exp0', '--bootstrap', '0', '--json']);
  // all four experiments, each cut to a 1% slice: the import, filter and grouping see 1M rows, each fit 2.5k
  run(`fit ${ROWS} rows, --group experiment --where slice=0`, ['fit', file, '--group', 'experiment', '--where', 'slice=0', '--bootstrap', '0', '--json']);
  if (args.includes('--full-fit')) run(`fit ${ROWS} rows as one data set`, ['fit', file, '--bootstrap', '0', '--json']);
}
if (only !== 'import') {
  const store = join(dir, 'runs');
  const t0 = Date.now();
  await writeStore(store, STORE_ROWS);
  console.log(`${`wrote a file store with ${STORE_ROWS} metric rows`.padEnd(52)} ${((Date.now() - t0) / 1000).toFixed(1).padStart(7)} s`);
  run(`bcrit on the store`, ['bcrit', store, '--bootstrap', '20', '--json']);
  run(`report on the store (svg, png, html)`, ['report', store, '--bootstrap', '20', '--out', join(dir, 'report'), '--quiet']);
}
if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
