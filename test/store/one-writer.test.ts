// One writer per run, end to end (issue 13, item 1): a trainer whose run is taken over mid-run is refused at its next
// write and stops cleanly without touching the new holder's work, and two `train` commands on one run: the second
// names the holder and exits non-zero; once the first is dead, the same command takes the run over.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { MetricRow } from '../../src/analysis/records.ts';
import { prepareDataset, type Dataset } from '../../src/data/index.ts';
import { openStore, StoreError, type Store } from '../../src/store/store.ts';
import { runId, type ExecOptions, type RunConfig } from '../../src/train/config.ts';
import { trainRun } from '../../src/train/run.ts';
import { recordSweep } from '../../src/sweep/executor.ts';
import { expandSweep, makeManifest, parseSweepSpec } from '../../src/sweep/spec.ts';
import { skipOrFail } from '../helpers/require.ts';
import { makeRun } from './store-suite.ts';
import { isSkip, startPostgres } from '../helpers/services.ts';
import { TINY_CORPUS, TINY_RUN } from '../helpers/tiny-run.ts';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;
const corpus = TINY_CORPUS;
const config: RunConfig = TINY_RUN;
const id = runId(config);
let dir: string;
let dataset: Dataset;
const stores: Store[] = [];
const exec = (store: Store) => ({ backend: 'ts', threads: 1, store: store.location, checkpointEvery: 2 }) as ExecOptions;
const values = (rows: MetricRow[]) => rows.map(({ wallMs: _w, ...r }) => r);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scaling-lab-one-writer-'));
  dataset = await prepareDataset({ corpus, tokenizer: 'byte', testFraction: 0.5, cacheDir: null });
});
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function open(name: string): Promise<Store> {
  const store = await openStore(join(dir, name));
  stores.push(store);
  return store;
}

/**
 * A trainer whose run is taken over just before its step-4 checkpoint (as a queue worker's, once its job lock has
 * lapsed): it is fenced at that write and stops; the new holder finishes the run, equal to an uninterrupted one.
 */
async function fencedMidRun(stale: Store, other: Store, reference: Store): Promise<void> {
  await trainRun(config, exec(reference), reference, { dataset });
  let takenAt: number | undefined;
  const slow = new Proxy(stale, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key === 'saveCheckpoint') {
        return async (runId: string, step: number, bytes: Uint8Array, fence?: { epoch: number }) => {
          if (step === 4 && takenAt === undefined) {
            takenAt = step;
            await other.acquireRun(runId, 'worker B', { takeOver: true });
          }
          return target.saveCheckpoint(runId, step, bytes, fence);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  await assert.rejects(trainRun(config, exec(stale), slow, { dataset, worker: 'A' }), (err: unknown) => {
    assert.ok(err instanceof StoreError, String(err));
    assert.equal(err.code, 'fenced');
    assert.match(err.message, /taken over \(epoch 2\); this writer holds epoch 1 and must stop/);
    return true;
  });
  assert.equal(takenAt, 4);
  const ckpt = await other.loadCheckpoint(id);
  assert.equal(ckpt?.step, 2, 'the stale trainer wrote no checkpoint after the takeover');
  assert.equal((await other.getLease(id))?.holder, 'worker B', 'the fenced trainer left the lease to its new holder');
  // the new holder (an executor's trainer) resumes and finishes; the result equals an uninterrupted run's
  const done = await trainRun(config, exec(other), other, { dataset, worker: 'B', takeOver: true });
  assert.equal(done.status, 'done');
  assert.deepEqual(values(await other.readMetrics(id)), values(await reference.readMetrics(id)));
  assert.equal(await other.getLease(id), undefined, 'released when done');
}

test('file store: a trainer whose run is taken over is fenced at its next write and stops; the new holder finishes it intact', async () => {
  await fencedMidRun(await open('taken'), await open('taken'), await open('reference'));
});

test('PostgreSQL: a trainer whose run is taken over is fenced at its next write and stops; the new holder finishes it intact', async (t) => {
  const server = await startPostgres();
  if (isSkip(server)) return skipOrFail(t, server);
  try {
    const at = async (schema: string) => {
      const store = await openStore(`${server.url}?schema=${schema}`);
      stores.push(store);
      return store;
    };
    await fencedMidRun(await at('taken'), await at('taken'), await at('reference'));
  } finally {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await server.stop();
  }
});

test('two train commands on one run: the second names the holder and exits non-zero; a dead holder is taken over', async () => {
  const store = join(dir, 'two-trains');
  // long enough to still be training while the second command starts
  const args = [
    bin,
    'train',
    '--depth',
    '1',
    '--context',
    '16',
    '--batch',
    '8',
    '--steps',
    '5000',
    '--corpus',
    corpus,
    '--tokenizer',
    'byte',
    '--backend',
    'ts',
    '--threads',
    '1',
    '--checkpoint-every',
    '5',
    '--store',
    store,
  ];
  const first = spawn(process.execPath, [...args, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let firstErr = '';
  first.stderr.setEncoding('utf8').on('data', (d: string) => (firstErr += d));
  try {
    // wait until it holds the run and has a checkpoint
    const reader = await openStore(store);
    stores.push(reader);
    let runId: string | undefined;
    for (let i = 0; i < 600 && runId === undefined; i++) {
      await sleep(100);
      const runs = await reader.listRuns().catch(() => []);
      const r = runs[0];
      if (r && (await reader.getLease(r.id))?.holder !== undefined && (await reader.loadCheckpoint(r.id)) !== undefined) runId = r.id;
      assert.equal(first.exitCode, null, `the first train command ended early: ${firstErr}`);
    }
    assert.ok(runId, 'the first train command took the run and checkpointed');
    const second = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
    assert.equal(second.status, 2, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `error: run '${runId}' is held by train ${hostname()}:${first.pid} \\(pid ${first.pid} on ${hostname()}\\) since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z`,
      ),
    );
    assert.match(second.stderr, /hint: one writer per run: wait for it to finish or stop it/);
    assert.equal(first.exitCode, null, 'the first one trains on');
    // the holder dies without a word: the same command takes the run over at once (its pid is gone on this host)
    first.kill('SIGKILL');
    await once(first, 'exit');
    const third = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let thirdErr = '';
    third.stderr.setEncoding('utf8').on('data', (d: string) => (thirdErr += d));
    for (let i = 0; i < 600 && !/resuming .* from its checkpoint at step \d+/.test(thirdErr) && third.exitCode === null; i++) await sleep(100);
    assert.match(thirdErr, /resuming .* from its checkpoint at step \d+ of 5000/);
    third.kill('SIGINT'); // checkpoint and stop
    const [code] = (await once(third, 'exit')) as [number | null];
    assert.equal(code, 130, thirdErr);
    const lease = JSON.parse(await readFile(join(store, runId, 'lease.json'), 'utf8')) as { epoch: number; lease?: unknown };
    assert.deepEqual(lease, { epoch: 2 }, 'taken at epoch 2, released on the clean stop');
    assert.equal((await reader.getRun(runId))?.state.status, 'pending');
  } finally {
    if (first.exitCode === null) first.kill('SIGKILL');
  }
});

test("status names who holds a run, and says when the holder's lease has lapsed", async () => {
  const location = join(dir, 'status-holder');
  const spec = parseSweepSpec({ name: 'held', base: { depth: 1, context: 16, batch: 8, steps: 20, tokenizer: 'byte', corpus }, axes: { seed: [0, 1] } });
  const configs = expandSweep(spec);
  const store = await open('status-holder');
  await recordSweep(store, makeManifest(spec, configs));
  const held = runId(configs[0]!);
  await store.putRun(makeRun(held, { sweep: 'held' }));
  const holder = spawn(process.execPath, ['--import', 'tsx', new URL('./lease-holder.ts', import.meta.url).pathname, location, held, 'worker far:1'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    await once(holder.stdout, 'data');
    const live = spawnSync(process.execPath, [bin, 'status', 'held', '--store', location], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(live.status, 0, live.stderr);
    assert.match(live.stdout, new RegExp(`${held} +pending .*held by worker far:1 since \\d{4}-`));
    const json = JSON.parse(
      spawnSync(process.execPath, [bin, 'status', 'held', '--store', location, '--json'], { encoding: 'utf8', timeout: 60_000 }).stdout,
    ) as { runs: Array<{ id: string; holder?: string; holderLive?: boolean }> };
    assert.deepEqual(
      json.runs.map((r) => [r.id === held, r.holder, r.holderLive]),
      [
        [true, 'worker far:1', true],
        [false, undefined, undefined],
      ],
    );
  } finally {
    holder.kill('SIGKILL');
    await once(holder, 'exit');
  }
  const dead = spawnSync(process.execPath, [bin, 'status', 'held', '--store', location], { encoding: 'utf8', timeout: 60_000 });
  assert.match(dead.stdout, /lease of worker far:1 lapsed \(its process is gone or silent\): the next worker or train takes the run over/);
});
