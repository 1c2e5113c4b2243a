// The dashboard on a real PostgreSQL store (test/helpers/services.ts starts one; skipped without it): runs and rows
// already there are served, a row appended by the store reaches /events within the poll (500 ms) and a second, and a
// status change (diverged, with its message) shows on the run.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/store.ts';
import { startDashboard } from '../../src/server/http.ts';
import { isSkip, startPostgres } from '../helpers/services.ts';
import { skipOrFail } from '../helpers/require.ts';
import { fakeRow, fakeRun, nextEvent, raw } from './helpers.ts';

const server = startPostgres();
after(async () => {
  const s = await server;
  if (!isSkip(s)) await s.stop();
});

test('serve on PostgreSQL: rows past the last step held are polled and pushed within a second', { timeout: 60_000 }, async (t) => {
  const s = await server;
  if (isSkip(s)) return skipOrFail(t, s);
  const url = `${s.url}?schema=serve_test`;
  const store = await openStore(url);
  t.after(() => store.close());
  await store.putRun(fakeRun('pg-a'));
  await store.setStatus('pg-a', 'running');
  await store.appendMetrics('pg-a', [fakeRow(1), fakeRow(2, 4.4)]);

  const d = await startDashboard({ location: url, port: 0, fits: false });
  t.after(() => d.close());
  const state = (await raw(d.port, '/api/state')).json() as { kind: string; runs: { id: string; step: number; testLoss?: number }[] };
  assert.equal(state.kind, 'postgres');
  assert.deepEqual(
    state.runs.map((r) => [r.id, r.step, r.testLoss]),
    [['pg-a', 2, 4.4]],
  );

  const sse = nextEvent(d.port, 'rows', (e) => e.id === 'pg-a' && e.rows.some((r: { step: number }) => r.step === 3));
  await sse.ready;
  const t0 = performance.now();
  await store.appendMetrics('pg-a', [fakeRow(3)]);
  await sse.event;
  const latency = performance.now() - t0;
  assert.ok(latency < 1000, `event after ${latency.toFixed(0)} ms`);

  const diverged = nextEvent(d.port, 'run', (e) => e.run.id === 'pg-b' && e.run.status === 'diverged');
  await diverged.ready;
  await store.putRun(fakeRun('pg-b'));
  await store.setStatus('pg-b', 'diverged', { step: 4, message: 'train loss NaN at step 4' });
  const e = (await diverged.event) as { run: { message: string } };
  assert.equal(e.run.message, 'train loss NaN at step 4');
  assert.deepEqual(
    ((await raw(d.port, '/api/runs/pg-a/rows?since=1')).json().rows as { step: number }[]).map((r) => r.step),
    [2, 3],
  );
});
