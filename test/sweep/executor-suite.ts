// The one suite every executor passes (local process pool, BullMQ queue), after jax-js suite.each: given a target
// (an executor and the store its runs land in), it defines the tests. executors.test.ts runs it over both.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { openStore } from '../../src/store/store.ts';
import { runSweep, type Executor, type SweepEvent } from '../../src/sweep/executor.ts';
import { expandSweep } from '../../src/sweep/spec.ts';
import { runId } from '../../src/train/config.ts';
import { isSkip, type Skip } from '../helpers/services.ts';
import { skipOrFail } from '../helpers/require.ts';
import { assertComplete, exec, measured, referenceRows, tinySpec } from './fixtures.ts';

export interface ExecutorTarget {
  executor: Executor;
  /** where the runs go: a directory or a postgres:// URL */
  store: string;
  stop(): Promise<void>;
}

export function defineExecutorSuite(name: string, setup: () => Promise<ExecutorTarget | Skip>): void {
  describe(name, () => {
    let target: ExecutorTarget | Skip = { skip: 'setup did not run' };
    const need = (t: TestContext): ExecutorTarget | undefined => {
      if (isSkip(target)) {
        skipOrFail(t, target);
        return undefined;
      }
      return target;
    };
    before(async () => {
      target = await setup();
      if (isSkip(target)) console.log(`# ${name}: skipped: ${target.skip}`);
    });
    after(async () => {
      if (!isSkip(target)) await target.stop();
    });

    const slug = name.replace(/\W+/g, '-');
    const spec = tinySpec(`${slug}-tiny`);
    const configs = expandSweep(spec);

    it('runs a tiny sweep to the end: every run done, its metrics steps 1..N once, identical to the run trained alone', async (t) => {
      const tg = need(t);
      if (!tg) return;
      const events: SweepEvent[] = [];
      const result = await runSweep(spec, { executor: tg.executor, exec: exec(tg.store), retries: 1, onEvent: (e) => events.push(e) });
      assert.equal(result.status, 'done', JSON.stringify(result.runs));
      assert.equal(result.skipped, 0);
      assert.deepEqual(
        result.runs.map((r) => r.status),
        ['done', 'done'],
      );
      assert.deepEqual(new Set(events.filter((e) => e.kind === 'end').map((e) => (e as { id: string }).id)), new Set(configs.map(runId)));
      assert.ok(
        events.some((e) => e.kind === 'start'),
        'no start event',
      );
      const store = await openStore(tg.store);
      try {
        for (const c of configs) {
          const rows = await store.readMetrics(runId(c));
          assertComplete(rows, 20, runId(c));
          assert.deepEqual(
            rows.filter((r) => r.testLoss !== undefined).map((r) => r.step),
            [5, 10, 15, 20],
          );
          assert.deepEqual(measured(rows), measured(await referenceRows(c)), `${runId(c)} differs from the run trained alone`);
          const run = await store.getRun(runId(c));
          assert.equal(run?.sweep, spec.name);
          assert.equal(run?.state.status, 'done');
        }
      } finally {
        await store.close();
      }
      const reader = await openStore(tg.store);
      let recorded;
      try {
        recorded = await reader.getSweep(spec.name);
      } finally {
        await reader.close();
      }
      assert.deepEqual(recorded?.runIds, configs.map(runId));
    });

    it('re-running the same sweep trains nothing and changes no row', async (t) => {
      const tg = need(t);
      if (!tg) return;
      const store = await openStore(tg.store);
      try {
        const before = await Promise.all(configs.map((c) => store.readMetrics(runId(c))));
        const events: SweepEvent[] = [];
        const result = await runSweep(spec, { executor: tg.executor, exec: exec(tg.store), onEvent: (e) => events.push(e) });
        assert.equal(result.status, 'done');
        assert.equal(result.skipped, 2);
        assert.deepEqual(
          result.runs.map((r) => r.attempts),
          [0, 0],
        );
        assert.deepEqual(
          events.filter((e) => e.kind === 'start' || e.kind === 'step'),
          [],
        );
        const afterRows = await Promise.all(configs.map((c) => store.readMetrics(runId(c))));
        assert.deepEqual(afterRows, before); // wall times included: not one row rewritten
      } finally {
        await store.close();
      }
    });

    it('a diverged run is a result, not a failure: recorded, not retried, the sweep is done', async (t) => {
      const tg = need(t);
      if (!tg) return;
      const diverging = tinySpec(`${slug}-diverge`, { base: { divergeLoss: 0.5 }, axes: { seed: [7] } });
      const result = await runSweep(diverging, { executor: tg.executor, exec: exec(tg.store), retries: 2 });
      assert.equal(result.status, 'done');
      assert.equal(result.runs[0].status, 'diverged');
      assert.equal(result.runs[0].step, 1);
      const store = await openStore(tg.store);
      try {
        const run = await store.getRun(result.runs[0].id);
        assert.equal(run?.state.status, 'diverged');
        assert.equal(run?.state.attempt ?? 1, 1);
        assert.equal((await store.readMetrics(result.runs[0].id)).length, 1);
      } finally {
        await store.close();
      }
    });
  });
}
