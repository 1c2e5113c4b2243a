// A file store that checks itself (issue 13, item 4): on resume the metric rows are checked against the checkpoint's
// step, a torn, short or duplicated metrics.jsonl is repaired (or the run restarted from step 0, saying so), a status
// the checkpoint and rows contradict is corrected with a warning, and a run directory without spec.json is reported
// by status, report and bcrit. Every broken file is written by hand into a temp store.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { appendFile, mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { MetricRow } from '../../src/analysis/records.ts';
import { prepareDataset, type Dataset } from '../../src/data/index.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { runId, type ExecOptions, type RunConfig } from '../../src/train/config.ts';
import { finishedRunProblem, trainRun, type RunOutcome } from '../../src/train/run.ts';
import { TINY_CORPUS, TINY_RUN } from '../helpers/tiny-run.ts';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;
// 8 steps, a row per step, a checkpoint every 2, test loss at 4 and 8
const corpus = TINY_CORPUS;
const config: RunConfig = TINY_RUN;
const id = runId(config);
let dir: string;
let dataset: Dataset;
let reference: MetricRow[];
const stores: Store[] = [];

async function freshStore(name: string): Promise<Store> {
  const store = await openStore(join(dir, name));
  stores.push(store);
  return store;
}
const exec = (store: Store) => ({ backend: 'ts', threads: 1, store: store.location, checkpointEvery: 2 }) as ExecOptions;

async function train(store: Store, stopAfter?: number): Promise<{ outcome: RunOutcome; notices: string[] }> {
  const notices: string[] = [];
  const abort = new AbortController();
  const outcome = await trainRun(config, exec(store), store, {
    dataset,
    signal: abort.signal,
    onNotice: (m) => notices.push(m),
    onStep: ({ step }) => {
      if (step === stopAfter) abort.abort();
    },
  });
  return { outcome, notices };
}

/** rows without their wall-clock times, which differ between runs */
const values = (rows: MetricRow[]) => rows.map(({ wallMs: _w, ...r }) => r);
const metricsPath = (store: Store) => join(store.location, id, 'metrics.jsonl');
const lines = async (store: Store) => (await readFile(metricsPath(store), 'utf8')).split('\n').filter((l) => l !== '');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scaling-lab-selfcheck-'));
  dataset = await prepareDataset({ corpus, tokenizer: 'byte', testFraction: 0.5, cacheDir: null });
  const ref = await freshStore('reference');
  assert.equal((await train(ref)).outcome.status, 'done');
  reference = await ref.readMetrics(id);
  assert.deepEqual(
    reference.map((r) => r.step),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
});

after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

test('a torn last line is dropped on resume: every step once, equal to an uninterrupted run', async () => {
  const store = await freshStore('torn');
  assert.equal((await train(store, 4)).outcome.status, 'interrupted');
  await appendFile(metricsPath(store), '{"step":5,"tokens":640,"fl');
  const { outcome, notices } = await train(store);
  assert.equal(outcome.status, 'done');
  assert.ok(
    notices.some((n) => /resuming .* from its checkpoint at step 4 of 8/.test(n)),
    notices.join('\n'),
  );
  assert.deepEqual(values(await store.readMetrics(id)), values(reference));
  assert.equal((await lines(store)).length, 8, 'one line per step, no torn line left');
});

test('duplicated rows are dropped from the file on resume', async () => {
  const store = await freshStore('duplicated');
  assert.equal((await train(store, 4)).outcome.status, 'interrupted');
  const text = await readFile(metricsPath(store), 'utf8');
  await appendFile(metricsPath(store), text + text.split('\n')[1] + '\n');
  assert.equal((await lines(store)).length, 9);
  assert.equal((await train(store)).outcome.status, 'done');
  const after = await lines(store);
  assert.deepEqual(
    after.map((l) => (JSON.parse(l) as MetricRow).step),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.deepEqual(values(await store.readMetrics(id)), values(reference));
});

test('rows missing before the checkpoint (a cut file) restart the run from step 0, saying so, and end complete', async () => {
  const store = await freshStore('short');
  assert.equal((await train(store, 6)).outcome.status, 'interrupted');
  assert.equal((await store.loadCheckpoint(id))!.step, 6);
  // the file cut in the middle of row 3: rows 1-2 whole, row 3 torn, rows 4-6 gone
  const text = await readFile(metricsPath(store), 'utf8');
  const cut = text.indexOf('\n', text.indexOf('\n') + 1) + 20;
  await truncate(metricsPath(store), cut);
  const { outcome, notices } = await train(store);
  assert.equal(outcome.status, 'done');
  assert.equal(outcome.stepsTrained, 8, 'trained again from step 0');
  const warning = notices.find((n) => /metric rows do not match its checkpoint at step 6/.test(n));
  assert.ok(warning, notices.join('\n'));
  assert.match(warning, /4 of 6 rows missing: steps 3, 4, 5, 6/);
  assert.match(warning, /restarting the run from step 0/);
  assert.deepEqual(values(await store.readMetrics(id)), values(reference));
});

test('a status of done that the checkpoint contradicts is corrected with a warning, and the run finished', async () => {
  const store = await freshStore('false-done');
  assert.equal((await train(store, 4)).outcome.status, 'interrupted');
  await writeFile(join(store.location, id, 'status.json'), JSON.stringify({ status: 'done', step: 4, updatedAt: new Date().toISOString() }));
  // what an executor can ask before skipping a "finished" run
  assert.equal(await finishedRunProblem(store, config), 'its checkpoint is at step 4 of 8');
  const { outcome, notices } = await train(store);
  assert.equal(outcome.status, 'done');
  assert.equal(outcome.stepsTrained, 4);
  assert.ok(
    notices.some((n) => /^warning: .*the status said done at step 4 but its checkpoint is at step 4 of 8; corrected and resumed/.test(n)),
    notices.join('\n'),
  );
  assert.deepEqual(values(await store.readMetrics(id)), values(reference));
  // a true done is believed: not re-trained, no warning
  assert.equal(await finishedRunProblem(store, config), undefined);
  const again = await train(store);
  assert.equal(again.outcome.stepsTrained, 0);
  assert.equal(again.outcome.message, 'already finished; not re-trained');
  assert.deepEqual(again.notices, []);
});

test('a done run whose rows were cut is trained again from step 0, saying so', async () => {
  const store = await freshStore('done-cut');
  assert.equal((await train(store)).outcome.status, 'done');
  const kept = (await lines(store)).slice(0, 5);
  await writeFile(metricsPath(store), kept.join('\n') + '\n');
  const { outcome, notices } = await train(store);
  assert.equal(outcome.status, 'done');
  assert.ok(
    notices.some((n) => /the status said done at step 8 but its metric rows are incomplete \(3 of 8 rows missing: steps 6, 7, 8\)/.test(n)),
    notices.join('\n'),
  );
  assert.deepEqual(values(await store.readMetrics(id)), values(reference));
});

test('a run directory without spec.json is reported by status, report and bcrit, naming it and what to do', async () => {
  const store = await freshStore('no-spec');
  assert.equal((await train(store)).outcome.status, 'done');
  const orphan = join(store.location, 'd1-b8-s0-orphan');
  await mkdir(orphan);
  await writeFile(join(orphan, 'status.json'), '{"status":"done","updatedAt":"2026-01-01T00:00:00Z"}');
  await writeFile(join(orphan, 'metrics.jsonl'), '');
  await mkdir(join(store.location, 'notes')); // an unrelated directory is not a run: not reported
  const damaged = await store.listDamaged();
  assert.equal(damaged.length, 1);
  assert.match(damaged[0]!.problem, /run directory .*d1-b8-s0-orphan has no spec\.json \(it holds metrics\.jsonl, status\.json\)/);
  const expected =
    /warning: run directory .*d1-b8-s0-orphan has no spec\.json[^\n]*left out[^\n]*\n {2}hint: restore its spec\.json from a backup, or delete .*d1-b8-s0-orphan/;
  for (const args of [
    ['status', '--store', store.location],
    ['report', store.location, '--out', join(dir, 'report'), '--quiet'],
    ['bcrit', store.location],
  ]) {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
    assert.match(r.stderr, expected, `${args[0]}: ${r.stderr}`);
  }
});

test('status on a store that does not exist fails and creates nothing', () => {
  const missing = join(dir, 'typo-runs');
  const r = spawnSync(process.execPath, [bin, 'status', '--store', missing], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /no store at .*typo-runs: no such directory/);
  assert.equal(existsSync(missing), false);
});

test('a write lock left by a killed process is broken at the next write; a lease file of a dead pid frees the run', async () => {
  const store = await freshStore('dead-lock');
  assert.equal((await train(store, 2)).outcome.status, 'interrupted');
  // what a writer SIGKILLed inside a write leaves: its lock, naming a pid that no longer runs on this host
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(dead.stdout);
  await writeFile(join(store.location, id, '.write.lock'), JSON.stringify({ pid, host: hostname(), at: new Date().toISOString() }));
  const lease = JSON.parse(await readFile(join(store.location, id, 'lease.json'), 'utf8')) as { epoch: number };
  await writeFile(
    join(store.location, id, 'lease.json'),
    JSON.stringify({
      epoch: lease.epoch,
      lease: {
        id,
        epoch: lease.epoch,
        holder: 'train dead',
        host: hostname(),
        pid,
        since: new Date().toISOString(),
        heartbeatAt: new Date().toISOString(),
        leaseMs: 60_000,
      },
    }),
  );
  const { outcome } = await train(store);
  assert.equal(outcome.status, 'done');
  assert.deepEqual(values(await store.readMetrics(id)), values(reference));
  assert.equal(existsSync(join(store.location, id, '.write.lock')), false, 'no lock left behind');
});
