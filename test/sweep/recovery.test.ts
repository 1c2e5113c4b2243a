// Sweeps that go wrong and come back: a run that failed for good is re-queued with all its attempts and is not reported
// failed by the stale status; a job handed to a worker that is shutting down goes back to the queue untrained; an
// unexpected error in one local slot stops the other slots' runs before it is rethrown.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { openStore } from '../../src/store/store.ts';
import { runSweep, type SweepEvent } from '../../src/sweep/executor.ts';
import { createLocalExecutor } from '../../src/sweep/local.ts';
import { createQueueExecutor, DEFAULT_QUEUE_NAME, runQueueWorker } from '../../src/sweep/queue.ts';
import { expandSweep } from '../../src/sweep/spec.ts';
import { runId } from '../../src/train/config.ts';
import { isSkip } from '../helpers/services.ts';
import { skipOrFail } from '../helpers/require.ts';
import { assertComplete, exec, measured, referenceRows, sleep, startCluster, tinySpec, tmp, waitFor } from './fixtures.ts';

test('queue: a run that failed for good runs again when the sweep is re-run, with all its attempts, and is not reported failed meanwhile', async (t) => {
  // the run crashes 3 times at step 3: twice in the first sweep (1 retry: failed for good), once more in the second
  const crashes = join(mkdtempSync(join(tmp, 'crashes-')), 'left');
  writeFileSync(crashes, '3');
  const cluster = await startCluster(1, { crashes });
  if (isSkip(cluster)) return skipOrFail(t, cluster);
  try {
    const spec = tinySpec('queue-requeue', { axes: { seed: [9] } });
    const [config] = expandSweep(spec);
    const id = runId(config);
    const executor = createQueueExecutor({ url: cluster.redisUrl, pollMs: 100, backoffMs: 100 });
    const first = await runSweep(spec, { executor, exec: exec(cluster.pgUrl), retries: 1 });
    assert.equal(first.status, 'failed', JSON.stringify(first.runs));
    assert.equal((await cluster.store.getRun(id))?.state.status, 'failed');
    assert.equal(readFileSync(crashes, 'utf8'), '1');

    const events: SweepEvent[] = [];
    const second = await runSweep(spec, { executor, exec: exec(cluster.pgUrl), retries: 1, onEvent: (e) => events.push(e) });
    assert.deepEqual(
      events.filter((e) => e.kind === 'end').map((e) => (e as { status: string }).status),
      ['done'],
      'the re-run reported the run failed',
    );
    assert.equal(second.status, 'done', JSON.stringify(second.runs));
    assert.equal(readFileSync(crashes, 'utf8'), '0', 'the second sweep did not crash once');
    const out = cluster.workers[0].output();
    assert.match(out, new RegExp(`${id}: crashed on attempt 1: .*\\(the queue retries it\\)`), out);
    assert.equal(out.match(new RegExp(`${id}: crashed on attempt 1`, 'g'))?.length, 2, 'the re-queued job did not start again at attempt 1');
    assert.equal((await cluster.store.getRun(id))?.state.status, 'done');
    const rows = await cluster.store.readMetrics(id);
    assertComplete(rows, 20, id);
    assert.deepEqual(measured(rows), measured(await referenceRows(config)));
  } finally {
    await cluster.stop();
  }
});

test('queue worker: jobs handed over while it shuts down go back to waiting untrained (none runs to the end)', async (t) => {
  const cluster = await startCluster(0);
  if (isSkip(cluster)) return skipOrFail(t, cluster);
  const watching = new AbortController();
  try {
    const spec = tinySpec('queue-closing', { base: { steps: 200 }, axes: { seed: [10, 11, 12] } });
    const ids = expandSweep(spec).map(runId);
    const queued = new Set<string>();
    const sweep = runSweep(spec, {
      executor: createQueueExecutor({ url: cluster.redisUrl, pollMs: 100 }),
      exec: exec(cluster.pgUrl, 10),
      signal: watching.signal,
      onEvent: (e) => e.kind === 'notice' && e.id && queued.add(e.id),
    });
    sweep.catch(() => {});
    await waitFor('3 jobs queued', async () => (queued.size === 3 ? true : undefined), 30_000);

    // shut down as the first job starts: the other two were fetched at the same time (concurrency 3)
    const stop = new AbortController();
    const started: string[] = [];
    const ended: { id: string; status: string }[] = [];
    await runQueueWorker({
      url: cluster.redisUrl,
      concurrency: 3,
      exec: { backend: 'auto', threads: 1, store: cluster.pgUrl },
      signal: stop.signal,
      onEvent: (e) => {
        if (e.kind === 'start') {
          started.push(e.id);
          stop.abort();
        }
        if (e.kind === 'end') ended.push({ id: e.id, status: e.status });
      },
    });
    assert.ok(started.length >= 1);
    assert.deepEqual(
      ended.filter((e) => e.status !== 'interrupted'),
      [],
      `a run went on after shutdown began: ${JSON.stringify(ended)}`,
    );
    const connection = new Redis(cluster.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection });
    try {
      for (const id of ids) assert.equal(await (await queue.getJob(id))?.getState(), 'waiting', id);
    } finally {
      await queue.close();
      connection.disconnect();
    }
    for (const id of ids) assert.notEqual((await cluster.store.getRun(id))?.state.status, 'done', id);
  } finally {
    watching.abort();
    await cluster.stop();
  }
});

test('local executor: an unexpected error in one slot stops the runs in the others before it is rethrown', async () => {
  // a long run and a short one side by side; the caller's onEvent throws when the short one ends (the long one is long
  // enough that it cannot finish first however slow the machine: it is stopped long before its end)
  const spec = tinySpec('local-broken', { axes: { steps: [3000, 20] } });
  const [long, short] = expandSweep(spec).map(runId);
  const store = mkdtempSync(join(tmp, 'local-broken-'));
  await assert.rejects(
    runSweep(spec, {
      executor: createLocalExecutor({ workers: 2 }),
      exec: exec(store, 10),
      onEvent: (e) => {
        if (e.kind === 'end' && e.id === short) throw new Error('drawing failed');
      },
    }),
    /drawing failed/,
  );
  const s = await openStore(store);
  try {
    const run = await s.getRun(long);
    assert.notEqual(run?.state.status, 'running', 'the long run is still training with nobody waiting for it');
    assert.notEqual(run?.state.status, 'done');
    const n = (await s.readMetrics(long)).length;
    await sleep(500);
    assert.equal((await s.readMetrics(long)).length, n, 'rows still being written after the sweep returned');
  } finally {
    await s.close();
  }
});
