// One writer per run, as a contract both stores keep (defineStoreSuite calls this inside its describe): leases and
// epochs, stale writers refused ('fenced'), finished runs never rewound ('finished'), a live holder in another process
// refused ('held') and a dead one taken over. The adversarial case of issue 13 is the second test.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunState, Store } from '../../src/store/store.ts';
import { checkpointBytes, makeRow, makeRun, rejectsWith, rows } from './store-suite.ts';

type Open = (t: TestContext, location?: string) => Promise<{ store: Store; location: string } | undefined>;

const holderScript = fileURLToPath(new URL('./lease-holder.ts', import.meta.url));

/** Another process that takes the run's lease (takeOver) and holds it until stopped; resolves once it holds it. */
async function holdInAnotherProcess(location: string, id: string, holder: string, leaseMs = 60_000): Promise<{ child: ChildProcess; epoch: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', holderScript, location, id, holder, String(leaseMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  for await (const chunk of child.stdout!) {
    out += chunk;
    if (out.includes('\n')) break;
  }
  assert.ok(out.includes('\n'), `the holder process printed its lease (exit ${child.exitCode})`);
  return { child, epoch: (JSON.parse(out) as { epoch: number }).epoch };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function defineFencingTests(open: Open): void {
  it('fencing: each acquisition increments the epoch; a live holder is named and refused, a takeover is not', async (t) => {
    const { store } = (await open(t)) ?? {};
    if (!store) return;
    await store.putRun(makeRun('r1'));
    assert.equal(await store.getLease('r1'), undefined);
    const a = await store.acquireRun('r1', 'worker A');
    assert.equal(a.epoch, 1);
    assert.equal(a.holder, 'worker A');
    assert.equal(a.pid, process.pid);
    assert.deepEqual(await store.getLease('r1'), a);
    // the same holder in the same process may acquire again (a retried acquire): a new epoch, the old one fenced
    const a2 = await store.acquireRun('r1', 'worker A');
    assert.equal(a2.epoch, 2);
    const err = await rejectsWith(store.acquireRun('r1', 'train B'), 'held', /held by worker A .* since \d{4}-\d\d-\d\dT.*epoch 2/);
    assert.match(err.hint, /lapses 60 s after its last heartbeat/);
    const b = await store.acquireRun('r1', 'train B', { takeOver: true });
    assert.equal(b.epoch, 3);
    await rejectsWith(store.renewRun(a2), 'fenced', /taken over \(epoch 3\); this writer holds epoch 2/);
    const renewed = await store.renewRun(b);
    assert.ok(renewed.heartbeatAt >= b.heartbeatAt);
    // a stale release changes nothing; the holder's own release frees the run for anyone, at the next epoch
    await store.releaseRun(a2);
    assert.equal((await store.getLease('r1'))?.holder, 'train B');
    await store.releaseRun(b);
    assert.equal(await store.getLease('r1'), undefined);
    assert.equal((await store.acquireRun('r1', 'train C')).epoch, 4);
    await rejectsWith(store.acquireRun('nope', 'x'), 'not-found');
    await rejectsWith(store.acquireRun('r1', ''), 'bad-input');
  });

  it('fencing: a stale writer cannot rewind a finished run (status, checkpoint, truncation, rows), as in issue 13', async (t) => {
    const { store, location } = (await open(t)) ?? {};
    if (!store || !location) return;
    const { store: other } = (await open(t, location))!;
    await store.putRun(makeRun('r1'));
    // the first worker trains to step 200 and checkpoints, then stalls (SIGSTOP, lost job lock)
    const stale = await store.acquireRun('r1', 'worker A');
    await store.setStatus('r1', 'running', { step: 0 }, stale);
    await store.appendMetrics('r1', rows(1, 200), stale);
    await store.saveCheckpoint('r1', 200, checkpointBytes(200), stale);
    // another worker takes the run over, resumes from 200 and finishes it at 586
    const fresh = await other.acquireRun('r1', 'worker B', { takeOver: true });
    await other.truncateMetricsAfter('r1', 200, fresh);
    await other.setStatus('r1', 'running', { step: 200 }, fresh);
    await other.appendMetrics('r1', rows(201, 586), fresh);
    await other.saveCheckpoint('r1', 586, checkpointBytes(586), fresh);
    await other.setStatus('r1', 'done', { step: 586 }, fresh);
    await other.releaseRun(fresh);
    // the stale worker wakes up and carries on as if it still held the run: every write is refused
    await rejectsWith(store.setStatus('r1', 'running', { step: 200 }, stale), 'fenced');
    await rejectsWith(store.saveCheckpoint('r1', 200, checkpointBytes(200), stale), 'fenced');
    await rejectsWith(store.truncateMetricsAfter('r1', 100, stale), 'fenced');
    await rejectsWith(store.appendMetrics('r1', [makeRow(587)], stale), 'fenced');
    await rejectsWith(store.appendMetrics('r1', [], stale), 'fenced');
    // nor can anyone rewind a finished run: unfenced writes, the last holder's epoch, or a new lease
    await rejectsWith(store.setStatus('r1', 'running'), 'finished', /is done; a finished run is never rewound/);
    await rejectsWith(store.setStatus('r1', 'failed', { message: 'x' }), 'finished');
    await rejectsWith(store.truncateMetricsAfter('r1', 100), 'finished');
    await rejectsWith(store.saveCheckpoint('r1', 100, checkpointBytes(100)), 'finished');
    await rejectsWith(store.appendMetrics('r1', [makeRow(600)]), 'finished');
    await rejectsWith(other.setStatus('r1', 'running', {}, { epoch: fresh.epoch }), 'finished');
    await rejectsWith(store.acquireRun('r1', 'worker A', { takeOver: true }), 'finished');
    // the run is exactly as the second worker left it
    const run = (await store.getRun('r1'))!;
    assert.deepEqual([run.state.status, run.state.step], ['done', 586]);
    const ckpt = (await store.loadCheckpoint('r1'))!;
    assert.equal(ckpt.step, 586);
    assert.deepEqual(ckpt.bytes, checkpointBytes(586));
    assert.deepEqual(await store.readMetrics('r1'), rows(1, 586));
  });

  it("fencing: with writers interleaved, only the newest epoch's writes land", async (t) => {
    const { store, location } = (await open(t)) ?? {};
    if (!store || !location) return;
    const { store: other } = (await open(t, location))!;
    await store.putRun(makeRun('r1'));
    const writers = [store, other];
    const leases = [await store.acquireRun('r1', 'w0'), undefined] as Array<{ epoch: number } | undefined>;
    const landed: number[] = [];
    let step = 0;
    for (let round = 0; round < 6; round++) {
      const newest = round % 2;
      // the other writer takes the run over at the start of each round
      if (round > 0) leases[newest] = await writers[newest]!.acquireRun('r1', `w${newest}`, { takeOver: true });
      // both write at once, each its own steps: the stale one's are refused, the newest one's land
      const attempts = await Promise.allSettled(
        [0, 1].map(async (w) => {
          const fence = leases[w] ?? { epoch: 0 };
          const mine = [++step, ++step].map((s) => makeRow(s));
          await writers[w]!.appendMetrics('r1', mine, fence);
          await writers[w]!.saveCheckpoint('r1', mine[1]!.step, checkpointBytes(mine[1]!.step), fence);
          await writers[w]!.setStatus('r1', 'running', { step: mine[1]!.step, worker: `w${w}` }, fence);
          return mine.map((r) => r.step);
        }),
      );
      attempts.forEach((a, w) => {
        if (w === newest) {
          assert.equal(a.status, 'fulfilled', `round ${round}: the newest writer's writes land`);
          if (a.status === 'fulfilled') landed.push(...a.value);
        } else {
          assert.equal(a.status, 'rejected', `round ${round}: the stale writer is refused`);
          if (a.status === 'rejected') assert.equal((a.reason as { code?: string }).code, 'fenced');
        }
      });
      const state: RunState = (await store.getRun('r1'))!.state;
      assert.equal(state.worker, `w${newest}`);
      assert.equal((await store.loadCheckpoint('r1'))!.step, state.step);
    }
    assert.deepEqual(
      (await store.readMetrics('r1')).map((r) => r.step),
      landed.sort((a, b) => a - b),
    );
  });

  it('fencing: a live holder in another process refuses unfenced writes and acquisitions; once it dies, it is taken over', async (t) => {
    const { store, location } = (await open(t)) ?? {};
    if (!store || !location) return;
    await store.putRun(makeRun('r1'));
    const { child, epoch } = await holdInAnotherProcess(location, 'r1', 'worker far:1');
    try {
      await rejectsWith(store.acquireRun('r1', 'train me'), 'held', new RegExp(`held by worker far:1 \\(pid ${child.pid} on `));
      await rejectsWith(store.setStatus('r1', 'failed', { message: 'gave up' }), 'held');
      await rejectsWith(store.appendMetrics('r1', rows(1, 2)), 'held');
      assert.equal((await store.getRun('r1'))!.state.status, 'pending');
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit').catch(() => {});
    }
    // its pid is gone on this host: the lease is dead at once, whatever its length
    await store.setStatus('r1', 'failed', { message: 'its worker died' });
    const mine = await store.acquireRun('r1', 'train me');
    assert.equal(mine.epoch, epoch + 1);
  });

  it('fencing: a lease not renewed within its length lapses and can be taken over without force', async (t) => {
    const { store, location } = (await open(t)) ?? {};
    if (!store || !location) return;
    await store.putRun(makeRun('r1'));
    const { child } = await holdInAnotherProcess(location, 'r1', 'worker slow', 300);
    try {
      await rejectsWith(store.acquireRun('r1', 'train me'), 'held');
      await sleep(700);
      // still alive, but silent for longer than its lease
      const mine = await store.acquireRun('r1', 'train me');
      assert.equal(mine.holder, 'train me');
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit').catch(() => {});
    }
  });

  it("checkpointStep gives the checkpoint's step without its bytes", async (t) => {
    const { store } = (await open(t)) ?? {};
    if (!store) return;
    await store.putRun(makeRun('r1'));
    assert.equal(await store.checkpointStep('r1'), undefined);
    await store.saveCheckpoint('r1', 7, checkpointBytes(7));
    assert.equal(await store.checkpointStep('r1'), 7);
    await store.saveCheckpoint('r1', 12, checkpointBytes(12, 1000));
    assert.equal(await store.checkpointStep('r1'), 12);
    await rejectsWith(store.checkpointStep('nope'), 'not-found');
  });

  it('fencing: a finished run is reopened only by an acquisition that says why', async (t) => {
    const { store } = (await open(t)) ?? {};
    if (!store) return;
    await store.putRun(makeRun('r1'));
    const a = await store.acquireRun('r1', 'w');
    await store.appendMetrics('r1', rows(1, 3), a);
    await store.setStatus('r1', 'done', { step: 96 }, a);
    await rejectsWith(store.acquireRun('r1', 'w'), 'finished');
    const b = await store.acquireRun('r1', 'w', { reopen: 'the checkpoint is at step 96 of 586' });
    assert.equal(b.epoch, a.epoch + 1);
    const state = (await store.getRun('r1'))!.state;
    assert.deepEqual([state.status, state.message], ['pending', 'the checkpoint is at step 96 of 586']);
    await rejectsWith(store.appendMetrics('r1', rows(4, 5), a), 'fenced');
    await store.truncateMetricsAfter('r1', 2, b);
    assert.deepEqual(await store.readMetrics('r1'), rows(1, 2));
  });
}
