// Workers dying mid-run: a local trainer process SIGKILLed is reported and its run retried from the checkpoint; a queue
// worker SIGKILLed leaves a stalled job that the other worker takes over. Either way: metrics complete, no duplicate
// step, and losses equal to the same config trained alone, uninterrupted.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/store.ts';
import { runSweep, type SweepEvent } from '../../src/sweep/executor.ts';
import { createLocalExecutor } from '../../src/sweep/local.ts';
import { createQueueExecutor } from '../../src/sweep/queue.ts';
import { expandSweep } from '../../src/sweep/spec.ts';
import { runId } from '../../src/train/config.ts';
import { isSkip } from '../helpers/services.ts';
import { skipOrFail } from '../helpers/require.ts';
import { assertComplete, exec, measured, referenceRows, startCluster, tinySpec, tmp, waitFor } from './fixtures.ts';

const STEPS = 300;

test('local executor: a trainer process killed mid-run is reported, retried, resumes from its checkpoint and completes', async () => {
  const spec = tinySpec('local-crash', { base: { steps: STEPS, evalInterval: 50 }, axes: { seed: [3] } });
  const [config] = expandSweep(spec);
  const id = runId(config);
  const store = mkdtempSync(join(tmp, 'local-crash-'));
  const events: SweepEvent[] = [];
  let killedAt = 0;
  const result = await runSweep(spec, {
    executor: createLocalExecutor({ workers: 1 }),
    exec: exec(store, 10),
    retries: 2,
    onEvent: (e) => {
      events.push(e);
      if (e.kind === 'step' && killedAt === 0 && e.step >= 60) {
        const start = events.findLast((x) => x.kind === 'start') as Extract<SweepEvent, { kind: 'start' }>;
        killedAt = e.step;
        process.kill(Number(start.worker.split(':').at(-1)), 'SIGKILL');
      }
    },
  });
  assert.ok(killedAt > 0, 'never killed: the run ended before step 60');
  const crash = events.find((e) => e.kind === 'crash') as Extract<SweepEvent, { kind: 'crash' }> | undefined;
  assert.ok(crash, 'no crash event');
  assert.equal(crash.retry, true);
  assert.match(crash.message, /killed by SIGKILL/);
  const starts = events.filter((e) => e.kind === 'start') as Extract<SweepEvent, { kind: 'start' }>[];
  assert.deepEqual(
    starts.map((s) => s.attempt),
    [1, 2],
  );
  assert.notEqual(starts[0].worker, starts[1].worker, 'the retry should run in a fresh process');
  const resumed = events.find((e) => e.kind === 'notice' && /resuming .* from its checkpoint at step (\d+)/.test(e.message)) as { message: string } | undefined;
  assert.ok(resumed, 'the retry did not resume from a checkpoint');
  const from = Number(/at step (\d+)/.exec(resumed.message)![1]);
  assert.ok(from >= 10 && from <= killedAt, `resumed from step ${from}, killed at ${killedAt}`);
  assert.equal(result.status, 'done');
  assert.equal(result.runs[0].attempts, 2);

  const s = await openStore(store);
  try {
    const rows = await s.readMetrics(id);
    assertComplete(rows, STEPS, id);
    assert.deepEqual(measured(rows), measured(await referenceRows(config)));
    assert.equal((await s.getRun(id))?.state.status, 'done');
  } finally {
    await s.close();
  }
});

test('queue executor: SIGKILL one of two workers mid-run; the other resumes the run from its checkpoint and the sweep completes', async (t) => {
  const cluster = await startCluster(2);
  if (isSkip(cluster)) return skipOrFail(t, cluster);
  try {
    const spec = tinySpec('queue-fault', { base: { steps: STEPS, evalInterval: 50 }, axes: { seed: [4, 5] } });
    const configs = expandSweep(spec);
    const done = runSweep(spec, {
      executor: createQueueExecutor({ url: cluster.redisUrl, pollMs: 200, backoffMs: 200 }),
      exec: exec(cluster.pgUrl, 10),
      retries: 2,
    });
    let failedEarly: unknown;
    done.catch((err) => (failedEarly = err));

    // kill the worker that holds a run once that run has logged 60..240 rows
    const victim = await waitFor(
      'a run in the middle',
      async () => {
        if (failedEarly) throw failedEarly;
        for (const c of configs) {
          const run = await cluster.store.getRun(runId(c));
          if (run?.state.status !== 'running' || !run.state.worker) continue;
          const n = (await cluster.store.readMetrics(runId(c))).length;
          if (n >= 60 && n < STEPS - 60) return { id: runId(c), worker: run.state.worker, rows: n };
        }
        return undefined;
      },
      90_000,
      20,
    );
    const pid = Number(victim.worker.split(':').at(-1));
    const killed = cluster.workers.find((w) => w.child.pid === pid);
    assert.ok(killed, `worker ${victim.worker} is not one of ours (${cluster.workers.map((w) => w.child.pid).join(', ')})`);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const survivor = cluster.workers.find((w) => w !== killed)!;

    const result = await done;
    assert.equal(result.status, 'done', JSON.stringify(result.runs));
    assert.deepEqual(
      result.runs.map((r) => r.status),
      ['done', 'done'],
    );
    // the survivor took the killed run over and resumed it from a checkpoint (not from step 0)
    const m = new RegExp(`resuming ${victim.id} from its checkpoint at step (\\d+)`).exec(survivor.output());
    assert.ok(m, `the survivor did not resume ${victim.id}:\n${survivor.output()}`);
    assert.ok(Number(m[1]) >= 10, `resumed from step ${m[1]}`);
    assert.equal((await cluster.store.getRun(victim.id))?.state.status, 'done');
    for (const c of configs) {
      const rows = await cluster.store.readMetrics(runId(c));
      assertComplete(rows, STEPS, runId(c));
      assert.deepEqual(
        measured(rows),
        measured(await referenceRows(c)),
        `${runId(c)} differs from the run trained alone (killed run: ${victim.id} at ${victim.rows} rows)`,
      );
    }
  } finally {
    await cluster.stop();
  }
});

test('local executor: abort (Ctrl-C) checkpoints the running runs; the same sweep again resumes them to identical metrics', async () => {
  const spec = tinySpec('local-abort', { base: { steps: STEPS, evalInterval: 50 }, axes: { seed: [6] } });
  const [config] = expandSweep(spec);
  const store = mkdtempSync(join(tmp, 'local-abort-'));
  const controller = new AbortController();
  const first = await runSweep(spec, {
    executor: createLocalExecutor({ workers: 1 }),
    exec: exec(store, 10),
    signal: controller.signal,
    onEvent: (e) => e.kind === 'step' && e.step >= 40 && controller.abort(),
  });
  assert.equal(first.status, 'interrupted');
  assert.equal(first.runs[0].status, 'interrupted');
  assert.ok(first.runs[0].step >= 40 && first.runs[0].step < STEPS, `stopped at ${first.runs[0].step}`);
  const events: SweepEvent[] = [];
  const second = await runSweep(spec, { executor: createLocalExecutor({ workers: 1 }), exec: exec(store, 10), onEvent: (e) => events.push(e) });
  assert.equal(second.status, 'done');
  assert.ok(
    events.some((e) => e.kind === 'notice' && e.message.includes(`from its checkpoint at step ${first.runs[0].step}`)),
    'did not resume where it stopped',
  );
  const s = await openStore(store);
  try {
    assert.deepEqual(measured(await s.readMetrics(runId(config))), measured(await referenceRows(config)));
  } finally {
    await s.close();
  }
});

test('queue worker: SIGTERM mid-run checkpoints, hands the job back and exits; another worker finishes the run', async (t) => {
  const cluster = await startCluster(1);
  if (isSkip(cluster)) return skipOrFail(t, cluster);
  try {
    const spec = tinySpec('queue-term', { base: { steps: STEPS, evalInterval: 50 }, axes: { seed: [8] } });
    const [config] = expandSweep(spec);
    const id = runId(config);
    const done = runSweep(spec, { executor: createQueueExecutor({ url: cluster.redisUrl, pollMs: 200 }), exec: exec(cluster.pgUrl, 10) });
    done.catch(() => {}); // awaited below; this keeps a failure before that from being an unhandled rejection
    await waitFor('rows', async () => ((await cluster.store.getRun(id)) && (await cluster.store.readMetrics(id)).length >= 40 ? true : undefined), 90_000, 20);
    const [first] = cluster.workers;
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.output());
    assert.match(first.output(), new RegExp(`${id}: interrupted at step \\d+/${STEPS} \\(checkpointed; job back in the queue\\)`));
    const run = await cluster.store.getRun(id);
    assert.equal(run?.state.status, 'pending');
    const second = cluster.startWorker();
    const result = await done;
    assert.equal(result.status, 'done');
    assert.match(second.output(), new RegExp(`resuming ${id} from its checkpoint at step ${run?.state.step}`));
    assert.match(second.output(), new RegExp(`${id}: start \\(attempt 1,`), 'a clean hand-back must not spend an attempt');
    assert.deepEqual(measured(await cluster.store.readMetrics(id)), measured(await referenceRows(config)));
  } finally {
    await cluster.stop();
  }
});
