// Sweeps of an external trainer through the executors: bad trainers (the fixture's modes) each fail with their cause
// while the other runs carry on, a crashed one resumes; the spec's template errors come before anything starts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStore } from '../../src/store/store.ts';
import { createLocalExecutor } from '../../src/sweep/local.ts';
import { runSweep, type SweepEvent } from '../../src/sweep/executor.ts';
import { expandSweep, parseSweepSpec } from '../../src/sweep/spec.ts';
import { formatPlan, planSweep } from '../../src/sweep/plan.ts';
import { runId } from '../../src/train/config.ts';
import { assertComplete, bin, exec, tmp } from './fixtures.ts';

const FIXTURES = new URL('../fixtures/external/', import.meta.url).pathname;

/** A sweep of the fixture trainer, one run per mode (an axis the trainer takes, RunConfigSchema does not know). */
function faultSpec(name: string, modes: string[], command = 'node fake-trainer.mjs --steps {steps} --out {run_dir} --metrics {metrics} --mode {mode}') {
  return parseSweepSpec(
    {
      name,
      base: { depth: 1, batch: 8, microBatch: 4, context: 16, steps: 10 },
      axes: { mode: modes },
      trainer: { name: 'fake', command, resume: '--resume', cwd: '.', timeout: 2 },
    },
    `sweep spec ${name}`,
    FIXTURES,
  );
}

describe('external trainer sweeps (local executor, file store)', () => {
  it('each bad trainer fails with its cause, the good ones finish, a crashed one resumes without a duplicate row', async () => {
    const store = mkdtempSync(join(tmp, 'external-faults-'));
    const modes = ['ok', 'malformed', 'none', 'early', 'hang', 'crash-once', 'fail'];
    const spec = faultSpec('faults', modes);
    const configs = expandSweep(spec);
    const events: SweepEvent[] = [];
    const t0 = performance.now();
    const result = await runSweep(spec, { executor: createLocalExecutor({ workers: 2 }), exec: exec(store), retries: 1, onEvent: (e) => events.push(e) });
    const seconds = (performance.now() - t0) / 1000;
    const byMode = new Map(configs.map((c, i) => [modes[i], result.runs.find((r) => r.id === runId(c))!]));
    assert.equal(result.status, 'failed');
    assert.equal(byMode.get('ok')!.status, 'done');
    assert.equal(byMode.get('crash-once')!.status, 'done');
    assert.equal(byMode.get('crash-once')!.attempts, 2, 'the crash was retried once, resuming');
    const expect: [string, RegExp, number][] = [
      ['malformed', /line 3 of the metrics file \S+metrics\.jsonl is not a metrics line/, 1],
      ['none', /wrote no metrics to the metrics file \S+metrics\.jsonl/, 1],
      ['early', /exited with code 0 at step 5, short of its budget of 10 steps/, 1],
      ['hang', /wrote no metrics line for 2 s \(hung; killed at step 2 of 10\)/, 2],
      ['fail', /exited with code 1 at step 1 of 10[^]*RuntimeError: CUDA out of memory/, 2],
    ];
    const s = await openStore(store);
    try {
      for (const [mode, message, attempts] of expect) {
        const r = byMode.get(mode)!;
        assert.equal(r.status, 'failed', mode);
        assert.match(r.message ?? '', message, mode);
        assert.match(r.message ?? '', new RegExp(`after ${attempts} attempt\\(s\\)`), `${mode}: attempts`);
        // the cause is stored with the run: its status message, with the command line
        const run = await s.getRun(r.id);
        assert.equal(run?.state.status, 'failed');
        assert.match(run?.state.message ?? '', message);
        assert.match(run?.state.message ?? '', /command: node fake-trainer\.mjs --steps 10 --out /);
      }
      for (const mode of ['ok', 'crash-once']) {
        const id = byMode.get(mode)!.id;
        assertComplete(await s.readMetrics(id), 10, mode);
        assert.equal((await s.loadRecord(id)).trainer, 'fake');
      }
    } finally {
      await s.close();
    }
    assert.ok(
      events.some((e) => e.kind === 'step' && e.id === byMode.get('ok')!.id),
      'steps of a running external trainer come as events',
    );
    // `status` shows each failure's first line in the table, then the exit, command and stderr tail of each
    const status = spawnSync(process.execPath, [bin, 'status', 'faults', '--store', store], { encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /failed \(try 2\) .*exited with code 1 at step 1 of 10/);
    assert.match(
      status.stdout,
      /\n\S+ failed: run \S+: fake exited with code 1 at step 1 of 10[^\n]*\n {4}command: node fake-trainer\.mjs .*--mode fail --resume\n {4}stderr \(last \d+ lines\):\n[^]*RuntimeError: CUDA out of memory/,
    );
    console.log(`# fault sweep: ${modes.length} runs (7 modes, 2 retried) in ${seconds.toFixed(1)} s on 2 workers`);

    // a re-run relaunches nothing that finished; the failed ones are tried again (they fail the same way)
    const again = await runSweep(spec, { executor: createLocalExecutor({ workers: 2 }), exec: exec(store), retries: 0 });
    assert.equal(again.skipped, 2);
  });

  it('refuses a template naming a key the runs do not have, before anything starts', async () => {
    const store = join(tmp, 'external-never-made');
    const spec = faultSpec('bad-template', ['ok'], 'node fake-trainer.mjs --steps {steps} --dropout {dropout}');
    await assert.rejects(runSweep(spec, { executor: createLocalExecutor({ workers: 1 }), exec: exec(store) }), (err: Error & { hint?: string }) => {
      assert.match(
        err.message,
        /run \{"mode":"ok"\} is not a valid run: the trainer command names \{dropout\}, which run d1-b8-s0-n10-[0-9a-f]{8} does not have; keys available: .*mode/,
      );
      assert.match(err.hint ?? '', /add dropout to the spec's base or axes/);
      return true;
    });
    assert.ok(!existsSync(store), 'nothing was created');
    // a bad trainer section is refused with the path of each bad field
    assert.throws(
      () => parseSweepSpec({ name: 'x', base: { depth: 1, steps: 5 }, trainer: { name: 'a b', command: '', metrics: 'pipe', timeout: -1 } }),
      (err: Error) => ['trainer.name', 'trainer.command', 'trainer.metrics', 'trainer.timeout'].every((path) => err.message.includes(`${path}: `)),
    );
    // and a key no trainer takes is still an error without a trainer section
    assert.throws(() => parseSweepSpec({ name: 'x', base: { depth: 1, steps: 5 }, axes: { mode: ['a'] } }), /axes\.mode: unknown axis 'mode'/);
  });

  it('plans without timing anything: the first run command, the cwd relative to the spec file', async () => {
    const spec = faultSpec('plan', ['ok', 'early']);
    assert.equal(spec.trainer?.cwd, FIXTURES.replace(/\/$/, ''));
    const plan = await planSweep(spec, expandSweep(spec));
    assert.equal(plan.estimatedSeconds, undefined);
    const text = formatPlan(plan);
    assert.match(
      text,
      /trainer fake; the first run's command: node fake-trainer\.mjs --steps 10 --out '<run_dir>' --metrics '<run_dir>\/metrics\.jsonl' --mode ok/,
    );
    assert.match(text, /not probed \(external trainer fake: not timed\)/);
  });
});
