// Queue throughput: how many short runs per minute `sweep --queue` gets through with 2 and 4 `scaling-lab worker`
// processes (threads 1 each) on loopback Redis + PostgreSQL (test/helpers/services.ts), each worker count on fresh
// servers. The clock runs from launching the sweep (workers already up and idle) to its exit; every run must be done.
// Run: node --import tsx bench/queue-load.ts [--runs 40] [--steps 20] [--workers 2,4] [--json]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/store.ts';
import { isSkip, startPostgres, startRedis } from '../test/helpers/services.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(flag('--runs', '40'));
const STEPS = Number(flag('--steps', '20'));
const WORKERS = flag('--workers', '2,4').split(',').map(Number);
const json = args.includes('--json');
const bin = new URL('../bin/scaling-lab.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'scaling-lab-queue-load-'));
process.env.SCALING_LAB_CACHE ??= join(tmpdir(), 'scaling-lab-test-cache');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const spec = {
  name: 'queue-load',
  base: {
    depth: 1,
    context: 16,
    batch: 8,
    microBatch: 4,
    steps: STEPS,
    evalInterval: Math.max(1, Math.floor(STEPS / 4)),
    evalWindows: 8,
    warmupSteps: 5,
    lr: 3e-3,
    tokenizer: 'byte',
  },
  axes: { seed: Array.from({ length: RUNS }, (_, i) => i) },
};
const specFile = join(dir, 'queue-load.json');
writeFileSync(specFile, JSON.stringify(spec));

function launch(argv: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | string> } {
  const child = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, out: () => out, exited: new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s ?? -1))) };
}

const results: { workers: number; runs: number; steps: number; seconds: number; runsPerMinute: number }[] = [];
for (const n of WORKERS) {
  const redis = await startRedis();
  const pg = await startPostgres();
  if (isSkip(redis) || isSkip(pg)) {
    console.error(`queue-load: ${isSkip(redis) ? redis.skip : ''} ${isSkip(pg) ? pg.skip : ''}`);
    process.exit(2);
  }
  const workers = Array.from({ length: n }, () => launch(['worker', '--queue', redis.url, '--store', pg.url, '--workers', '1', '--threads', '1', '--quiet']));
  await sleep(4000); // let them load (tsx, the corpus cache) and block on the queue
  const t0 = Date.now();
  const sweep = launch(['sweep', specFile, '--queue', redis.url, '--store', pg.url, '--quiet']);
  const code = await sweep.exited;
  const seconds = (Date.now() - t0) / 1000;
  const store = await openStore(pg.url);
  const done = (await store.listRuns()).filter((r) => r.state.status === 'done').length;
  await store.close();
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await redis.stop();
  await pg.stop();
  if (code !== 0 || done !== RUNS) {
    console.error(`queue-load: ${n} workers: sweep exited ${code}, ${done}/${RUNS} runs done\n${sweep.out().slice(-3000)}`);
    process.exit(1);
  }
  const r = { workers: n, runs: RUNS, steps: STEPS, seconds: Number(seconds.toFixed(1)), runsPerMinute: Number(((RUNS / seconds) * 60).toFixed(1)) };
  results.push(r);
  if (!json) console.log(`${n} workers: ${RUNS} runs of ${STEPS} steps in ${r.seconds} s = ${r.runsPerMinute} runs/min`);
}
rmSync(dir, { recursive: true, force: true });
if (json) console.log(JSON.stringify(results));
