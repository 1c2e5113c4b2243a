// Outages are waited out, not fatal; nothing hangs. On real PostgreSQL and Redis (loopback, services.ts): a PostgreSQL
// restart and a Redis restart mid-sweep end with every run done, without spending an attempt, and bit-identical to the
// runs trained alone; a frozen PostgreSQL (SIGSTOP) makes store calls time out instead of hanging, and a worker whose
// store is stuck stops renewing its job lock; a run whose worker is SIGKILLed three times finishes with --retries 3.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { NewRun } from '../../src/store/store.ts';
import { StoreError, openStore } from '../../src/store/store.ts';
import type { Outage } from '../../src/store/errors.ts';
import { runSweep, type SweepEvent } from '../../src/sweep/executor.ts';
import { createQueueExecutor } from '../../src/sweep/queue.ts';
import { expandSweep, parseSweepSpec } from '../../src/sweep/spec.ts';
import { runId, totalSteps, type RunConfig } from '../../src/train/config.ts';
import { isSkip, startPostgres } from '../helpers/services.ts';
import { skipOrFail } from '../helpers/require.ts';
import { TINY_BASE, assertComplete, bin, exec, measured, referenceRows, sleep, startCluster, tinySpec, tmp, waitFor, type Cluster } from './fixtures.ts';

const STEPS = 400;
/** long enough that a 10 s outage is not mistaken for a stuck store (the lock-renewal cut-off): these tests are about waiting */
const PATIENT = ['--lock-duration', '20000'];

const notices = (events: SweepEvent[]) => events.flatMap((e) => (e.kind === 'notice' ? [e.message] : []));

/** The first run of `configs` that is running with at least `rows` rows, and the number of rows. */
async function runningWith(cluster: Cluster, configs: RunConfig[], rows: number, failed: () => unknown) {
  return waitFor(
    `a run with ${rows} rows`,
    async () => {
      if (failed()) throw failed();
      for (const c of configs) {
        const run = await cluster.store.getRun(runId(c));
        if (run?.state.status !== 'running' || !run.state.worker) continue;
        const n = (await cluster.store.readMetrics(runId(c))).length;
        if (n >= rows && n < totalSteps(c) - 100) return { id: runId(c), worker: run.state.worker, rows: n };
      }
      return undefined;
    },
    120_000,
    20,
  );
}

/** Rows written by every run together (read through a store that waits out the outage the test caused). */
async function rowsNow(cluster: Cluster, configs: RunConfig[]): Promise<number> {
  let n = 0;
  for (const c of configs) n += (await cluster.store.readMetrics(runId(c)).catch(() => [])).length;
  return n;
}

async function assertAllIdentical(cluster: Cluster, configs: RunConfig[]) {
  for (const c of configs) {
    const rows = await cluster.store.readMetrics(runId(c));
    assertComplete(rows, STEPS, runId(c));
    assert.deepEqual(measured(rows), measured(await referenceRows(c)), `${runId(c)} differs from the run trained alone`);
    assert.equal((await cluster.store.getRun(runId(c)))?.state.status, 'done');
  }
}

test('queue: PostgreSQL restarted mid-sweep (10 s down) is waited out: every run done on its first attempt, identical to a local run', async (t) => {
  const cluster = await startCluster(2, { workerFlags: PATIENT });
  if (isSkip(cluster)) return skipOrFail(t, cluster);
  try {
    const spec = tinySpec('pg-restart', { base: { steps: STEPS, evalInterval: 50 }, axes: { seed: [21, 22, 23] } });
    const configs = expandSweep(spec);
    const events: SweepEvent[] = [];
    let failed: unknown;
    const done = runSweep(spec, {
      executor: createQueueExecutor({ url: cluster.redisUrl, pollMs: 200, backoffMs: 200 }),
      exec: exec(cluster.pgUrl, 10),
      retries: 1,
      store: { outageWindowMs: 120_000 },
      onEvent: (e) => events.push(e),
    });
    done.catch((err) => (failed = err));
    await runningWith(cluster, configs, 60, () => failed);
    const before = await rowsNow(cluster, configs);
    const { downMs } = await cluster.pg.restart(10_000);
    const up = Date.now();
    // recovery: from PostgreSQL accepting connections again to the next metric row written
    await waitFor('a new row after the restart', async () => ((await rowsNow(cluster, configs)) > before ? true : undefined), 60_000, 50);
    const recoveryMs = Date.now() - up;
    const result = await done;
    console.log(`# PostgreSQL down ${(downMs / 1000).toFixed(1)} s; first row after it ${(recoveryMs / 1000).toFixed(1)} s later; sweep ${result.status}`);
    assert.equal(result.status, 'done', JSON.stringify(result.runs));
    assert.deepEqual(
      result.runs.map((r) => r.attempts),
      [1, 1, 1],
      'an outage must not spend an attempt',
    );
    for (const w of cluster.workers) assert.doesNotMatch(w.output(), /crashed on attempt/, w.output());
    // the watcher waited it out and said so in one line
    const lines = notices(events).filter((m) => /^store .*: unreachable from/.test(m));
    assert.equal(lines.length, 1, notices(events).join('\n'));
    assert.match(lines[0]!, /carried on$/);
    assert.ok(recoveryMs < 15_000, `took ${recoveryMs} ms to write again`);
    await assertAllIdentical(cluster, configs);
  } finally {
    await cluster.stop();
  }
});

test('sweep --queue (the CLI): Redis restarted mid-sweep is waited out by the workers and the watcher (one line, no stack); every run done and identical', async (t) => {
  const cluster = await startCluster(2, { workerFlags: PATIENT });
  if (isSkip(cluster)) return skipOrFail(t, cluster);
  try {
    const raw = { name: 'redis-restart', base: { ...TINY_BASE, steps: STEPS, evalInterval: 50 }, axes: { seed: [24, 25, 26] } };
    const file = join(tmp, 'redis-restart.json');
    writeFileSync(file, JSON.stringify(raw));
    const configs = expandSweep(parseSweepSpec(raw));
    const watcher = spawn(
      process.execPath,
      [
        bin,
        'sweep',
        file,
        '--queue',
        cluster.redisUrl,
        '--store',
        cluster.pgUrl,
        '--checkpoint-every',
        '10',
        '--retries',
        '1',
        '--probe-steps',
        '0',
        '--outage-window',
        '2',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    watcher.stdout!.on('data', (d) => (out += d));
    watcher.stderr!.on('data', (d) => (out += d));
    let code: number | string | undefined;
    const exited = new Promise<number | string>((resolve) => watcher.on('exit', (c, sig) => resolve((code = c ?? sig ?? -1))));
    await runningWith(cluster, configs, 60, () => (code !== undefined ? new Error(`the watcher exited early (${code}):\n${out}`) : undefined));
    const { downMs } = await cluster.redis.restart(4000);
    assert.equal(await exited, 0, out);
    console.log(`# Redis down ${(downMs / 1000).toFixed(1)} s; the watcher said: ${out.match(/^queue redis:.*$/m)?.[0]}`);
    assert.match(out, /sweep redis-restart: done: 3 done, 0 diverged, 0 failed, 0 unfinished/);
    assert.equal(out.match(/^queue redis:\/\/\S+: unreachable from \S+ to \S+ \([\d.]+ s: .*\); carried on$/gm)?.length, 1, out);
    assert.doesNotMatch(out, /MaxRetriesPerRequest|Unhandled error event|\n\s+at /, 'a raw error or stack');
    for (const w of cluster.workers) {
      assert.doesNotMatch(w.output(), /crashed on attempt|MaxRetriesPerRequestError|start \(attempt [2-9]/, w.output());
    }
    await assertAllIdentical(cluster, configs);
  } finally {
    await cluster.stop();
  }
});

function makeRun(id: string): NewRun {
  return { id, name: id, spec: { id }, paramsKaplan: 1, paramsTotal: 2, batchSize: 1, context: 1, batchTokens: 1 };
}

test('postgres store: a frozen server (SIGSTOP) makes calls time out instead of hanging; with an outage window they go through after SIGCONT', async (t) => {
  const server = await startPostgres();
  if (isSkip(server)) return skipOrFail(t, server);
  const outages: Outage[] = [];
  const fast = await openStore(server.url, { statementTimeoutMs: 1000, connectTimeoutMs: 1000 });
  const patient = await openStore(server.url, { statementTimeoutMs: 1000, connectTimeoutMs: 1000, outageWindowMs: 60_000, onOutage: (o) => outages.push(o) });
  try {
    await fast.putRun(makeRun('frozen-1'));
    await patient.getRun('frozen-1'); // a pooled connection to the backend that will be frozen
    await server.freeze();
    // no window: the write fails within the query timeout (2 s), as 'unreachable'
    let t0 = Date.now();
    const err = await fast.setStatus('frozen-1', 'running', { step: 1 }).catch((e: unknown) => e);
    const failedAfter = Date.now() - t0;
    assert.ok(err instanceof StoreError && err.code === 'unreachable', String(err));
    assert.ok(failedAfter < 6000, `took ${failedAfter} ms to fail`);
    // a new connection to the frozen server fails too (connectTimeoutMs), rather than waiting
    t0 = Date.now();
    await assert.rejects(fast.listRuns(), (e: unknown) => e instanceof StoreError && e.code === 'unreachable');
    assert.ok(Date.now() - t0 < 6000);
    // with a window: the write waits, and goes through once the server runs again
    t0 = Date.now();
    const write = patient.setStatus('frozen-1', 'running', { step: 2 });
    await sleep(4000);
    server.thaw();
    await write;
    const tookMs = Date.now() - t0;
    console.log(
      `# frozen PostgreSQL: a write failed after ${failedAfter} ms without a window; with one it went through ${tookMs} ms after it began (frozen 4 s)`,
    );
    assert.ok(tookMs >= 4000 && tookMs < 20_000, `${tookMs} ms`);
    assert.equal((await patient.getRun('frozen-1'))?.state.step, 2);
    assert.equal(outages.length, 1, JSON.stringify(outages));
    assert.equal(outages[0]!.recovered, true);
  } finally {
    server.thaw();
    await fast.close();
    await patient.close();
    await server.stop();
  }
});

test('postgres store: PostgreSQL killed in the middle of a checkpoint transaction: no crash (the client error is handled); the save is re-run and lands whole', async (t) => {
  const server = await startPostgres();
  if (isSkip(server)) return skipOrFail(t, server);
  const outages: Outage[] = [];
  // 1 KiB chunks: a 6 MiB checkpoint is ~6,000 inserts in one transaction, long enough to be killed in the middle
  const store = await openStore(server.url, { checkpointChunkBytes: 1024, outageWindowMs: 60_000, onOutage: (o) => outages.push(o) });
  try {
    await store.putRun(makeRun('killed-mid-save'));
    const bytes = new Uint8Array(6 * 1024 * 1024).map((_, i) => (i * 7919) % 251);
    const saving = store.saveCheckpoint('killed-mid-save', 40, bytes);
    await sleep(300);
    await server.restart(2000, 'immediate');
    await saving;
    const back = await store.loadCheckpoint('killed-mid-save');
    assert.equal(back?.step, 40);
    assert.ok(back && Buffer.from(back.bytes).equals(Buffer.from(bytes)), 'the checkpoint read back differs');
    assert.equal(outages.length, 1, JSON.stringify(outages));
  } finally {
    await store.close();
    await server.stop();
  }
});

test('queue worker: with PostgreSQL frozen past the lock duration it stops renewing the job lock; after SIGCONT the run still ends done and identical', async (t) => {
  const cluster = await startCluster(1);
  if (isSkip(cluster)) return skipOrFail(t, cluster);
  try {
    const spec = tinySpec('pg-frozen', { base: { steps: STEPS, evalInterval: 50 }, axes: { seed: [27] } });
    const configs = expandSweep(spec);
    let failed: unknown;
    const done = runSweep(spec, {
      executor: createQueueExecutor({ url: cluster.redisUrl, pollMs: 200, backoffMs: 200 }),
      exec: exec(cluster.pgUrl, 10),
      retries: 2,
      store: { outageWindowMs: 120_000 },
    });
    done.catch((err) => (failed = err));
    await runningWith(cluster, configs, 60, () => failed);
    await cluster.pg.freeze();
    const [worker] = cluster.workers;
    await waitFor('the worker to stop renewing the lock', async () => (/not renewing the job lock/.test(worker!.output()) ? true : undefined), 30_000, 100);
    await sleep(3000); // past the lock: the job is taken back into the queue
    cluster.pg.thaw();
    const result = await done;
    assert.equal(result.status, 'done', `${JSON.stringify(result.runs)}\n${worker!.output()}`);
    await assertAllIdentical(cluster, configs);
  } finally {
    await cluster.stop();
  }
});

test("queue: the same run's worker SIGKILLed three times, with --retries 3: the run ends done (deaths count against --retries), identical", async (t) => {
  const cluster = await startCluster(2);
  if (isSkip(cluster)) return skipOrFail(t, cluster);
  try {
    const spec = tinySpec('three-kills', { base: { steps: STEPS, evalInterval: 50 }, axes: { seed: [28] } });
    const configs = expandSweep(spec);
    const id = runId(configs[0]!);
    let failed: unknown;
    const done = runSweep(spec, {
      executor: createQueueExecutor({ url: cluster.redisUrl, pollMs: 200, backoffMs: 200 }),
      exec: exec(cluster.pgUrl, 10),
      retries: 3,
    });
    done.catch((err) => (failed = err));
    let rows = 0;
    for (let kill = 1; kill <= 3; kill++) {
      // the run is held by a live worker and has made progress since the last kill
      const victim = await waitFor(
        `kill ${kill}`,
        async () => {
          if (failed) throw failed;
          const run = await cluster.store.getRun(id);
          if (run?.state.status !== 'running' || !run.state.worker || (run.state.attempt ?? 1) < kill) return undefined;
          const n = (await cluster.store.readMetrics(id)).length;
          const w = cluster.workers.find(
            (x) => x.child.pid === Number(run.state.worker!.split(':').at(-1)) && x.child.exitCode === null && x.child.signalCode === null,
          );
          return w && n >= rows + 20 && n < STEPS - 60 ? { w, n } : undefined;
        },
        120_000,
        20,
      );
      rows = victim.n;
      victim.w.child.kill('SIGKILL');
      await victim.w.exited;
      cluster.startWorker();
    }
    const result = await done;
    assert.equal(result.status, 'done', `${JSON.stringify(result.runs)}\n${cluster.workers.map((w) => w.output()).join('\n')}`);
    assert.equal(result.runs[0]!.attempts, 4);
    await assertAllIdentical(cluster, configs);
  } finally {
    await cluster.stop();
  }
});
