// examples/external/train.py on its own (issue 17 item 4): the metrics lines it writes (every field, every step, test loss at
// the eval steps, a falling loss), its errors, and its resume after SIGKILL and SIGTERM, compared exactly with an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needs } from '../helpers/require.ts';

const SCRIPT = new URL('../../examples/external/train.py', import.meta.url).pathname;

function python(): string | null {
  for (const exe of ['/usr/bin/python3', 'python3']) {
    if (exe.startsWith('/') && !existsSync(exe)) continue;
    const r = spawnSync(exe, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return exe;
  }
  return null;
}

const py = python();
const skip = py === null ? 'python3 with torch not found' : undefined;

// The tiny run of every test here: B = 8 as 2 micro-batches of 4, so each step has two micro-batch gradient norms.
const S = 40;
const EVERY = 10; // --eval-interval and --checkpoint-every
const RUN = ['--depth', '1', '--context', '32', '--batch', '8', '--micro-batch', '4', '--lr', '3e-3', '--warmup-steps', '5', '--seed', '7'];
const ARGS = [...RUN, '--steps', String(S), '--eval-interval', String(EVERY), '--checkpoint-every', String(EVERY), '--eval-windows', '16', '--threads', '1'];

interface Row {
  step: number;
  tokens: number;
  train_loss: number;
  lr: number;
  grad_norm: number;
  micro_grad_norms: number[];
  micro_batch: number;
  wall_ms: number;
  test_loss?: number;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run train.py with `args`. With `stopAt`, poll the metrics file and send `stopSignal` once it holds `stopAt` lines
 * (the trainer is then mid-way: lines are written as steps finish).
 */
function train(args: string[], stop?: { metrics: string; atLines: number; signal: NodeJS.Signals }): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(py!, [SCRIPT, ...args], { env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timer: NodeJS.Timeout | undefined;
    if (stop) {
      timer = setInterval(() => {
        if (!existsSync(stop.metrics)) return;
        if (readFileSync(stop.metrics, 'utf8').split('\n').length - 1 >= stop.atLines) {
          clearInterval(timer);
          child.kill(stop.signal);
        }
      }, 5);
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function rows(file: string): Row[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'), `${file} ends with a whole line`);
  return text
    .trimEnd()
    .split('\n')
    .map((line, i) => {
      try {
        return JSON.parse(line) as Row;
      } catch (e) {
        throw new Error(`${file} line ${i + 1} is not JSON: ${line}`, { cause: e });
      }
    });
}

/** A row without its wall time (the one field that differs between two runs of the same steps). */
function numbers(r: Row): Omit<Row, 'wall_ms'> {
  const { wall_ms: _wall, ...rest } = r;
  return rest;
}

let dir = '';
let reference: Row[] = []; // the uninterrupted run, step by step

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'train-py-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('an uninterrupted run writes one whole protocol line per step, test loss at the eval steps, and its loss falls', { timeout: 120_000 }, async (t) => {
  if (!needs(t, 'torch', skip)) return;
  const out = join(dir, 'full');
  const started = performance.now();
  const r = await train([...ARGS, '--out', out]);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '', 'metrics go to the file, progress to stderr: stdout stays empty');
  assert.match(r.stderr, new RegExp(`step ${S}/${S}: train [\\d.]+, test [\\d.]+`));
  t.diagnostic(`${S} steps (depth 1, B 8 = 2 x 4, T 32) in ${seconds.toFixed(2)} s wall, torch import and data included`);

  reference = rows(join(out, 'metrics.jsonl'));
  assert.deepEqual(
    reference.map((x) => x.step),
    Array.from({ length: S }, (_, i) => i + 1),
  );
  for (const x of reference) {
    assert.equal(x.tokens, x.step * 8 * 32);
    assert.equal(x.micro_batch, 4);
    assert.equal(x.micro_grad_norms.length, 2);
    for (const v of [x.train_loss, x.lr, x.grad_norm, x.wall_ms, ...x.micro_grad_norms]) assert.ok(Number.isFinite(v) && v > 0, `step ${x.step}: ${v}`);
    // the accumulated gradient is the mean of the micro-batch gradients, taken before clipping: |mean| <= mean of |g_i|
    const meanNorm = (x.micro_grad_norms[0] + x.micro_grad_norms[1]) / 2;
    assert.ok(x.grad_norm <= meanNorm * (1 + 1e-9), `step ${x.step}: grad_norm ${x.grad_norm} > mean micro norm ${meanNorm}`);
    assert.equal(x.lr, x.step <= 5 ? (3e-3 * x.step) / 5 : 3e-3); // warm-up then constant
    assert.equal('test_loss' in x, x.step % EVERY === 0, `step ${x.step}: test_loss only at the eval steps`);
  }
  assert.ok(
    reference.some((x) => x.grad_norm > 1),
    'some step is clipped (so grad_norm is the norm before clipping)',
  );
  for (let i = 1; i < S; i++) assert.ok(reference[i].wall_ms > reference[i - 1].wall_ms, 'wall_ms is the cumulative training time');
  const tests = reference.filter((x) => x.test_loss !== undefined).map((x) => x.test_loss!);
  assert.ok(tests[0] < Math.log(256), `first test loss ${tests[0]} below the uniform ln 256`);
  assert.ok(tests[tests.length - 1] < tests[0] - 0.5, `test loss falls: ${tests.join(', ')}`);
  const mean = (xs: Row[]) => xs.reduce((s, x) => s + x.train_loss, 0) / xs.length;
  assert.ok(mean(reference.slice(-10)) < mean(reference.slice(0, 10)) - 1, 'train loss falls');
  assert.ok(existsSync(join(out, 'checkpoint.pt')), 'the final step is checkpointed');
});

/*
 * Resume is exact: with one thread the CPU kernels are deterministic, the checkpoint restores the weights, AdamW's
 * moments and step count, and the data generator's state bit for bit, and JSON writes floats as repr (round-trips
 * exactly). So every field but wall_ms of every step must EQUAL the uninterrupted run's (deepEqual, no tolerance),
 * including the steps the killed attempt had already written and the resumed one repeats.
 */
for (const [signal, code] of [
  ['SIGKILL', null],
  ['SIGTERM', 143],
] as const) {
  test(
    `killed by ${signal} mid-way, --resume continues from the checkpoint's step + 1 and matches the uninterrupted run exactly`,
    { timeout: 120_000 },
    async (t) => {
      if (!needs(t, 'torch', skip)) return;
      assert.equal(reference.length, S, 'the uninterrupted run ran first');
      const out = join(dir, signal);
      const metrics = join(out, 'metrics.jsonl');
      const first = await train([...ARGS, '--out', out], { metrics, atLines: 15, signal });
      assert.equal(first.signal, code === null ? 'SIGKILL' : null, 'killed mid-way, not finished');
      assert.equal(first.code, code, first.stderr);
      const killed = rows(metrics);
      const last = killed[killed.length - 1].step;
      assert.ok(last >= 15 && last < S, `killed at step ${last}`);

      if (signal === 'SIGKILL') appendFileSync(metrics, '{"step": 99, "train_lo'); // as if the kill had cut a line short

      const second = await train([...ARGS, '--out', out, '--resume']);
      assert.equal(second.code, 0, second.stderr);
      if (signal === 'SIGKILL') assert.match(second.stderr, /dropped a partial last line \(22 bytes\)/);
      const resumedAt = Number(/resumed from .* at step (\d+)/.exec(second.stderr)?.[1]);
      if (signal === 'SIGTERM') {
        // SIGTERM: the step in progress finishes, is written and checkpointed, then exit 143
        assert.match(first.stderr, new RegExp(`SIGTERM: checkpointed step ${last} `));
        assert.equal(resumedAt, last);
      } else {
        // SIGKILL: the last periodic checkpoint (or the one before, if the kill came while it was being written)
        assert.equal(resumedAt % EVERY, 0, `resumed at ${resumedAt}`);
        assert.ok(resumedAt <= last && last - resumedAt <= EVERY, `resumed at ${resumedAt}, killed after ${last}`);
      }
      const all = rows(metrics);
      assert.deepEqual(all.slice(0, killed.length), killed, 'the resumed run appends; it does not rewrite the earlier lines');
      assert.deepEqual(
        all.slice(killed.length).map((x) => x.step),
        Array.from({ length: S - resumedAt }, (_, i) => resumedAt + 1 + i),
        'the resumed run writes steps checkpoint + 1 .. S',
      );
      for (const x of all) assert.deepEqual(numbers(x), numbers(reference[x.step - 1]), `step ${x.step} equals the uninterrupted run's`);
      const wallAtCheckpoint = killed.find((x) => x.step === resumedAt)!.wall_ms;
      assert.ok(all[killed.length].wall_ms > wallAtCheckpoint, 'wall_ms continues from the checkpoint');
    },
  );
}

test('resuming a checkpoint of another run: exit 2 naming what differs, with a hint, and no metrics written', { timeout: 120_000 }, async (t) => {
  if (!needs(t, 'torch', skip)) return;
  // the uninterrupted run's checkpoint, resumed with another learning rate
  const other = await train([...RUN, '--lr', '1e-3', '--steps', String(S), '--out', join(dir, 'full'), '--resume', '--metrics', '-']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /checkpoint\.pt was written by a different run \(lr 0\.003 != 0\.001\)\nhint: resume with the flags/);
  assert.equal(other.stdout, '');
});
