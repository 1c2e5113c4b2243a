// Shared by the sweep tests: tiny specs, an uninterrupted reference run trained alone in a file store, metric checks,
// and a queue cluster (real Redis + PostgreSQL + `scaling-lab worker` processes). The tests themselves are in *.test.ts.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricRow } from '../../src/analysis/records.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { parseSweepSpec, type SweepSpec } from '../../src/sweep/spec.ts';
import { runId, type ExecOptions, type RunConfig } from '../../src/train/config.ts';
import { trainRun } from '../../src/train/run.ts';
import { isSkip, startPostgres, startRedis, type PostgresServer, type RedisServer, type Skip } from '../helpers/services.ts';

export const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;

/** One temp dir per test process (removed at exit). */
export const tmp = mkdtempSync(join(tmpdir(), 'scaling-lab-sweep-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
// The token cache is shared by the sweep test files (and inherited by every worker process): encoding the corpus once
// per machine, not once per process; entries are checked by hash and written atomically.
process.env.SCALING_LAB_CACHE ??= join(tmpdir(), 'scaling-lab-test-cache');

/** Depth-1 byte-level runs, context 16, batch 8 in 2 micro-batches (noise probe on), eval every 5 steps. */
export const TINY_BASE = {
  depth: 1,
  context: 16,
  batch: 8,
  microBatch: 4,
  steps: 20,
  evalInterval: 5,
  evalWindows: 8,
  warmupSteps: 5,
  lr: 3e-3,
  tokenizer: 'byte',
};

export function tinySpec(name: string, extra: { base?: Record<string, unknown>; axes?: Record<string, unknown[]> } = {}): SweepSpec {
  return parseSweepSpec({ name, base: { ...TINY_BASE, ...extra.base }, axes: extra.axes ?? { seed: [0, 1] } });
}

export function exec(store: string, checkpointEvery = 3): ExecOptions {
  return { backend: 'auto', threads: 1, store, checkpointEvery };
}

/** Everything a run measures except wall time. */
export const measured = (rows: MetricRow[]) => rows.map(({ wallMs: _wallMs, ...rest }) => rest);

/** The config trained alone, uninterrupted, in its own file store (same backend and threads as the workers). */
export async function referenceRows(config: RunConfig): Promise<MetricRow[]> {
  const location = mkdtempSync(join(tmp, 'reference-'));
  const store = await openStore(location);
  try {
    const outcome = await trainRun(config, exec(location, 1000), store);
    assert.equal(outcome.status, 'done');
    return await store.readMetrics(runId(config));
  } finally {
    await store.close();
  }
}

/** Rows are steps 1..N, each once. */
export function assertComplete(rows: MetricRow[], steps: number, label: string): void {
  assert.deepEqual(
    rows.map((r) => r.step),
    Array.from({ length: steps }, (_, i) => i + 1),
    `${label}: steps not 1..${steps} exactly once`,
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---- a queue cluster: Redis, PostgreSQL, and worker processes

export interface WorkerProc {
  child: ChildProcess;
  /** everything it printed */
  output(): string;
  /** resolves with the exit code or signal */
  exited: Promise<number | string>;
}

export interface Cluster {
  redisUrl: string;
  pgUrl: string;
  /** the servers, for restarts and freezes */
  redis: RedisServer;
  pg: PostgresServer;
  store: Store;
  workers: WorkerProc[];
  startWorker(): WorkerProc;
  stop(): Promise<void>;
}

/** Stalled jobs are noticed within ~lockDuration + stalledInterval (3 s + 1 s) so the fault test is quick. */
export const WORKER_FLAGS = ['--workers', '1', '--threads', '1', '--lock-duration', '3000', '--stalled-interval', '1000'];

const crashHook = new URL('./crash-hook.mjs', import.meta.url).pathname;

/**
 * Redis, PostgreSQL and `workers` worker processes. With `crashes`, every trainer child of the workers runs
 * crash-hook.mjs: the counter file `crashes` (write a number into it) says how many more times a run crashes at step 3.
 */
export async function startCluster(workers: number, options: { crashes?: string; workerFlags?: string[] } = {}): Promise<Cluster | Skip> {
  const redis = await startRedis();
  if (isSkip(redis)) return redis;
  const pg = await startPostgres();
  if (isSkip(pg)) {
    await redis.stop();
    return pg;
  }
  const store = await openStore(pg.url);
  const procs: WorkerProc[] = [];
  const startWorker = (): WorkerProc => {
    const env = options.crashes
      ? { ...process.env, SCALING_LAB_TEST_CRASHES: options.crashes, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${crashHook}`.trim() }
      : process.env;
    const child = spawn(process.execPath, [bin, 'worker', '--queue', redis.url, '--store', pg.url, ...WORKER_FLAGS, ...(options.workerFlags ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    const w = { child, output: () => out, exited };
    procs.push(w);
    return w;
  };
  for (let i = 0; i < workers; i++) startWorker();
  return {
    redisUrl: redis.url,
    pgUrl: pg.url,
    redis,
    pg,
    store,
    workers: procs,
    startWorker,
    async stop() {
      for (const w of procs) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await Promise.race([Promise.all(procs.map((w) => w.exited)), sleep(15_000)]);
      for (const w of procs) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
      pg.thaw();
      await store.close();
      await redis.stop();
      await pg.stop();
    },
  };
}
