// The end-to-end sweep of examples/external/tiny-scan.yaml (train.py, PyTorch) that external-torch-*.test.ts run through
// each executor: one run SIGKILLed mid-way, then every run's rows checked (steps 1..N once) and bcrit/report on the store.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import { runSweep, type Executor, type SweepEvent } from '../../src/sweep/executor.ts';
import { expandSweep, loadSweepSpec, type SweepSpec } from '../../src/sweep/spec.ts';
import { runId } from '../../src/train/config.ts';
import { assertComplete, bin, exec, sleep, tmp } from './fixtures.ts';

const SPEC = new URL('../../examples/external/tiny-scan.yaml', import.meta.url).pathname;

/** A python3 that imports torch (Debian's /usr/bin/python3 first; a pyenv python3 on PATH may lack it), or null. */
function python(): string | null {
  for (const exe of ['/usr/bin/python3', 'python3']) {
    if (exe.startsWith('/') && !existsSync(exe)) continue;
    if (spawnSync(exe, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return exe;
  }
  return null;
}

const py = python();
export const torchMissing = py === null ? 'python3 with torch not found' : undefined;
// the spec says `python3`: the one with torch comes first on the PATH that every worker and trainer inherits
if (py?.startsWith('/')) process.env.PATH = `${dirname(py)}:${process.env.PATH ?? ''}`;

/** tiny-scan.yaml with the runs' own directories under this test's temp dir. */
export async function tinyTorchSpec(): Promise<SweepSpec> {
  const spec = await loadSweepSpec(SPEC);
  return { ...spec, trainer: { ...spec.trainer!, runDir: mkdtempSync(join(tmp, 'torch-runs-')) } };
}

/** SIGKILLs the train.py process of run `id` once its metrics file has `atLine` lines; resolves with what it killed. */
async function killMidway(spec: SweepSpec, id: string, atLine: number, done: () => boolean): Promise<string> {
  const runDir = join(spec.trainer!.runDir!, id);
  while (!done()) {
    const lines = existsSync(join(runDir, 'metrics.jsonl')) ? readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').length - 1 : 0;
    if (lines >= atLine) {
      const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
      const line = ps.split('\n').find((l) => l.includes('train.py') && l.includes(`--out ${runDir}`) && !l.includes('/bin/sh'));
      if (line) {
        const pid = Number(line.trim().split(/\s+/)[0]);
        process.kill(pid, 'SIGKILL');
        return `pid ${pid} at ${lines} lines`;
      }
    }
    await sleep(50);
  }
  return 'nothing (the run finished first)';
}

/**
 * Runs the tiny scan through `executor` on `store`, SIGKILLs the batch-8 run's python mid-way, and checks: the sweep is
 * done, the killed run took 2 attempts, every run has rows at steps 1..N exactly once with test loss at the eval steps,
 * the runs are recorded as torch-gpt's, and `bcrit` reads the store. Returns the wall seconds.
 */
export async function torchSweepEndToEnd(executor: Executor, store: string, label: string): Promise<number> {
  const spec = await tinyTorchSpec();
  const configs = expandSweep(spec);
  const victim = runId(configs[0]);
  const events: SweepEvent[] = [];
  let finished = false;
  const t0 = performance.now();
  const killing = killMidway(spec, victim, 12, () => finished);
  const result = await runSweep(spec, { executor, exec: exec(store), retries: 2, onEvent: (e) => events.push(e) }).finally(() => (finished = true));
  const seconds = (performance.now() - t0) / 1000;
  const killed = await killing;
  assert.match(killed, /^pid \d+/, `${label}: the batch-8 run was killed mid-way`);
  assert.equal(result.status, 'done', `${label}: ${JSON.stringify(result.runs.map((r) => [r.id, r.status, r.message]))}`);
  assert.equal(result.runs.find((r) => r.id === victim)?.attempts, 2, `${label}: the killed run was resumed once`);
  const s = await openStore(store);
  try {
    for (const c of configs) {
      const rows = await s.readMetrics(runId(c));
      assertComplete(rows, 40, `${label} ${runId(c)}`);
      assert.deepEqual(
        rows.filter((r) => r.testLoss !== undefined).map((r) => r.step),
        [10, 20, 30, 40],
      );
      assert.ok(
        rows.every((r) => Number.isFinite(r.gradSq) && Number.isFinite(r.traceSigma)),
        'noise estimates from micro-batch norms',
      );
      const record = await s.loadRecord(runId(c));
      assert.equal(record.trainer, 'torch-gpt');
      assert.equal(record.status, 'done');
    }
  } finally {
    await s.close();
  }
  // the analysis reads the store as it reads our own runs
  const bcrit = spawnSync(process.execPath, [bin, 'bcrit', store, '--json'], { encoding: 'utf8' });
  assert.equal(bcrit.status, 0, bcrit.stderr);
  const parsed = JSON.parse(bcrit.stdout) as unknown;
  assert.match(JSON.stringify(parsed), /"runs":3|"levels"/);
  console.log(`# ${label}: tiny torch scan (3 runs x 40 steps, one SIGKILLed: ${killed}) in ${seconds.toFixed(1)} s`);
  return seconds;
}
