// The sweep, status and worker commands as a user runs them: --dry-run on every example prints the plan and trains
// nothing; a tiny sweep runs, shows in status and is skipped when re-run; bad input fails within seconds with a hint.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSweep } from '../../src/sweep/executor.ts';
import { createLocalExecutor } from '../../src/sweep/local.ts';
import { connectQueue, QueueError } from '../../src/sweep/queue.ts';
import { freePort } from '../helpers/services.ts';
import { TINY_BASE, bin, exec, tinySpec, tmp } from './fixtures.ts';

const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: process.env, timeout: 120_000 });
const example = (f: string) => new URL(`../../examples/${f}`, import.meta.url).pathname;

for (const f of ['batch-scan-small.yaml', 'size-data-small.yaml', 'batch-scan-paper.yaml', 'size-data-paper.yaml']) {
  test(`--dry-run ${f}: the plan prints, nothing is trained or stored, not even probe steps`, () => {
    const store = join(tmp, `dry-${f}`);
    // a probe asked for is not run either: a dry run trains nothing, so its estimate is unknown
    const probe = f.includes('small') ? ['--probe-steps', '1'] : [];
    const r = cli(['sweep', example(f), '--dry-run', '--store', store, '--workers', '2', ...probe]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^sweep [\w-]+ \((batch-scan|size-data)\): \d+ runs/m);
    assert.match(r.stdout, /total: [\d.]+[kMGT]? tokens, [\d.]+[GTPE] FLOPs/);
    assert.match(r.stdout, /^estimated time: not probed \(--dry-run trains nothing\)/m);
    assert.doesNotMatch(r.stdout, /^probe: /m);
    if (f.startsWith('batch-scan')) {
      // a scan's plan shows, per model and batch size, the LRs of its envelope and its seeds
      assert.match(r.stdout, /LRs and seeds per model and batch size/);
      assert.match(r.stdout, /batch +\d+: 3 LRs [\d.e-]+ [\d.e-]+ [\d.e-]+ +x +2 seeds 0 1/);
      assert.match(r.stdout, / seed +steps +evals /);
    }
    assert.match(r.stdout, /dry run: nothing trained/);
    assert.doesNotMatch(r.stdout, /running on/);
    assert.equal(existsSync(store), false, 'a dry run created the store');
  });
}

test('sweep runs a tiny spec, status shows it, a re-run skips it, a changed spec is refused', () => {
  const store = join(tmp, 'cli-store');
  const spec = join(tmp, 'tiny.json');
  writeFileSync(spec, JSON.stringify({ name: 'cli-tiny', base: TINY_BASE, axes: { seed: [0, 1] } }));
  const cache = join(tmp, 'cli-cache');
  const first = cli(['sweep', spec, '--store', store, '--workers', '2', '--checkpoint-every', '5', '--probe-steps', '0', '--cache-dir', cache, '--quiet']);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /sweep cli-tiny: done: 2 done, 0 diverged, 0 failed, 0 unfinished \(0 were finished before\)/);
  // the worker processes read the corpus through the cache --cache-dir names
  assert.ok(existsSync(cache) && readdirSync(cache).length > 0, `nothing cached in ${cache}`);

  const status = cli(['status', 'cli-tiny', '--store', store]);
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /2\/2 finished/);
  assert.equal(status.stdout.match(/ done +20\/20 +\d\.\d{4} +\d\.\d{4}/g)?.length, 2, status.stdout);
  const all = cli(['status', '--store', store, '--json']);
  assert.deepEqual(
    JSON.parse(all.stdout).map((s: { name: string; done: number }) => [s.name, s.done]),
    [['cli-tiny', 2]],
  );

  const again = cli(['sweep', spec, '--store', store, '--probe-steps', '0', '--quiet']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /\s+done\n.*\s+done\n/);
  assert.match(again.stdout, /\(2 were finished before\)/);

  writeFileSync(spec, JSON.stringify({ name: 'cli-tiny', base: TINY_BASE, axes: { seed: [0, 1, 2] } }));
  const changed = cli(['sweep', spec, '--store', store, '--probe-steps', '0', '--quiet']);
  assert.equal(changed.status, 2, changed.stderr);
  assert.match(changed.stderr, /error: sweep 'cli-tiny' .* different spec .*refused/);
  assert.match(changed.stderr, /hint: a changed spec is a new sweep: give it a new name/);
  assert.doesNotMatch(changed.stdout, /running on/);

  const unknown = cli(['status', 'nope', '--store', store]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no sweep 'nope'.*\nhint: sweeps there: cli-tiny/);
});

test('bad specs: an unknown axis and an empty grid are errors naming the field (exit 2)', () => {
  const spec = join(tmp, 'bad.yaml');
  writeFileSync(spec, 'name: bad\nbase: { depth: 1, steps: 5 }\naxes:\n  batchsize: [8, 16]\n');
  const r = cli(['sweep', spec, '--dry-run']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /axes\.batchsize: unknown axis 'batchsize'/);
  writeFileSync(spec, 'name: bad\nbase: { depth: 1, steps: 5 }\naxes:\n  batch: []\n');
  const e = cli(['sweep', spec, '--dry-run']);
  assert.equal(e.status, 2, e.stderr);
  assert.match(e.stderr, /axes\.batch: no values, so the grid is empty/);
  const missing = cli(['sweep', join(tmp, 'no-such.yaml'), '--dry-run']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot read sweep spec/);
});

test('an unreachable store or queue is a clear error within seconds, not a hang', async () => {
  const spec = join(tmp, 'reach.json');
  writeFileSync(spec, JSON.stringify({ name: 'reach', base: TINY_BASE }));
  const port = await freePort();
  let t0 = Date.now();
  const store = cli(['sweep', spec, '--store', `postgres://postgres@127.0.0.1:${port}/db`, '--probe-steps', '0']);
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
  assert.equal(store.status, 2, store.stderr);
  assert.match(store.stderr, /error: cannot reach the Postgres store/);
  assert.match(store.stderr, /hint: /);
  // runSweep itself (the demo calls it directly): recording the sweep is its first contact with the store
  t0 = Date.now();
  await assert.rejects(
    runSweep(tinySpec('reach'), { executor: createLocalExecutor(), exec: exec(`postgres://postgres@127.0.0.1:${port}/db`) }),
    (e: Error & { hint?: string }) => /cannot reach the Postgres store/.test(e.message) && Boolean(e.hint),
  );
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);

  t0 = Date.now();
  const worker = cli(['worker', '--queue', `redis://127.0.0.1:${port}`, '--store', join(tmp, 'w')]);
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
  assert.equal(worker.status, 2, worker.stderr);
  assert.match(worker.stderr, /error: cannot reach the queue redis:\/\/127\.0\.0\.1:\d+/);
  assert.match(worker.stderr, /hint: start Redis/);

  // a host that never answers: the connect timeout (3 s) ends it
  t0 = Date.now();
  await assert.rejects(connectQueue('redis://10.255.255.1:6379', 2000), QueueError);
  assert.ok(Date.now() - t0 < 6000, `took ${Date.now() - t0} ms`);

  const noShared = cli(['sweep', spec, '--queue', `redis://127.0.0.1:${port}`, '--store', join(tmp, 'dir'), '--probe-steps', '0']);
  assert.equal(noShared.status, 2);
  assert.match(noShared.stderr, /--queue needs a shared store.*\nhint: add --store postgres:/);
  // how runs execute is each worker's business with --queue: flags that would be ignored are refused, before any contact
  for (const flags of [
    ['--workers', '2'],
    ['--threads', '4'],
    ['--backend', 'ts'],
    ['--workers', '2', '--backend', 'auto'],
  ]) {
    const r = cli([
      'sweep',
      spec,
      '--queue',
      `redis://127.0.0.1:${port}`,
      '--store',
      `postgres://postgres@127.0.0.1:${port}/db`,
      '--probe-steps',
      '0',
      ...flags,
    ]);
    assert.equal(r.status, 2, r.stderr);
    const named = flags.filter((f) => f.startsWith('--')).join(', ');
    assert.match(r.stderr, new RegExp(`error: ${named} cannot be used with --queue: the workers run the jobs`), r.stderr);
    assert.match(r.stderr, /hint: give them to each worker instead: scaling-lab worker .*--workers N --threads T --backend B/);
  }
  const badUrl = cli(['worker', '--queue', 'http://x', '--store', join(tmp, 'w')]);
  assert.equal(badUrl.status, 2);
  assert.match(badUrl.stderr, /bad queue URL/);
});
