// Smoke tests of test/helpers/services.ts: the throwaway Redis (for the sweep queue tests) and PostgreSQL servers
// start on loopback, answer, and are gone after stop(). The store's own tests are in the other files here.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { isSkip, startPostgres, startRedis } from '../helpers/services.ts';
import { skipOrFail } from '../helpers/require.ts';

it('startRedis gives a private Redis on a free loopback port that ioredis can use', async (t) => {
  const redis = await startRedis();
  if (isSkip(redis)) return skipOrFail(t, redis);
  assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  const client = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  client.on('error', () => {}); // the failed connect after stop() below is asserted through the promise
  try {
    await client.connect();
    await client.set('scaling-lab:smoke', 'ok');
    assert.equal(await client.get('scaling-lab:smoke'), 'ok');
    assert.equal(await client.config('GET', 'save').then((r) => (r as string[])[1]), '', 'no snapshots to disk');
  } finally {
    client.disconnect();
    await redis.stop();
  }
  await assert.rejects(connectTcp(redis.port), /ECONNREFUSED/, 'stopped means nothing listens any more');
});

function connectTcp(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

it('startPostgres gives a private PostgreSQL with a database, gone after stop()', async (t) => {
  const server = await startPostgres();
  if (isSkip(server)) return skipOrFail(t, server);
  assert.match(server.url, /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/scaling_lab_test$/);
  const client = new pg.Client(server.url);
  await client.connect();
  const { rows } = await client.query('SELECT current_database() AS db, inet_server_addr()::text AS addr');
  assert.deepEqual(rows, [{ db: 'scaling_lab_test', addr: '127.0.0.1/32' }]);
  await client.end();
  const other = await server.createDatabase('second_db');
  const second = new pg.Client(other);
  await second.connect();
  await second.end();
  await server.stop();
  const gone = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 2000 });
  await assert.rejects(gone.connect(), /ECONNREFUSED/);
});
