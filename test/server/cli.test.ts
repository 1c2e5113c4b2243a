// `scaling-lab serve` as a command: it prints the dashboard's URL, serves it, and stops cleanly on SIGINT; a public
// bind without a token exits 2 with an error and a hint, before anything listens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import { fakeRow, fakeRun } from './helpers.ts';

const BIN = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;

test('serve prints its URL, answers on it, and stops on SIGINT; --host 0.0.0.0 without a token exits 2', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openStore(dir);
  await store.putRun(fakeRun('cli-a'));
  await store.appendMetrics('cli-a', [fakeRow(1)]);
  await store.close();

  const refused = spawnSync(process.execPath, [BIN, 'serve', dir, '--host', '0.0.0.0', '--port', '0'], {
    encoding: 'utf8',
    env: { ...process.env, SCALING_LAB_TOKEN: '' },
  });
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /^error: refusing to serve on 0\.0\.0\.0 without a token/m);
  assert.match(refused.stderr, /^hint: pass --token T/m);

  const child = spawn(process.execPath, [BIN, 'serve', dir, '--port', '0', '--fit-every', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
      if (m && out.includes('Ctrl-C stops')) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  assert.match(out, /watching .* \(1 run\); read-only; Ctrl-C stops/);
  const runs = (await (await fetch(`${url}api/runs`)).json()) as { runs: { id: string; step: number }[] };
  assert.deepEqual(
    runs.runs.map((r) => [r.id, r.step]),
    [['cli-a', 1]],
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  assert.equal(await exited, 0);
});
