// The CLI starts, lists its commands and rejects unknown ones with a non-zero exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;

test('--help lists the commands', () => {
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const cmd of ['bench', 'corpora', 'fit', 'bcrit']) assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`));
});

test('an unknown command exits non-zero and says so', () => {
  const r = spawnSync(process.execPath, [bin, 'no-such-command'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown command 'no-such-command'/);
});

test('demo rejects a non-integer --seed before training anything', () => {
  const r = spawnSync(process.execPath, [bin, 'demo', '--seed', 'abc'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--seed must be an integer >= 0, got "abc"/);
});
