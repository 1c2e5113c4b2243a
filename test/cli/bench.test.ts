// `scaling-lab bench`: tiny runs of each benchmark print the JSON fields the issue asks for; bad flags fail.
// (Speed itself is measured by hand and logged in docs/LOG.md, not asserted here.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { nativeStatus } from '../../src/engine/native.ts';
import { missing } from '../helpers/require.ts';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;
const TINY = ['--depth', '1', '--context', '8', '--vocab', '16', '--batch', '2'];
const status = nativeStatus();

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [bin, 'bench', ...args], { encoding: 'utf8' });
}

test('bench train --json (ts backend) reports tokens/s, step time, GFLOP/s, backend, threads, params', () => {
  const r = run(['train', ...TINY, '--steps', '2', '--warmup', '0', '--backend', 'ts', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  for (const key of ['tokensPerSecond', 'stepMs', 'gflops', 'threads', 'params']) assert.equal(typeof o[key], 'number', key);
  assert.equal(o.backend, 'ts');
  assert.equal(o.tokensPerStep, 16);
  assert.ok(o.tokensPerSecond > 0);
});

test('bench train and gemm on the native backend', (ctx) => {
  if (!status.available) return missing(ctx, 'native', `native addon not built: ${status.reason}`);
  const t = run(['train', ...TINY, '--steps', '1', '--warmup', '0', '--threads', '2', '--json']);
  assert.equal(t.status, 0, t.stderr);
  const o = JSON.parse(t.stdout);
  assert.equal(o.backend, 'native');
  assert.equal(o.threads, 2);
  const g = run(['gemm', ...TINY, '--reps', '1', '--json']);
  assert.equal(g.status, 0, g.stderr);
  const j = JSON.parse(g.stdout);
  assert.equal(j.shapes.length, 15); // 5 layers x 3 products
  assert.ok(j.overall > 0);
});

test('bench rejects unknown flags and bad values', () => {
  assert.notEqual(run(['train', '--no-such-flag']).status, 0);
  const bad = run(['train', '--depth', '0']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--depth must be an integer >= 1, got "0"/);
  assert.notEqual(run(['train', '--backend', 'gpu']).status, 0);
});
