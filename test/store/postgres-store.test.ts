// The shared store suite over PostgresStore on a real PostgreSQL (one server per file, a schema per test), then what
// only Postgres has: failing fast on an unreachable server, schema creation races, the schema version check.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { openStore } from '../../src/store/store.ts';
import { freePort, isSkip, startPostgres, type PostgresServer, type Skip } from '../helpers/services.ts';
import { skipOrFail } from '../helpers/require.ts';
import { checkpointBytes, defineStoreSuite, makeRow, makeRun, rejectsWith, rows } from './store-suite.ts';

let server: Promise<PostgresServer | Skip> | undefined;
/** One server for the whole file, started on first use and stopped when the file's tests end. */
function postgres(): Promise<PostgresServer | Skip> {
  server ??= startPostgres();
  return server;
}
after(async () => {
  const s = await server;
  if (s !== undefined && !isSkip(s)) await s.stop();
});

let schemas = 0;
defineStoreSuite('PostgresStore', async () => {
  const s = await postgres();
  if (isSkip(s)) return s;
  return { fresh: async () => `${s.url}?schema=t${++schemas}`, stop: async () => {} };
});

describe('PostgresStore on a server', () => {
  let s: PostgresServer | Skip = { skip: 'not started' };
  before(async () => {
    s = await postgres();
  });
  const need = (t: TestContext): PostgresServer | undefined => {
    if (isSkip(s)) {
      skipOrFail(t, s);
      return undefined;
    }
    return s;
  };

  it('keeps metrics in a table keyed by (run_id, step) in the named schema', async (t) => {
    const srv = need(t);
    if (!srv) return;
    const store = await openStore(`${srv.url}?schema=layout`);
    await store.putRun(makeRun('r1'));
    await store.appendMetrics('r1', rows(0, 2));
    const client = new pg.Client(srv.url);
    await client.connect();
    try {
      const pk = await client.query(
        `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indrelid = 'layout.metrics'::regclass AND i.indisprimary ORDER BY a.attname`,
      );
      assert.deepEqual(
        pk.rows.map((r) => r.attname),
        ['run_id', 'step'],
      );
      const count = await client.query('SELECT count(*)::int AS n FROM layout.metrics');
      assert.equal(count.rows[0].n, 3);
      const version = await client.query('SELECT version FROM layout.schema_version');
      assert.deepEqual(version.rows, [{ version: 5 }]);
      // a newer scaling-lab's schema is refused, not half-used
      await client.query('INSERT INTO layout.schema_version (version) VALUES (99)');
      await rejectsWith(openStore(`${srv.url}?schema=layout`), 'version', /version 99/);
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('upgrades a version-1 store in place: adds the schedule and data columns, keeps its runs', async (t) => {
    const srv = need(t);
    if (!srv) return;
    const location = `${srv.url}?schema=v1`;
    // make a version-1 store: today's tables without the version-2 columns, a run in it, version 1 recorded
    const first = await openStore(location);
    await first.putRun(makeRun('old', { schedule: undefined, data: undefined }));
    await first.appendMetrics('old', rows(0, 2));
    await first.close();
    const client = new pg.Client(srv.url);
    await client.connect();
    try {
      await client.query('ALTER TABLE v1.runs DROP COLUMN schedule, DROP COLUMN data, DROP COLUMN trainer');
      await client.query('DELETE FROM v1.schema_version');
      await client.query('INSERT INTO v1.schema_version (version) VALUES (1)');
      const store = await openStore(location);
      try {
        const old = await store.loadRecord('old');
        assert.ok(!('schedule' in old) && !('data' in old), 'a version-1 run has no grouping fields');
        assert.equal(old.metrics.length, 3);
        assert.ok(!('trainer' in old), 'a run of an older store was trained by our own trainer');
        await store.putRun(makeRun('new', { schedule: 'constant', data: 'gutenberg/byte', trainer: 'torch-gpt' }));
        const back = await store.getRun('new');
        assert.deepEqual([back?.schedule, back?.data, back?.trainer], ['constant', 'gutenberg/byte', 'torch-gpt']);
        assert.equal((await store.loadRecord('new')).trainer, 'torch-gpt');
      } finally {
        await store.close();
      }
      const versions = await client.query('SELECT version FROM v1.schema_version ORDER BY version');
      assert.deepEqual(versions.rows, [{ version: 1 }, { version: 5 }]);
      // opening again changes nothing
      await (await openStore(location)).close();
      assert.equal((await client.query('SELECT count(*)::int AS n FROM v1.schema_version')).rows[0].n, 2);
    } finally {
      await client.end();
    }
  });

  it('upgrades a version-3 store: its checkpoints (no crc) still load, its sweeps table is read as it was', async (t) => {
    const srv = need(t);
    if (!srv) return;
    const location = `${srv.url}?schema=v3`;
    const first = await openStore(location);
    await first.putRun(makeRun('old'));
    await first.saveCheckpoint('old', 4, checkpointBytes(4, 1000));
    await first.close();
    const old = {
      name: 'scan',
      purpose: 'batch-scan',
      hash: '0123456789abcdef',
      spec: { name: 'scan', axes: { batch: [8, 16] } },
      runIds: ['old'],
      createdAt: '2026-11-01T10:00:00.000Z',
    };
    const client = new pg.Client(srv.url);
    await client.connect();
    try {
      // what the previous version left: no crc column, and the sweeps table and row as sweep/manifest.ts made them
      await client.query('ALTER TABLE v3.checkpoints DROP COLUMN crc');
      await client.query('DROP TABLE v3.sweeps');
      await client.query(
        'CREATE TABLE IF NOT EXISTS "v3".sweeps (name text PRIMARY KEY, hash text NOT NULL, manifest jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())',
      );
      await client.query('INSERT INTO "v3".sweeps (name, hash, manifest) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [
        old.name,
        old.hash,
        JSON.stringify(old),
      ]);
      await client.query('DELETE FROM v3.schema_version');
      await client.query('INSERT INTO v3.schema_version (version) VALUES (3)');
      const store = await openStore(location);
      try {
        const ckpt = await store.loadCheckpoint('old');
        assert.equal(ckpt?.step, 4);
        assert.ok(Buffer.from(ckpt!.bytes).equals(Buffer.from(checkpointBytes(4, 1000))), 'a checkpoint without a crc loads as it was');
        assert.deepEqual(await store.getSweep('scan'), old);
        assert.deepEqual(await store.listSweeps(), [old]);
        const again = await store.putSweep({ ...old, hash: 'fedcba9876543210', createdAt: new Date().toISOString() });
        assert.deepEqual(again, { created: false, stored: old }, 'the recorded manifest wins');
        // a new save has a crc
        await store.saveCheckpoint('old', 6, checkpointBytes(6, 1000));
        const { rows: head } = await client.query("SELECT crc IS NOT NULL AS has FROM v3.checkpoints WHERE run_id = 'old'");
        assert.deepEqual(head, [{ has: true }]);
      } finally {
        await store.close();
      }
      const versions = await client.query('SELECT version FROM v3.schema_version ORDER BY version');
      assert.deepEqual(versions.rows, [{ version: 3 }, { version: 5 }]);
    } finally {
      await client.end();
    }
  });

  it('stores a checkpoint in chunks and replaces all of them at once', async (t) => {
    const srv = need(t);
    if (!srv) return;
    const location = `${srv.url}?schema=chunks`;
    const store = await openStore(location, { checkpointChunkBytes: 64 * 1024 });
    await store.putRun(makeRun('r1'));
    const big = checkpointBytes(7, 300_000);
    await store.saveCheckpoint('r1', 7, big);
    const back = await store.loadCheckpoint('r1');
    assert.equal(back?.step, 7);
    assert.ok(Buffer.from(back!.bytes).equals(Buffer.from(big)));
    await store.saveCheckpoint('r1', 9, checkpointBytes(9, 100_000));
    const client = new pg.Client(srv.url);
    await client.connect();
    try {
      const { rows: chunks } = await client.query("SELECT idx, length(bytes) AS n FROM chunks.checkpoint_chunks WHERE run_id = 'r1' ORDER BY idx");
      assert.deepEqual(
        chunks,
        [
          { idx: 0, n: 65536 },
          { idx: 1, n: 100_000 - 65536 },
        ],
        'the old chunks are gone',
      );
      // a store with another chunk size reads it the same
      const other = await openStore(location);
      assert.ok(Buffer.from((await other.loadCheckpoint('r1'))!.bytes).equals(Buffer.from(checkpointBytes(9, 100_000))));
      await other.close();
      // a damaged byte is caught by the header row's CRC-32 (the store's one integrity check of a checkpoint)
      await client.query("UPDATE chunks.checkpoint_chunks SET bytes = set_byte(bytes, 500, get_byte(bytes, 500) # 1) WHERE run_id = 'r1' AND idx = 1");
      await rejectsWith(store.loadCheckpoint('r1'), 'corrupt', /CRC-32 mismatch over its 100000 bytes/);
      // a lost chunk is reported, not returned as a short checkpoint
      await client.query("DELETE FROM chunks.checkpoint_chunks WHERE run_id = 'r1' AND idx = 1");
      await rejectsWith(store.loadCheckpoint('r1'), 'corrupt', /1 of 2 chunks/);
    } finally {
      await client.end();
      await store.close();
    }
    await rejectsWith(openStore(location, { checkpointChunkBytes: 0 }), 'bad-input', /checkpointChunkBytes/);
  });

  it('creates the tables once when many processes open a new schema at the same moment', async (t) => {
    const srv = need(t);
    if (!srv) return;
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(`${srv.url}?schema=race`)));
    await stores[0]!.putRun(makeRun('r1'));
    assert.equal((await stores[3]!.listRuns()).length, 1);
    await Promise.all(stores.map((x) => x.close()));
  });

  it('keeps schemas apart', async (t) => {
    const srv = need(t);
    if (!srv) return;
    const a = await openStore(`${srv.url}?schema=apart_a`);
    const b = await openStore(`${srv.url}?schema=apart_b`);
    await a.putRun(makeRun('r1'));
    await a.appendMetrics('r1', [makeRow(0)]);
    assert.deepEqual(await b.listRuns(), []);
    await rejectsWith(b.readMetrics('r1'), 'not-found');
    await Promise.all([a.close(), b.close()]);
  });

  it('names a missing database in the error, with what to do', async (t) => {
    const srv = need(t);
    if (!srv) return;
    const err = await rejectsWith(openStore(`postgresql://postgres@127.0.0.1:${srv.port}/no_such_db`), 'unreachable', /no_such_db/);
    assert.match(err.hint, /createdb/);
  });

  it('rejects a bad schema name', async () => {
    await rejectsWith(openStore('postgres://u@127.0.0.1:1/db?schema=Bad-Name'), 'bad-input', /schema name/);
  });
});

describe('PostgresStore when the server cannot be reached', () => {
  it('fails within seconds on a closed loopback port', async () => {
    const port = await freePort(); // nothing listens there now
    const started = Date.now();
    const err = await rejectsWith(openStore(`postgres://postgres:secret@127.0.0.1:${port}/db`), 'unreachable', /ECONNREFUSED|connect/);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    assert.match(err.hint, /start PostgreSQL/);
    assert.doesNotMatch(err.message, /secret/, 'the password is not printed');
  });

  it('fails after the connect timeout, not never, when the server accepts and stays silent', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // accepts, never answers the startup message
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const started = Date.now();
      const err = await rejectsWith(openStore(`postgres://postgres@127.0.0.1:${port}/db`, { connectTimeoutMs: 700 }), 'unreachable', /timeout/);
      const took = Date.now() - started;
      assert.ok(took >= 600 && took < 5000, `took ${took} ms with a 700 ms timeout`);
      assert.match(err.hint, /no answer within 700 ms/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
