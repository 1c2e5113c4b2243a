// SCALING_LAB_REQUIRE (require.ts): a required component that is missing FAILS the tests that need it, naming the
// component and the Debian package; without the switch they skip with the reason. The end-to-end check runs the real
// services smoke test (test/store/services.test.ts) in a child node:test with SCALING_LAB_NO_SERVICES set, so
// PostgreSQL and Redis count as missing whether or not they are installed here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { FIX, missing, missingMessage, needs, requiredComponents, skipOrFail } from './require.ts';

const servicesTest = new URL('../store/services.test.ts', import.meta.url).pathname;

function runChild(env: Record<string, string | undefined>): { status: number | null; out: string } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, SCALING_LAB_NO_SERVICES: '1' };
  delete childEnv.SCALING_LAB_REQUIRE;
  delete childEnv.NODE_TEST_CONTEXT; // else the child thinks it is a nested run and runs nothing
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', servicesTest], {
    encoding: 'utf8',
    env: childEnv,
    timeout: 120_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const count = (out: string, what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(out)?.[1] ?? NaN);

test('SCALING_LAB_REQUIRE=postgres with PostgreSQL hidden: the PostgreSQL test fails naming postgres and the Debian package; Redis still skips', () => {
  const { status, out } = runChild({ SCALING_LAB_REQUIRE: 'postgres' });
  assert.notEqual(status, 0, out);
  assert.match(out, /postgres is required \(SCALING_LAB_REQUIRE=postgres\) but missing: SCALING_LAB_NO_SERVICES is set/);
  assert.match(out, /install the Debian package postgresql/);
  assert.equal(count(out, 'fail'), 1, out);
  assert.equal(count(out, 'skipped'), 1, out);
  assert.doesNotMatch(out, /redis is required/);
});

test('SCALING_LAB_REQUIRE=all: both service tests fail, each naming its package', () => {
  const { status, out } = runChild({ SCALING_LAB_REQUIRE: 'all' });
  assert.notEqual(status, 0, out);
  assert.match(out, /redis is required .*install the Debian package redis-server/);
  assert.match(out, /postgres is required .*install the Debian package postgresql/);
  assert.equal(count(out, 'fail'), 2, out);
  assert.equal(count(out, 'skipped'), 0, out);
});

test('without the switch the same tests skip, with the reason, and the run passes', () => {
  const { status, out } = runChild({ SCALING_LAB_REQUIRE: undefined });
  assert.equal(status, 0, out);
  assert.equal(count(out, 'skipped'), 2, out);
  assert.equal(count(out, 'fail'), 0, out);
  assert.match(out, /# SKIP SCALING_LAB_NO_SERVICES is set: not starting PostgreSQL \(install the Debian package postgresql/);
});

test('requiredComponents parses the list, `all`, blanks and case; an unknown name is an error', () => {
  assert.deepEqual([...requiredComponents('')], []);
  assert.deepEqual([...requiredComponents(' Postgres , redis,')], ['postgres', 'redis']);
  assert.deepEqual([...requiredComponents('all')].sort(), ['chromium', 'native', 'postgres', 'python', 'redis', 'torch']);
  assert.throws(() => requiredComponents('postgres,chrome'), /unknown component 'chrome'/);
});

test('missing / needs / skipOrFail: skip with the reason when not required, throw naming the component and fix when required', () => {
  const skipped: (string | undefined)[] = [];
  const t = { skip: (m?: string) => void skipped.push(m) };
  const saved = process.env.SCALING_LAB_REQUIRE;
  try {
    process.env.SCALING_LAB_REQUIRE = 'chromium';
    assert.equal(needs(t, 'python', 'no scipy'), false);
    assert.equal(needs(t, 'chromium', undefined), true);
    assert.throws(
      () => missing(t, 'chromium', '/usr/bin/chromium is absent'),
      (e: Error) => e.message === missingMessage('chromium', '/usr/bin/chromium is absent') && e.message.includes(FIX.chromium),
    );
    assert.throws(() => needs(t, 'chromium', 'gone'), /chromium is required/);
    skipOrFail(t, { skip: 'no redis', component: 'redis' });
    skipOrFail(t, { skip: 'setup did not run' });
    process.env.SCALING_LAB_REQUIRE = 'redis';
    assert.throws(() => skipOrFail(t, { skip: 'no redis', component: 'redis' }), /redis is required .*redis-server/);
  } finally {
    if (saved === undefined) delete process.env.SCALING_LAB_REQUIRE;
    else process.env.SCALING_LAB_REQUIRE = saved;
  }
  assert.deepEqual(skipped, [`no scipy (${FIX.python})`, `no redis (${FIX.redis})`, 'setup did not run']);
});
