// Resuming in-process through trainRun: the checkpoint records its kernels and a resume on other ones says so
// (not bit-identical), and a checkpoint that is not this run's, or is incomplete, is refused with a CheckpointError.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { prepareDataset, type Dataset } from '../../src/data/index.ts';
import { nativeStatus } from '../../src/engine/native.ts';
import { missing } from '../helpers/require.ts';
import { openStore, StoreError, type Store } from '../../src/store/store.ts';
import { evalSteps, parseRunConfig, runId, type ExecOptions, type RunConfig } from '../../src/train/config.ts';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../src/train/checkpoint.ts';
import { TRAINER_VERSION, trainRun, type RunOutcome } from '../../src/train/run.ts';
import { TINY_CORPUS, TINY_RUN } from '../helpers/tiny-run.ts';

let dir: string;
let dataset: Dataset;
const stores: Store[] = [];

// A tiny byte-level model on one real book: 8 steps, a checkpoint every 2.
const corpus = TINY_CORPUS;
const config: RunConfig = TINY_RUN;
const id = runId(config);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scaling-lab-resume-'));
  dataset = await prepareDataset({ corpus, tokenizer: 'byte', testFraction: 0.5, cacheDir: null });
});

after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function freshStore(name: string): Promise<Store> {
  const store = await openStore(join(dir, name));
  stores.push(store);
  return store;
}

// ExecOptions may carry CLI-only fields; trainRun reads these
const exec = (store: string, backend: ExecOptions['backend']) => ({ backend, threads: 1, store, checkpointEvery: 2 }) as ExecOptions;

/** Trains until `stopAfter` steps are done (then interrupts), or to the end; collects the notices. */
async function train(store: Store, backend: ExecOptions['backend'], stopAfter?: number): Promise<{ outcome: RunOutcome; notices: string[] }> {
  const notices: string[] = [];
  const abort = new AbortController();
  const outcome = await trainRun(config, exec(store.location, backend), store, {
    dataset,
    signal: abort.signal,
    onNotice: (m) => notices.push(m),
    onStep: ({ step }) => {
      if (step === stopAfter) abort.abort();
    },
  });
  return { outcome, notices };
}

const kernelNotice = (notices: string[]) => notices.filter((m) => /bit-identical/.test(m));

test('a resume on other kernels (native -> ts) says the resumed steps are not bit-identical; the same kernels say nothing', async (t) => {
  const native = nativeStatus();
  if (!native.available) return missing(t, 'native', `the native addon is not available here (${native.reason})`);

  const same = await freshStore('same');
  assert.equal((await train(same, 'native', 3)).outcome.status, 'interrupted');
  const ckpt = decodeCheckpoint((await same.loadCheckpoint(id))!.bytes, 'mem');
  assert.deepEqual(ckpt.state.kernels, { backend: 'native', threads: 1, isa: native.isa }, 'the checkpoint records its kernels');
  const resumedSame = await train(same, 'native');
  assert.equal(resumedSame.outcome.status, 'done');
  assert.deepEqual(kernelNotice(resumedSame.notices), [], resumedSame.notices.join('\n'));

  const moved = await freshStore('moved');
  assert.equal((await train(moved, 'native', 3)).outcome.status, 'interrupted');
  const resumedMoved = await train(moved, 'ts');
  assert.equal(resumedMoved.outcome.status, 'done', 'a move is allowed, not refused');
  const [notice, ...rest] = kernelNotice(resumedMoved.notices);
  assert.equal(rest.length, 0);
  assert.match(
    notice ?? '',
    new RegExp(`${id}: the checkpoint was written by native \\(${native.isa}\\) kernels and this resume uses ts: the resumed steps will not be bit-identical`),
  );
});

test('a checkpoint of another run, at another step, or missing a tensor is refused with a CheckpointError and a hint', async () => {
  const store = await freshStore('refused');
  assert.equal((await train(store, 'ts', 2)).outcome.status, 'interrupted');
  const saved = await store.loadCheckpoint(id);
  const good = decodeCheckpoint(saved!.bytes, 'mem');
  const refused = async (bytes: Uint8Array, step: number, message: RegExp) => {
    await store.saveCheckpoint(id, step, bytes);
    await assert.rejects(train(store, 'ts'), (err: unknown) => {
      assert.ok(err instanceof CheckpointError, `expected a CheckpointError, got ${String(err)}`);
      assert.match(err.message, message);
      assert.match(err.message, new RegExp(`checkpoint of run ${id} in the file store`));
      assert.match(err.hint, /restart run .* from step 0/);
      return true;
    });
  };
  await refused(encodeCheckpoint({ ...good, runId: 'd9-other-run' }), good.step, /belongs to run 'd9-other-run', not '/);
  await refused(encodeCheckpoint(good), good.step + 1, /says step 2, but the store filed it under step 3/);
  const { m: _m, ...withoutM } = good.tensors;
  await refused(encodeCheckpoint({ ...good, tensors: withoutM }), good.step, /has no 'm' tensor/);
  await refused(
    encodeCheckpoint({ ...good, tensors: { ...good.tensors, v: good.tensors.v.subarray(1) } }),
    good.step,
    /tensor 'v' has \d+ values, expected \d+/,
  );
  await refused(encodeCheckpoint({ ...good, state: { ...good.state, t: undefined } }), good.step, /state 't' is missing, expected a number/);
  // the good one still resumes
  await store.saveCheckpoint(id, good.step, saved!.bytes);
  assert.equal((await train(store, 'ts')).outcome.status, 'done');
});

/** The checkpoint as scaling-lab wrote it before 2026-11-29: format version 1, ending in a CRC-32 of all before it. */
function encodeVersion1(c: Checkpoint): Buffer {
  const body = Buffer.from(encodeCheckpoint(c));
  const out = Buffer.alloc(body.length + 4);
  body.copy(out);
  out.writeUInt32LE(1, 8);
  out.writeUInt32LE(crc32(out.subarray(0, body.length)), body.length);
  return out;
}

test('a checkpoint the previous version wrote (format 1 with its own CRC-32, in the store container) resumes bit for bit', async () => {
  const whole = await freshStore('v1-whole');
  assert.equal((await train(whole, 'ts')).outcome.status, 'done');
  const reference = await whole.readMetrics(id);
  const store = await freshStore('v1-resumed');
  assert.equal((await train(store, 'ts', 4)).outcome.status, 'interrupted');
  const saved = (await store.loadCheckpoint(id))!;
  assert.equal(saved.step, 4);
  await store.saveCheckpoint(id, saved.step, encodeVersion1(decodeCheckpoint(saved.bytes, 'mem')));
  // on disk as the previous version left it: the store's 32-byte header (its CRC-32 over the rest), format-1 bytes
  const file = readFileSync(join(store.location, id, 'checkpoint.bin'));
  assert.equal(file.toString('latin1', 0, 8), 'SLCHKPT\0');
  assert.equal(file.toString('latin1', 32, 40), 'SLCKPT\0\0');
  assert.equal(file.readUInt32LE(40), 1, 'format version 1');
  assert.equal(file.readUInt32LE(file.length - 4), crc32(file.subarray(32, file.length - 4)), 'ending in its own CRC-32');
  const resumed = await train(store, 'ts');
  assert.equal(resumed.outcome.status, 'done');
  assert.equal(resumed.outcome.stepsTrained, 4);
  assert.ok(
    resumed.notices.some((m) => /resuming .* from its checkpoint at step 4 of 8/.test(m)),
    resumed.notices.join('\n'),
  );
  const measured = (rows: Awaited<ReturnType<Store['readMetrics']>>) => rows.map(({ wallMs: _w, ...r }) => r);
  assert.deepEqual(measured(await store.readMetrics(id)), measured(reference), 'the resumed run matches one trained without a stop');
  // the new checkpoint is format 2 (no CRC of its own: the store's is the one)
  assert.equal(Buffer.from((await store.loadCheckpoint(id))!.bytes).readUInt32LE(8), 2);
});

test('a run an older trainer made under the same id is refused, naming both versions and what to do', async () => {
  const store = await freshStore('old-trainer');
  assert.equal((await train(store, 'ts', 1)).outcome.status, 'interrupted');
  const made = (await store.getRun(id))!;
  const { createdAt: _c, state: _s, ...run } = made;
  const older = await freshStore('older');
  await older.putRun({ ...run, spec: { ...(run.spec as object), trainer: 1 } });
  await assert.rejects(train(older, 'ts'), (err: unknown) => {
    assert.ok(err instanceof StoreError, String(err));
    assert.equal(err.code, 'spec-mismatch');
    assert.match(err.message, new RegExp(`run '${id}' in the file store .* was trained by trainer version 1; this is version ${TRAINER_VERSION}`));
    assert.match(err.hint, new RegExp(`delete .*${id} to train it again`));
    return true;
  });
});

test('with the log eval schedule, a run that crashed and resumed from its checkpoint matches an uninterrupted one bit for bit', async () => {
  const logConfig = parseRunConfig({ ...config, steps: 30, evalSchedule: 'log', evals: 9 });
  const logId = runId(logConfig);
  const run = async (store: Store, crashAt?: number) =>
    trainRun(logConfig, { ...exec(store.location, 'ts'), checkpointEvery: 4 }, store, {
      dataset,
      onStep: ({ step }) => {
        if (step === crashAt) throw new Error(`crash at step ${step}`);
      },
    });
  const whole = await freshStore('log-whole');
  assert.equal((await run(whole)).status, 'done');
  const reference = await whole.readMetrics(logId);
  assert.deepEqual(
    reference.filter((r) => r.testLoss !== undefined).map((r) => r.step),
    evalSteps(logConfig),
  );
  assert.equal(evalSteps(logConfig).length, 9);

  const crashed = await freshStore('log-crashed');
  await assert.rejects(run(crashed, 15), /crash at step 15/); // checkpoint at step 12; rows past it are recomputed
  assert.equal((await crashed.loadCheckpoint(logId))?.step, 12);
  assert.equal((await run(crashed)).status, 'done');
  const measured = (rows: { wallMs: number }[]) => rows.map(({ wallMs: _w, ...rest }) => rest);
  assert.deepEqual(measured(await crashed.readMetrics(logId)), measured(reference));
});
