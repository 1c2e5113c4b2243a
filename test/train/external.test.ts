// train/external.ts on its own: the metrics protocol (noise estimates from micro-batch norms against hand values), the
// command template and its errors, tailing a growing file, and whole runs of a fixture trainer against a file store.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { StoreError, openStore } from '../../src/store/store.ts';
import { parseRunConfig, runId, type RunConfig } from '../../src/train/config.ts';
import { ExternalRunError, LineTail, externalCommand, externalRunDir, parseProtocolLine, runExternal } from '../../src/train/external.ts';

const tmp = mkdtempSync(join(tmpdir(), 'scaling-lab-external-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const FAKE = new URL('../fixtures/external/fake-trainer.mjs', import.meta.url).pathname;

function fakeConfig(mode: string, extra: { timeout?: number; steps?: number; metrics?: 'file' | 'stdout'; sleepMs?: number } = {}): RunConfig {
  return parseRunConfig({
    depth: 1,
    batch: 8,
    microBatch: 4,
    context: 16,
    steps: extra.steps ?? 10,
    extra: { mode },
    trainer: {
      name: 'fake',
      command: `node ${FAKE} --steps {steps} --out {run_dir} --metrics ${extra.metrics === 'stdout' ? '-' : '{metrics}'} --mode {mode} --sleep-ms ${extra.sleepMs ?? 0}`,
      resume: '--resume',
      metrics: extra.metrics ?? 'file',
      timeout: extra.timeout ?? 30,
    },
  });
}

describe('the metrics protocol', () => {
  it('computes |G|^2 and tr(Sigma) from micro-batch gradient norms (McCandlish et al. 2018 App. A.1)', () => {
    // B_small 4, B_big 8; |G_small|^2 = (1.2^2 + 1.4^2) / 2 = 1.7, |G_big|^2 = 1
    const r = parseProtocolLine('{"step": 3, "train_loss": 2.5, "grad_norm": 1, "micro_grad_norms": [1.2, 1.4], "micro_batch": 4, "unknown": "ignored"}');
    assert.equal(r.step, 3);
    assert.equal(r.trainLoss, 2.5);
    assert.ok(Math.abs(r.gradSq! - 0.3) < 1e-12, `|G|^2 = (8 * 1 - 4 * 1.7) / 4 = 0.3, got ${r.gradSq}`);
    assert.ok(Math.abs(r.traceSigma! - 5.6) < 1e-12, `tr(Sigma) = (1.7 - 1) / (1/4 - 1/8) = 5.6, got ${r.traceSigma}`);
  });

  it('takes grad_sq and trace_sigma as given, camelCase names, and NaN/Infinity as Python writes them', () => {
    const r = parseProtocolLine('{"step": 1, "trainLoss": NaN, "testLoss": 3, "grad_sq": 0.5, "trace_sigma": -Infinity, "wall_ms": 12}');
    assert.ok(Number.isNaN(r.trainLoss));
    assert.equal(r.testLoss, 3);
    assert.equal(r.gradSq, 0.5);
    assert.equal(r.traceSigma, -Infinity);
    assert.equal(r.wallMs, 12);
  });

  it('refuses a line without a step, without a loss, or with a bad value, saying which', () => {
    assert.throws(() => parseProtocolLine('{"train_loss": 1}'), /'step' must be an integer >= 1/);
    assert.throws(() => parseProtocolLine('{"step": 0, "train_loss": 1}'), /'step' must be an integer >= 1 \(got 0\)/);
    assert.throws(() => parseProtocolLine('{"step": 1}'), /neither 'train_loss' nor 'test_loss'/);
    assert.throws(() => parseProtocolLine('{"step": 1, "train_loss": "x"}'), /'train_loss' must be a number/);
    assert.throws(() => parseProtocolLine('{"step": 1, "train_loss": 1, "micro_grad_norms": [1, 2]}'), /needs 'grad_norm' and 'micro_batch'/);
    assert.throws(() => parseProtocolLine('step 1 loss 2'), /not JSON/);
  });
});

describe('the command template', () => {
  it('fills config keys, snake_case and derived keys, extra keys, the flag mapping and the resume template', () => {
    const c = parseRunConfig({
      depth: 2,
      batch: 16,
      microBatch: 8,
      tokens: 16 * 64 * 5,
      extra: { dropout: 0.1 },
      trainer: {
        name: 't',
        command: 'python3 train.py --n-layer {n_layer} --d {dModel} --steps {steps} --tokens {tokens} --mb {micro_batch} --drop {dropout} --out {run_dir}',
        resume: '--resume {run_dir}/ck.pt',
        flags: { lr: '--learning-rate' },
      },
    });
    const cmd = externalCommand(c, '/tmp/a dir', true);
    assert.equal(
      cmd,
      `python3 train.py --n-layer 2 --d 128 --steps 5 --tokens 5120 --mb 8 --drop 0.1 --out '/tmp/a dir' --learning-rate 0.001 --resume '/tmp/a dir'/ck.pt`,
    );
    assert.ok(!externalCommand(c, '/x', false).includes('--resume'));
  });

  it('refuses a key the config does not have, naming the key, the run and the keys there are', () => {
    const c = parseRunConfig({ depth: 1, steps: 5, trainer: { name: 't', command: 'train --warmup {warm_up}' } });
    assert.throws(
      () => externalCommand(c, '/r', false),
      (err: Error & { hint?: string }) => {
        assert.match(err.message, /names \{warm_up\}, which run d1-b32-s0-n5-[0-9a-f]{8} does not have; keys available: .*warmup_steps/);
        assert.match(err.hint ?? '', /fix the trainer command/);
        return true;
      },
    );
  });

  it('puts the trainer in the run id (by name, command and flags) and leaves ids of our own runs alone', () => {
    const ours = parseRunConfig({ depth: 1, steps: 5 });
    const a = parseRunConfig({ depth: 1, steps: 5, trainer: { name: 't', command: 'x {batch}', cwd: '/a', timeout: 5 } });
    const b = parseRunConfig({ depth: 1, steps: 5, trainer: { name: 't', command: 'x {batch}', cwd: '/b', timeout: 9 } });
    const c = parseRunConfig({ depth: 1, steps: 5, trainer: { name: 'u', command: 'x {batch}' } });
    assert.equal(runId(ours), 'd1-b32-s0-n5-' + runId(ours).slice(-8));
    assert.notEqual(runId(a), runId(ours));
    assert.equal(runId(a), runId(b), 'where and how long it runs is not what it computes');
    assert.notEqual(runId(a), runId(c));
    assert.throws(() => parseRunConfig({ depth: 1, steps: 5, extra: { dropout: 0.1 } }), /only an external trainer takes keys of its own/);
    assert.throws(() => parseRunConfig({ depth: 1, steps: 5, trainer: { name: 't', command: 'x', metrics: 'pipe' } }), /trainer\.metrics/);
  });
});

describe('LineTail', () => {
  it('hands out complete lines only, reads only what was added, and starts over when the file shrinks', async () => {
    const path = join(tmp, 'tail.jsonl');
    const tail = new LineTail(path);
    assert.deepEqual(await tail.poll(), [], 'no file yet');
    writeFileSync(path, '{"a":1}\n{"b":');
    assert.deepEqual(await tail.poll(), [{ line: '{"a":1}', lineNo: 1 }]);
    appendFileSync(path, '2}\n');
    assert.deepEqual(await tail.poll(), [{ line: '{"b":2}', lineNo: 2 }]);
    assert.deepEqual(await tail.poll(), []);
    writeFileSync(path, 'x\n');
    assert.deepEqual(await tail.poll(), [{ line: 'x', lineNo: 1 }], 'rewritten shorter: read from the start');
    appendFileSync(path, 'torn');
    assert.deepEqual(await tail.poll(), []);
    assert.deepEqual(tail.rest(), [{ line: 'torn', lineNo: 2 }], 'the writer is gone: its last line without a newline');
  });
});

describe('runExternal (the fixture trainer, a file store)', () => {
  const exec = (store: string) => ({ backend: 'ts' as const, store, checkpointEvery: 5 });

  it('stores one row per step, eval lines merged in, the noise estimates computed, the trainer recorded', async () => {
    const location = mkdtempSync(join(tmp, 'ok-'));
    const store = await openStore(location);
    try {
      const config = fakeConfig('ok');
      const seen: number[] = [];
      const o = await runExternal(config, exec(location), store, { onStep: (s) => seen.push(s.step) });
      assert.equal(o.status, 'done');
      assert.equal(o.step, 10);
      const rows = await store.readMetrics(runId(config));
      assert.deepEqual(
        rows.map((r) => r.step),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.deepEqual(
        rows.filter((r) => r.testLoss !== undefined).map((r) => r.step),
        [5, 10],
      );
      assert.equal(rows[4].trainLoss, 5 / Math.sqrt(5), 'the train line and the eval line of step 5 are one row');
      assert.ok(Math.abs(rows[0].gradSq! - 0.3) < 1e-12 && Math.abs(rows[0].traceSigma! - 5.6) < 1e-12);
      assert.equal(rows[0].tokens, 128);
      assert.ok(seen.length >= 10 && seen.at(-1) === 10, 'steps reported as they came');
      const record = await store.loadRecord(runId(config));
      assert.equal(record.trainer, 'fake');
      assert.equal(record.status, 'done');
      // a finished run is never relaunched
      const again = await runExternal(config, exec(location), store);
      assert.equal(again.message, 'already finished; not re-trained');
    } finally {
      await store.close();
    }
  });

  it('reads stdout mode, ignoring lines that are not JSON objects', async () => {
    const location = mkdtempSync(join(tmp, 'stdout-'));
    const store = await openStore(location);
    try {
      const config = fakeConfig('ok', { metrics: 'stdout', steps: 6 });
      assert.equal((await runExternal(config, exec(location), store)).status, 'done');
      assert.equal((await store.readMetrics(runId(config))).length, 6);
    } finally {
      await store.close();
    }
  });

  it('a crash is retryable and keeps the command and stderr; the resumed launch gets --resume and duplicates nothing', async () => {
    const location = mkdtempSync(join(tmp, 'crash-'));
    const store = await openStore(location);
    try {
      const config = fakeConfig('crash-once');
      const err = await runExternal(config, exec(location), store).then(
        () => assert.fail('expected a crash'),
        (e: unknown) => e as ExternalRunError,
      );
      assert.ok(err instanceof ExternalRunError);
      assert.equal(err.hint, undefined, 'a crash is retried (no hint)');
      assert.match(err.message, /fake exited with code 3 at step 5 of 10\ncommand: node .*--mode crash-once/);
      assert.equal((await store.readMetrics(runId(config))).length, 5);
      const o = await runExternal(config, exec(location), store);
      assert.equal(o.status, 'done');
      const rows = await store.readMetrics(runId(config));
      assert.deepEqual(
        rows.map((r) => r.step),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.ok(externalRunDir(config, exec(location)).startsWith(join(location, '.external')));
    } finally {
      await store.close();
    }
  });

  const failures: [string, RegExp, boolean, Partial<Parameters<typeof fakeConfig>[1]>][] = [
    [
      'malformed',
      /line 3 of the metrics file .*metrics\.jsonl is not a metrics line: not JSON .*the line starts "\{\\"step\\": 2, \\"train_loss\\": oops\}"/,
      true,
      {},
    ],
    ['none', /exited with code 0 but wrote no metrics to the metrics file .*metrics\.jsonl/, true, {}],
    ['early', /exited with code 0 at step 5, short of its budget of 10 steps/, true, {}],
    [
      'fail',
      /exited with code 1 at step 1 of 10\ncommand: .*\nstderr \(last 3 lines\):\n {2}Traceback .*\n.*\n {2}RuntimeError: CUDA out of memory/,
      false,
      {},
    ],
    ['hang', /wrote no metrics line for 1 s \(hung; killed at step 2 of 10\)/, false, { timeout: 1 }],
  ];
  for (const [mode, message, final, options] of failures) {
    it(`mode ${mode}: ${final ? 'fails for good' : 'a retryable crash'}, with a message naming the cause`, async () => {
      const location = mkdtempSync(join(tmp, `${mode}-`));
      const store = await openStore(location);
      try {
        const t0 = Date.now();
        const err = await runExternal(fakeConfig(mode, options), exec(location), store).then(
          () => assert.fail(`mode ${mode} should fail`),
          (e: unknown) => e as ExternalRunError,
        );
        assert.match(err.message, message);
        assert.equal(err.hint !== undefined, final);
        assert.ok(Date.now() - t0 < 15_000);
      } finally {
        await store.close();
      }
    });
  }
});

/** pids of fixture trainers (not their shells) whose command line names `text` */
function trainersNaming(text: string): number[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return ps
    .split('\n')
    .filter((l) => l.includes('fake-trainer.mjs') && l.includes(text) && !l.includes('/bin/sh'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

async function until(what: string, fn: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('runExternal: leases and the process group', () => {
  const exec = (store: string) => ({ backend: 'ts' as const, store, checkpointEvery: 5 });

  it('a run taken over by another holder is fenced: its trainer is killed and nothing more is written', async () => {
    const location = mkdtempSync(join(tmp, 'fenced-'));
    const store = await openStore(location);
    try {
      const config = fakeConfig('ok', { steps: 200, sleepMs: 50 });
      const id = runId(config);
      const runDir = externalRunDir(config, exec(location));
      const running = runExternal(config, exec(location), store, { leaseMs: 400 });
      await until('a few rows', () => existsSync(join(runDir, 'metrics.jsonl')) && readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').length > 4);
      assert.equal(trainersNaming(runDir).length, 1);
      await store.acquireRun(id, 'intruder', { takeOver: true });
      await assert.rejects(running, (err: unknown) => err instanceof StoreError && err.code === 'fenced');
      const stored = (await store.readMetrics(id)).length;
      assert.ok(stored < 200);
      await until('the fenced trainer gone', () => trainersNaming(runDir).length === 0, 5000);
    } finally {
      await store.close();
    }
  });

  it('an abort stops the trainer (SIGTERM to its group) and leaves the run pending, to resume', async () => {
    const location = mkdtempSync(join(tmp, 'abort-'));
    const store = await openStore(location);
    try {
      const config = fakeConfig('ok', { steps: 200, sleepMs: 50 });
      const runDir = externalRunDir(config, exec(location));
      const controller = new AbortController();
      const running = runExternal(config, exec(location), store, { signal: controller.signal });
      await until('a few rows', () => existsSync(join(runDir, 'metrics.jsonl')) && readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').length > 4);
      controller.abort();
      const o = await running;
      assert.equal(o.status, 'interrupted');
      assert.ok(o.step > 0 && o.step < 200);
      assert.equal((await store.getRun(runId(config)))?.state.status, 'pending');
      assert.deepEqual(trainersNaming(runDir), []);
    } finally {
      await store.close();
    }
  });

  it('a SIGKILLed parent leaves no orphan: the watchdog kills the trainer group', async () => {
    const location = mkdtempSync(join(tmp, 'orphan-'));
    const config = fakeConfig('ok', { steps: 500, sleepMs: 50 });
    const runDir = externalRunDir(config, exec(location));
    // a parent of our own that runs the trainer, then is killed by SIGKILL (no exit hook runs)
    const script = `import { openStore } from '../../src/store/store.ts'; import { runExternal } from '../../src/train/external.ts';
      const store = await openStore(${JSON.stringify(location)}); await runExternal(${JSON.stringify(config)}, ${JSON.stringify(exec(location))}, store);`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('.', import.meta.url).pathname,
      stdio: 'ignore',
    });
    try {
      await until('the trainer running', () => trainersNaming(runDir).length === 1, 30_000);
      parent.kill('SIGKILL');
      await until('the orphaned trainer killed by the watchdog', () => trainersNaming(runDir).length === 0, 5000);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
