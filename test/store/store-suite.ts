// The one suite every Store implementation passes (after tfjs describeWithFlags / jax-js suite.each): given a way
// to get a fresh, empty location, it defines the tests. file-store.test.ts and postgres-store.test.ts invoke it.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { MetricRow } from '../../src/analysis/records.ts';
import { openStore, StoreError, type NewRun, type Store, type StoreErrorCode, type SweepManifest } from '../../src/store/store.ts';
import { isSkip, type Skip } from '../helpers/services.ts';
import { skipOrFail } from '../helpers/require.ts';
import { defineFencingTests } from './fencing-suite.ts';

/** Where a suite's stores live: fresh() returns a new empty location (a temp dir, a Postgres URL with a new schema). */
export interface StoreTarget {
  fresh(): Promise<string>;
  stop(): Promise<void>;
}

// ---- fixtures shared with the other store tests

export function makeRun(id: string, overrides: Partial<NewRun> = {}): NewRun {
  return {
    id,
    name: `d2-b32-s${id.length}`,
    sweep: 'scan',
    model: { nLayer: 2, dModel: 128, nHead: 2, vocab: 256, context: 64 },
    paramsKaplan: 393_216,
    paramsTotal: 434_432,
    batchSize: 32,
    context: 64,
    batchTokens: 2048,
    lr: 0.003,
    seed: 0,
    schedule: 'cosine',
    data: 'gutenberg/byte',
    spec: { model: { depth: 2 }, batch: 32, schedule: { kind: 'cosine', warmup: 10, floor: 0.1 }, lr: 0.003, seed: 0, corpus: 'gutenberg' },
    ...overrides,
  };
}

/** A deterministic row for a step, with awkward doubles (so a lossy round trip would show). */
export function makeRow(step: number, extra: Partial<MetricRow> = {}): MetricRow {
  return {
    step,
    tokens: step * 2048,
    flops: step * 2048 * 6 * 393_216 + 0.5,
    trainLoss: 5.5 / (1 + step / 3) + 1 / 3,
    lr: 0.003 * Math.min(1, (step + 1) / 10),
    gradNorm: Math.sqrt(step + 2) / 7,
    wallMs: step * 12.345678901234567,
    ...(step % 5 === 0 && { testLoss: 5 / (1 + step / 4) + 0.1 + 0.2 }),
    ...extra,
  };
}

export function rows(from: number, to: number): MetricRow[] {
  return Array.from({ length: to - from + 1 }, (_, i) => makeRow(from + i));
}

/** A sweep manifest as sweep/spec.ts makeManifest makes them (the store keeps the spec as JSON). */
export function makeManifest(name: string, hash: string, createdAt: string): SweepManifest {
  return { name, purpose: 'batch-scan', hash, spec: { name, base: { depth: 1 }, axes: { batch: [8, 16] } }, runIds: [`${name}-r1`, `${name}-r2`], createdAt };
}

/** A checkpoint payload that depends on its step, so a test can tell a whole one from a mix of two. */
export function checkpointBytes(step: number, size = 256 * 1024): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + step * 7) & 255;
  return bytes;
}

export async function rejectsWith(promise: Promise<unknown>, code: StoreErrorCode, message?: RegExp): Promise<StoreError> {
  const err = await promise.then(
    () => assert.fail(`expected StoreError '${code}', but it resolved`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.ok(typeof err.hint === 'string' && err.hint.length > 10, `hint: ${err.hint}`);
  if (message !== undefined) assert.match(err.message, message);
  return err;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the suite

export function defineStoreSuite(name: string, setup: () => Promise<StoreTarget | Skip>): void {
  describe(name, () => {
    let target: StoreTarget | Skip = { skip: 'setup did not run' };
    const opened: Store[] = [];
    before(async () => {
      target = await setup();
    });
    after(async () => {
      await Promise.all(opened.map((s) => s.close().catch(() => {})));
      if (!isSkip(target)) await target.stop();
    });

    /** A store on a fresh location (or a second store on `location`); undefined after t.skip when unavailable. */
    async function open(t: TestContext, location?: string): Promise<{ store: Store; location: string } | undefined> {
      if (isSkip(target)) {
        skipOrFail(t, target);
        return undefined;
      }
      const where = location ?? (await target.fresh());
      const store = await openStore(where);
      opened.push(store);
      return { store, location: where };
    }

    it('stores a run and gives it back, pending, with every field', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      const run = makeRun('r1');
      const created = await store.putRun(run);
      const got = await store.getRun('r1');
      assert.deepEqual(got, created);
      const { createdAt, state, ...rest } = got!;
      assert.deepEqual(rest, run);
      assert.equal(state.status, 'pending');
      assert.ok(!Number.isNaN(Date.parse(createdAt)) && !Number.isNaN(Date.parse(state.updatedAt)));
      assert.equal(await store.getRun('nope'), undefined);
      // optional fields left out stay out
      const bare = makeRun('r2', { sweep: undefined, model: undefined, lr: undefined, seed: undefined, schedule: undefined, data: undefined });
      const back = await store.putRun(bare);
      for (const key of ['sweep', 'model', 'lr', 'seed', 'schedule', 'data']) assert.ok(!(key in back), `${key} should be absent`);
      const bareRecord = await store.loadRecord('r2');
      for (const key of ['schedule', 'data']) assert.ok(!(key in bareRecord), `${key} should be absent from the record`);
    });

    it('keeps the grouping fields (schedule, data) and hands them to analysis', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      await store.putRun(makeRun('r1', { schedule: 'constant', data: 'gutenberg/bpe-4096' }));
      await store.putRun(makeRun('r2', { schedule: 'cosine', data: 'sotu/byte', sweep: 'other' }));
      const got = await store.getRun('r1');
      assert.equal(got?.schedule, 'constant');
      assert.equal(got?.data, 'gutenberg/bpe-4096');
      const records = await store.loadRecords();
      assert.deepEqual(
        records.map((r) => [r.id, r.schedule, r.data]),
        [
          ['r1', 'constant', 'gutenberg/bpe-4096'],
          ['r2', 'cosine', 'sotu/byte'],
        ],
      );
      assert.deepEqual(
        (await store.listRuns({ sweep: 'other' })).map((r) => r.schedule),
        ['cosine'],
      );
      await rejectsWith(store.putRun(makeRun('r3', { schedule: '' })), 'bad-input', /'schedule' must be a non-empty string/);
      await rejectsWith(store.putRun(makeRun('r3', { data: 7 as unknown as string })), 'bad-input', /'data' must be a non-empty string/);
    });

    it('putRun is idempotent for the same spec and refuses a different one', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      const first = await store.putRun(makeRun('r1'));
      await store.setStatus('r1', 'running', { step: 3 });
      // same spec with its keys in another order: the same run, its status untouched
      const spec = makeRun('r1').spec as Record<string, unknown>;
      const reordered = Object.fromEntries(Object.entries(spec).reverse());
      const again = await store.putRun(makeRun('r1', { spec: reordered, name: 'other-name' }));
      assert.equal(again.createdAt, first.createdAt);
      assert.equal(again.name, first.name);
      assert.equal(again.state.status, 'running');
      assert.equal((await store.listRuns()).length, 1);
      const changed = { ...spec, schedule: { kind: 'cosine', warmup: 20, floor: 0.1 } };
      const err = await rejectsWith(store.putRun(makeRun('r1', { spec: changed })), 'spec-mismatch', /different config/);
      assert.match(err.message, /spec\.schedule\.warmup: stored 10, given 20/);
      // nothing was overwritten
      assert.deepEqual((await store.getRun('r1'))!.spec, spec);
    });

    it('rejects bad input and unknown runs with a hint', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      await rejectsWith(store.putRun(makeRun('../escape')), 'bad-input', /bad run id/);
      await rejectsWith(store.putRun(makeRun('r1', { batchSize: 0 })), 'bad-input', /batchSize/);
      await rejectsWith(store.putRun(makeRun('r1', { spec: { lr: NaN } })), 'bad-input', /spec\.lr/);
      await store.putRun(makeRun('r1'));
      await rejectsWith(store.appendMetrics('r1', [{ ...makeRow(0), extra: 1 } as MetricRow]), 'bad-input', /unknown field 'extra'/);
      await rejectsWith(store.appendMetrics('r1', [makeRow(-1)]), 'bad-input', /step/);
      await rejectsWith(store.appendMetrics('r1', [{ ...makeRow(1), trainLoss: '2' } as unknown as MetricRow]), 'bad-input', /trainLoss/);
      await rejectsWith(store.setStatus('r1', 'finished' as 'done'), 'bad-input', /bad status/);
      assert.deepEqual(await store.readMetrics('r1'), [], 'a rejected batch writes nothing');
      await rejectsWith(store.appendMetrics('ghost', [makeRow(0)]), 'not-found', /ghost/);
      await rejectsWith(store.appendMetrics('ghost', []), 'not-found');
      await rejectsWith(store.readMetrics('ghost'), 'not-found');
      await rejectsWith(store.setStatus('ghost', 'running'), 'not-found');
      await rejectsWith(store.truncateMetricsAfter('ghost', 3), 'not-found');
      await rejectsWith(store.saveCheckpoint('ghost', 1, new Uint8Array(4)), 'not-found');
      await rejectsWith(store.loadCheckpoint('ghost'), 'not-found');
      await rejectsWith(store.loadRecord('ghost'), 'not-found');
    });

    it('lists runs in creation order, filtered by sweep', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      for (const [id, sweep] of [
        ['c', 'scan'],
        ['a', 'grid'],
        ['b', 'scan'],
      ] as const) {
        await store.putRun(makeRun(id, { sweep }));
        await sleep(3);
      }
      assert.deepEqual(
        (await store.listRuns()).map((r) => r.id),
        ['c', 'a', 'b'],
      );
      assert.deepEqual(
        (await store.listRuns({ sweep: 'scan' })).map((r) => r.id),
        ['c', 'b'],
      );
      assert.deepEqual(await store.listRuns({ sweep: 'none' }), []);
    });

    it('records status changes with their detail and time', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      const created = await store.putRun(makeRun('r1'));
      await sleep(3);
      await store.setStatus('r1', 'running', { step: 40, worker: 'host:123', attempt: 2 });
      const running = (await store.getRun('r1'))!.state;
      assert.deepEqual({ ...running, updatedAt: '' }, { status: 'running', step: 40, worker: 'host:123', attempt: 2, updatedAt: '' });
      assert.ok(running.updatedAt > created.state.updatedAt, `${running.updatedAt} after ${created.state.updatedAt}`);
      await store.setStatus('r1', 'failed', { step: 41, message: 'loss NaN at step 41' });
      assert.deepEqual({ ...(await store.getRun('r1'))!.state, updatedAt: '' }, { status: 'failed', step: 41, message: 'loss NaN at step 41', updatedAt: '' });
      await store.setStatus('r1', 'done');
      assert.deepEqual(Object.keys((await store.getRun('r1'))!.state).sort(), ['status', 'updatedAt']);
      assert.equal((await store.loadRecord('r1')).status, 'done');
    });

    it('round-trips metric rows exactly, NaN and Infinity included', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      await store.putRun(makeRun('r1'));
      const written = [
        ...rows(0, 9),
        makeRow(10, {
          trainLoss: 0.1 + 0.2,
          gradNorm: 5e-324,
          flops: 1.7976931348623157e308,
          bSimple: 123.456,
          bSimpleTokens: 123.456 * 64,
          gradSq: 1e-30,
          traceSigma: 2 ** -40,
        }),
        makeRow(11, { trainLoss: NaN, gradNorm: Infinity, testLoss: -Infinity }),
      ];
      assert.equal(await store.appendMetrics('r1', written), 12);
      assert.deepEqual(await store.readMetrics('r1'), written);
    });

    it('skips rows whose step is already stored, across calls and within one', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      await store.putRun(makeRun('r1'));
      assert.equal(await store.appendMetrics('r1', rows(0, 4)), 5);
      const changed = rows(3, 7).map((r) => ({ ...r, trainLoss: 99 }));
      assert.equal(await store.appendMetrics('r1', changed), 3);
      assert.equal(await store.appendMetrics('r1', rows(0, 7)), 0);
      assert.equal(await store.appendMetrics('r1', [makeRow(8), makeRow(8, { trainLoss: -1 }), makeRow(9)]), 2);
      const back = await store.readMetrics('r1');
      assert.deepEqual(
        back.map((r) => r.step),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      assert.deepEqual(back.slice(0, 5), rows(0, 4), 'stored rows are not overwritten');
      assert.deepEqual(back.map((r) => r.trainLoss).slice(5, 8), [99, 99, 99]);
      assert.equal(back[8]!.trainLoss, makeRow(8).trainLoss, 'the first of two rows with one step wins');
    });

    it('reads rows back in step order whatever order they came in', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      await store.putRun(makeRun('r1'));
      await store.appendMetrics('r1', [makeRow(5), makeRow(1), makeRow(3)]);
      await store.appendMetrics('r1', [makeRow(4), makeRow(0), makeRow(2)]);
      assert.deepEqual(await store.readMetrics('r1'), rows(0, 5));
    });

    it('truncates rows after a step, and appends again after it (a resume)', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      await store.putRun(makeRun('r1'));
      await store.putRun(makeRun('r2'));
      await store.appendMetrics('r1', rows(0, 9));
      await store.appendMetrics('r2', rows(0, 9));
      assert.equal(await store.truncateMetricsAfter('r1', 4), 5);
      assert.deepEqual(await store.readMetrics('r1'), rows(0, 4));
      assert.equal(await store.truncateMetricsAfter('r1', 4), 0);
      assert.equal(await store.truncateMetricsAfter('r1', 100), 0);
      assert.deepEqual(await store.readMetrics('r2'), rows(0, 9), 'another run is untouched');
      assert.equal(await store.appendMetrics('r1', rows(3, 9)), 5);
      assert.deepEqual(await store.readMetrics('r1'), rows(0, 9));
      assert.equal(await store.truncateMetricsAfter('r1', 0), 9);
      assert.deepEqual(await store.readMetrics('r1'), rows(0, 0));
    });

    it('replaces and loads checkpoints', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      await store.putRun(makeRun('r1'));
      await store.putRun(makeRun('r2'));
      assert.equal(await store.loadCheckpoint('r1'), undefined);
      const big = new Uint8Array(300_000).map((_, i) => (i * 131 + 7) & 255);
      await store.saveCheckpoint('r1', 10, big);
      const loaded = await store.loadCheckpoint('r1');
      assert.equal(loaded?.step, 10);
      assert.ok(loaded!.bytes instanceof Uint8Array);
      assert.ok(Buffer.from(loaded!.bytes).equals(Buffer.from(big)), 'bytes round-trip');
      // a view into a larger buffer: only the view is saved
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      await store.saveCheckpoint('r1', 20, backing.subarray(2, 5));
      const replaced = await store.loadCheckpoint('r1');
      assert.equal(replaced?.step, 20);
      assert.deepEqual([...replaced!.bytes], [1, 2, 3]);
      await store.saveCheckpoint('r2', 0, new Uint8Array(0));
      assert.deepEqual(await store.loadCheckpoint('r2'), { step: 0, bytes: new Uint8Array(0) });
    });

    it('loads records for analysis, filtered by sweep', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      await store.putRun(makeRun('r1', { sweep: 'scan' }));
      await sleep(3);
      await store.putRun(makeRun('r2', { sweep: 'grid', model: undefined, lr: undefined }));
      await store.appendMetrics('r1', rows(0, 3));
      await store.appendMetrics('r2', rows(0, 1));
      await store.setStatus('r1', 'done');
      const { spec: _spec, ...meta } = makeRun('r1', { sweep: 'scan' });
      assert.deepEqual(await store.loadRecord('r1'), { ...meta, status: 'done', metrics: rows(0, 3) });
      const all = await store.loadRecords();
      assert.deepEqual(
        all.map((r) => [r.id, r.status, r.metrics.length]),
        [
          ['r1', 'done', 4],
          ['r2', 'pending', 2],
        ],
      );
      assert.ok(!('model' in all[1]!) && !('lr' in all[1]!));
      assert.deepEqual(
        (await store.loadRecords({ sweep: 'grid' })).map((r) => r.id),
        ['r2'],
      );
    });

    it('takes concurrent appends from two store instances and from one', async (t) => {
      const opened1 = await open(t);
      if (!opened1) return;
      const { store: second } = (await open(t, opened1.location))!;
      const first = opened1.store;
      await first.putRun(makeRun('a'));
      await second.putRun(makeRun('b'));
      await second.putRun(makeRun('a')); // the other instance sees it: idempotent
      const N = 40;
      const writer = async (store: Store, id: string) => {
        for (let s = 0; s < N; s++) await store.appendMetrics(id, [makeRow(s)]);
      };
      // two instances on two runs, and within one instance ten overlapping batches at once on a third run
      await first.putRun(makeRun('c'));
      const overlapping = Array.from({ length: 10 }, (_, i) => first.appendMetrics('c', rows(i * 3, i * 3 + 5)));
      const [, , ...added] = await Promise.all([writer(first, 'a'), writer(second, 'b'), ...overlapping]);
      assert.equal(
        added.reduce((x, y) => x + y, 0),
        33,
        'steps 0..32 each added once',
      );
      const reader = (await open(t, opened1.location))!.store;
      assert.deepEqual(await reader.readMetrics('a'), rows(0, N - 1));
      assert.deepEqual(await reader.readMetrics('b'), rows(0, N - 1));
      assert.deepEqual(await reader.readMetrics('c'), rows(0, 32));
    });

    it('records sweep manifests once per name, gives them back, and lists them oldest first', async (t) => {
      const { store, location } = (await open(t)) ?? {};
      if (!store) return;
      const a = makeManifest('scan-a', 'aaaa', '2026-11-01T10:00:00.000Z');
      assert.equal(await store.getSweep('scan-a'), undefined);
      assert.deepEqual(await store.listSweeps(), []);
      assert.deepEqual(await store.putSweep(a), { created: true, stored: a });
      // another manifest under the same name is not stored: the first one is returned, comparing is the caller's
      assert.deepEqual(await store.putSweep({ ...a, hash: 'bbbb', runIds: ['r9'] }), { created: false, stored: a });
      const b = makeManifest('scan-b', 'cccc', '2026-11-02T10:00:00.000Z');
      const second = (await open(t, location))!.store; // another store instance on the same location
      assert.equal((await second.putSweep(b)).created, true);
      assert.deepEqual(await store.getSweep('scan-b'), b);
      assert.deepEqual(
        (await store.listSweeps()).map((m) => m.name),
        ['scan-a', 'scan-b'],
      );
      // two stores racing to record one name: one creates, both get the same manifest back
      const c1 = makeManifest('scan-c', 'c1', '2026-11-03T10:00:00.000Z');
      const c2 = makeManifest('scan-c', 'c2', '2026-11-03T10:00:00.000Z');
      const raced = await Promise.all([store.putSweep(c1), second.putSweep(c2)]);
      assert.equal(raced.filter((r) => r.created).length, 1);
      assert.deepEqual(raced[0].stored, raced[1].stored);
      // a name that is not a safe file name, and a manifest without what readers rely on, are refused
      await rejectsWith(store.putSweep({ ...a, name: '../escape' }), 'bad-input', /bad sweep name/);
      await rejectsWith(store.getSweep('a/b'), 'bad-input', /bad sweep name/);
      await rejectsWith(store.putSweep({ ...a, name: 'scan-d', hash: '' }), 'bad-input', /no hash/);
      await rejectsWith(store.putSweep({ ...a, name: 'scan-d', createdAt: 'yesterday' }), 'bad-input', /createdAt/);
      assert.equal(await store.getSweep('scan-d'), undefined);
    });

    it('refuses work after close', async (t) => {
      const { store } = (await open(t)) ?? {};
      if (!store) return;
      await store.putRun(makeRun('r1'));
      await store.close();
      await rejectsWith(store.getRun('r1'), 'bad-input', /closed/);
      await rejectsWith(store.appendMetrics('r1', [makeRow(0)]), 'bad-input', /closed/);
    });

    defineFencingTests(open);
  });
}
