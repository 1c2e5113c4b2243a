// Which errors are outages (errors.ts isTransient), and the retry loop that waits them out: backoff within a window,
// one outage line however many calls waited, a non-transient error thrown at once. No services needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutageTracker, formatOutage, isFinalOutage, isTransient, withRetry, type Outage } from '../../src/store/errors.ts';
import { StoreError } from '../../src/store/store.ts';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

test('isTransient: connection loss, restarts, timeouts and Redis reconnects are outages; answers are not', () => {
  for (const err of [
    coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
    coded('ECONNRESET', 'read ECONNRESET'),
    coded('57P01', 'terminating connection due to administrator command'),
    coded('57P03', 'the database system is starting up'),
    coded('53300', 'sorry, too many clients already'),
    coded('08006', 'connection failure'),
    coded('57014', 'canceling statement due to statement timeout'),
    new Error('Connection terminated unexpectedly'),
    new Error('Query read timeout'),
    new Error('timeout exceeded when trying to connect'),
    Object.assign(new Error('Reached the max retries per request limit (which is 3). Refer to "maxRetriesPerRequest" option for details.'), {
      name: 'MaxRetriesPerRequestError',
    }),
    new Error('Connection is closed.'),
    new Error('Command timed out'),
    new Error('LOADING Redis is loading the dataset in memory'),
    new StoreError('unreachable', 'cannot reach the Postgres store', 'start it'),
    new Error('wrapped', { cause: coded('ECONNREFUSED') }),
    new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], ''),
  ]) {
    assert.equal(isTransient(err), true, `${(err as Error).message} should be an outage`);
  }
  for (const err of [
    coded('23505', 'duplicate key value violates unique constraint'),
    coded('42P01', 'relation "runs" does not exist'),
    coded('28P01', 'password authentication failed'),
    new StoreError('fenced', 'run x was taken over', 'stop'),
    new StoreError('held', 'run x is held by w', 'wait'),
    new StoreError('not-found', 'no run x', 'create it'),
    new Error('something else'),
    undefined,
    'ECONNREFUSED',
  ]) {
    assert.equal(isTransient(err), false, `${String((err as Error)?.message ?? err)} should not be an outage`);
  }
});

test('withRetry: waits an outage out with backoff, reports it as one line, and returns the result', async () => {
  const outages: Outage[] = [];
  const tracker = new OutageTracker('store postgres://db/x', (o) => outages.push(o));
  let calls = 0;
  const t0 = Date.now();
  const result = await withRetry(
    async () => {
      calls++;
      if (Date.now() - t0 < 300) throw coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432');
      return 42;
    },
    { windowMs: 5000, baseDelayMs: 10, maxDelayMs: 80, tracker },
  );
  assert.equal(result, 42);
  assert.ok(calls >= 3 && calls < 40, `${calls} calls`);
  assert.equal(outages.length, 1);
  assert.equal(outages[0]!.recovered, true);
  assert.ok(outages[0]!.until - outages[0]!.since >= 250);
  assert.match(
    formatOutage(outages[0]!),
    /^store postgres:\/\/db\/x: unreachable from \d\d:\d\d:\d\d to \d\d:\d\d:\d\d \(0\.\d s: connect ECONNREFUSED 127\.0\.0\.1:5432\); carried on$/,
  );
});

test('withRetry: a non-transient error is thrown at once; an outage past the window is thrown, marked final, and reported', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw coded('23505', 'duplicate');
      },
      { windowMs: 5000 },
    ),
    /duplicate/,
  );
  assert.equal(calls, 1);

  const outages: Outage[] = [];
  const tracker = new OutageTracker('queue redis://q', (o) => outages.push(o));
  const t0 = Date.now();
  const err = await withRetry(
    async () => {
      throw coded('ECONNREFUSED', 'refused');
    },
    { windowMs: 200, baseDelayMs: 10, tracker },
  ).catch((e: unknown) => e);
  assert.ok(Date.now() - t0 >= 190 && Date.now() - t0 < 2000);
  assert.equal(isFinalOutage(err), true);
  assert.equal(isTransient(err), false, 'an error that outlasted its window is not waited out again');
  assert.deepEqual(
    outages.map((o) => o.recovered),
    [false],
  );
  assert.match(formatOutage(outages[0]!), /gave up \(longer than the outage window\)/);
});

test('OutageTracker: calls that fail together make one outage, closed by the first success', async () => {
  const outages: Outage[] = [];
  const tracker = new OutageTracker('store s', (o) => outages.push(o));
  let down = true;
  const call = () =>
    withRetry(
      async () => {
        if (down) throw new Error('Connection terminated unexpectedly');
        return 1;
      },
      { windowMs: 5000, baseDelayMs: 5, maxDelayMs: 20, tracker },
    );
  const all = Promise.all([call(), call(), call()]);
  await new Promise((r) => setTimeout(r, 100));
  down = false;
  assert.deepEqual(await all, [1, 1, 1]);
  assert.equal(outages.length, 1);
});
