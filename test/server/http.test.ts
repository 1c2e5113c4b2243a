// The dashboard server over HTTP on a real file store: what it refuses (a public bind without a token, a request
// without the token, paths outside the store, malformed queries, writes) and that it keeps serving while a metrics
// file is appended in pieces or damaged at its last line; a new row reaches /events within a second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import { encodeMetricLine } from '../../src/store/rows.ts';
import { startDashboard } from '../../src/server/http.ts';
import { ServeError } from '../../src/server/errors.ts';
import { fakeRow, fakeRun, nextEvent, raw } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function tempStore(t: { after: (fn: () => void) => void }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'serve-http-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openStore(dir);
  await store.putRun(fakeRun('run-a'));
  await store.setStatus('run-a', 'running');
  await store.appendMetrics('run-a', [fakeRow(1), fakeRow(2, 4.5)]);
  await store.close();
  return dir;
}

test('a non-loopback bind without a token is refused at start-up, with a hint', async (t) => {
  const dir = await tempStore(t);
  await assert.rejects(startDashboard({ location: dir, host: '0.0.0.0', port: 0 }), (err: unknown) => {
    assert.ok(err instanceof ServeError);
    assert.match(err.message, /refusing to serve on 0\.0\.0\.0 without a token/);
    assert.match(err.hint, /--token/);
    return true;
  });
  await assert.rejects(startDashboard({ location: join(dir, 'absent'), port: 0 }), /no file store at/);
  await assert.rejects(startDashboard({ location: dir, port: 0, token: 'short' }), /8-256 printable/);
});

test('with a token, every request must carry it (?token= or Bearer); 401 with a message otherwise', async (t) => {
  const dir = await tempStore(t);
  const token = 'sekrit-token-123';
  const d = await startDashboard({ location: dir, port: 0, token, fitGapMs: 60_000, bootstrap: 10 });
  t.after(() => d.close());
  assert.match(d.url, /\?token=sekrit-token-123$/);
  for (const path of ['/', '/api/runs', '/events', '/assets/app.js']) {
    const r = await raw(d.port, path);
    assert.equal(r.status, 401, path);
    assert.match(r.json().error!, /needs its token/);
    assert.match(r.json().hint!, /Authorization: Bearer/);
  }
  assert.equal((await raw(d.port, '/api/runs?token=wrong-token-0000')).status, 401);
  assert.equal((await raw(d.port, `/api/runs?token=${token}`)).status, 200);
  assert.equal((await raw(d.port, '/api/runs', { headers: { Authorization: `Bearer ${token}` } })).status, 200);
  // the page's own asset links carry the token, as a browser sends no header for them
  const page = await raw(d.port, `/?token=${token}`);
  assert.equal(page.status, 200);
  assert.match(page.body, /src="assets\/app\.js\?token=sekrit-token-123"/);
});

test('paths outside the store, malformed queries and writes are refused with a status and a message', async (t) => {
  const dir = await tempStore(t);
  const d = await startDashboard({ location: dir, port: 0, fitGapMs: 60_000, bootstrap: 10 });
  t.after(() => d.close());
  const cases: [string, number, RegExp, string?][] = [
    ['/api/runs/..%2F..%2Fetc%2Fpasswd/rows', 400, /bad run id "\.\.\/\.\.\/etc\/passwd"/],
    ['/api/runs/%2e%2e%2fspec.json', 400, /bad run id/],
    ['/api/runs/.sweeps/rows', 400, /bad run id/],
    ['/../../etc/passwd', 404, /nothing at \/etc\/passwd/],
    ['/api/runs/run-a/../../../../etc/passwd', 404, /nothing at/],
    ['/assets/../../package.json', 404, /nothing at/],
    ['/api/runs/no-such-run', 404, /no run 'no-such-run'/],
    ['/api/runs/run-a/rows?since=abc', 400, /bad since "abc": expected a non-negative integer/],
    ['/api/runs/run-a/rows?since=-1', 400, /bad since/],
    ['/api/runs/run-a/rows?limit=0', 400, /bad limit 0/],
    ['/api/runs?bogus=1', 400, /unknown query parameter "bogus"/],
    ['/api/runs/%E0%A4%A', 400, /bad percent-encoding/],
    ['/api/nothing', 404, /no API endpoint/],
    ['/api/runs', 405, /POST is not served: the dashboard is read-only/, 'POST'],
    ['/api/runs/run-a', 405, /DELETE is not served/, 'DELETE'],
  ];
  for (const [path, status, message, method] of cases) {
    const r = await raw(d.port, path, { method });
    assert.equal(r.status, status, `${method ?? 'GET'} ${path}: ${r.body}`);
    assert.match(r.json().error!, message, path);
    assert.ok(r.json().hint, `${path} has a hint`);
    if (status === 405) assert.equal(r.headers.allow, 'GET, HEAD');
  }
  // DNS rebinding: a loopback server answers only to loopback Host names
  const rebound = await raw(d.port, '/api/runs', { headers: { Host: 'evil.example:80' } });
  assert.equal(rebound.status, 403);
  // and the good requests still work
  const rows = await raw(d.port, '/api/runs/run-a/rows?since=1');
  assert.equal(rows.status, 200);
  assert.deepEqual(
    (rows.json().rows as { step: number }[]).map((r) => r.step),
    [2],
  );
});

test('keeps serving while metrics.jsonl is appended in pieces or damaged at its last line; a row reaches /events within 1 s', async (t) => {
  const dir = await tempStore(t);
  const d = await startDashboard({ location: dir, port: 0, fitGapMs: 60_000, bootstrap: 10 });
  t.after(() => d.close());
  const file = join(dir, 'run-a', 'metrics.jsonl');
  const steps = async () => ((await raw(d.port, '/api/runs/run-a/rows')).json().rows as { step: number }[]).map((r) => r.step);
  assert.deepEqual(await steps(), [1, 2]);

  // a row arrives as an event within a second of its append
  const sse = nextEvent(d.port, 'rows', (e) => e.id === 'run-a' && e.rows.some((r: { step: number }) => r.step === 3));
  await sse.ready;
  const t0 = performance.now();
  appendFileSync(file, encodeMetricLine(fakeRow(3)));
  await sse.event;
  const latency = performance.now() - t0;
  assert.ok(latency < 1000, `event after ${latency.toFixed(0)} ms`);

  // a torn line is held until its newline arrives
  const line = encodeMetricLine(fakeRow(4, 4.1));
  appendFileSync(file, line.slice(0, 20));
  await sleep(700);
  assert.deepEqual(await steps(), [1, 2, 3]);
  assert.equal((await raw(d.port, '/api/runs/run-a')).status, 200);
  appendFileSync(file, line.slice(20));
  await until('step 4', async () => ((await steps()).includes(4) ? true : undefined));

  // a damaged last line is reported on the run, not fatal; good rows after it still arrive
  appendFileSync(file, '{"step": 5, "tokens": "garbage"\n');
  const problem = await until('the problem', async () => ((await raw(d.port, '/api/runs/run-a')).json().problem as string | undefined) ?? undefined);
  assert.match(problem, /metrics\.jsonl line 5 is not a metric row/);
  assert.equal((await raw(d.port, '/api/state')).status, 200);
  appendFileSync(file, encodeMetricLine(fakeRow(6)));
  await until('step 6', async () => ((await steps()).includes(6) ? true : undefined));

  // a new run appears, and a diverged status shows with its message
  const store = await openStore(dir);
  t.after(() => store.close());
  await store.putRun(fakeRun('run-b'));
  await store.setStatus('run-b', 'diverged', { step: 3, message: 'loss NaN at step 3' });
  const b = await until('run-b', async () => {
    const r = await raw(d.port, '/api/runs/run-b');
    return r.status === 200 && r.json().status === 'diverged' ? r.json() : undefined;
  });
  assert.equal(b.message, 'loss NaN at step 3');
  // a resume truncates the rows: the feed reads the file again
  await store.putRun(fakeRun('run-c'));
  await store.appendMetrics(
    'run-c',
    [1, 2, 3, 4].map((s) => fakeRow(s)),
  );
  const stepsC = async () => ((await raw(d.port, '/api/runs/run-c/rows')).json().rows as { step: number }[] | undefined)?.map((r) => r.step).join();
  await until('run-c rows', async () => ((await stepsC()) === '1,2,3,4' ? true : undefined));
  await store.truncateMetricsAfter('run-c', 2);
  await until('truncated rows', async () => ((await stepsC()) === '1,2' ? true : undefined));
});

test('a file truncated and appended to between two reads is read again whole (poll alone, no fs.watch)', async (t) => {
  const dir = await tempStore(t);
  const d = await startDashboard({ location: dir, port: 0, fits: false, watch: false, pollMs: 300 });
  t.after(() => d.close());
  const file = join(dir, 'run-a', 'metrics.jsonl');
  appendFileSync(file, [3, 4].map((s) => encodeMetricLine(fakeRow(s))).join(''));
  const rowsNow = async () => (await raw(d.port, '/api/runs/run-a/rows')).json().rows as { step: number; trainLoss: number }[];
  await until('steps 1-4', async () => ((await rowsNow()).length === 4 ? true : undefined));
  // a resume: rows past step 2 dropped and recomputed (here with other values), and one more, all before the next poll
  const kept = readFileSync(file, 'utf8').split('\n').slice(0, 2).join('\n') + '\n';
  writeFileSync(file, kept + [3, 4, 5].map((s) => encodeMetricLine({ ...fakeRow(s), trainLoss: 9 + s })).join(''));
  const rows = await until('the rewritten rows', async () => {
    const r = await rowsNow();
    return r.length === 5 ? r : undefined;
  });
  assert.deepEqual(
    rows.map((r) => [r.step, r.trainLoss]),
    [
      [1, fakeRow(1).trainLoss],
      [2, fakeRow(2).trainLoss],
      [3, 12],
      [4, 13],
      [5, 14],
    ],
  );
  assert.equal((await raw(d.port, '/api/runs/run-a')).json().problem, undefined, 'no line was read from the middle');
});

test('/api/sweeps: each recorded sweep with its runs counted by status, runs not yet in the store as not started', async (t) => {
  const dir = await tempStore(t);
  const store = await openStore(dir);
  t.after(() => store.close());
  await store.putSweep({ name: 'live', purpose: 'batch-scan', hash: 'h1', spec: {}, runIds: ['run-a', 'run-x'], createdAt: new Date().toISOString() });
  const d = await startDashboard({ location: dir, port: 0, fits: false });
  t.after(() => d.close());
  const sweeps = (await raw(d.port, '/api/sweeps')).json().sweeps as { name: string; createdAt: string; runs: number; counts: Record<string, number> }[];
  assert.deepEqual(sweeps, [{ name: 'live', purpose: 'batch-scan', createdAt: sweeps[0]!.createdAt, runs: 2, counts: { running: 1, 'not started': 1 } }]);
  // a sweep recorded while serving arrives as an event
  const ev = nextEvent(d.port, 'sweeps', (e) => e.sweeps.length === 2);
  await ev.ready;
  await store.putSweep({ name: 'grid', purpose: 'size-data', hash: 'h2', spec: {}, runIds: ['run-y'], createdAt: new Date().toISOString() });
  const e = (await ev.event) as { sweeps: { name: string }[] };
  assert.deepEqual(e.sweeps.map((w) => w.name).sort(), ['grid', 'live']);
});
