// A real crash test of the file store: a child process appends metric rows and saves checkpoints in a loop and is
// SIGKILLed at a random moment, several times, each run resuming from its checkpoint. The store code is in src/store/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { openStore } from '../../src/store/store.ts';
import { checkpointBytes, makeRun, rows } from './store-suite.ts';

const WRITER = fileURLToPath(new URL('./fixtures/metrics-writer.ts', import.meta.url));
const ROUNDS = 4;

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Starts the writer, waits until it is appending, lets it run for `ms`, SIGKILLs it; returns the last step it acknowledged. */
async function runAndKill(dir: string, id: string, ms: number): Promise<{ resumedAt: number; acked: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const resumedAt = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`writer not ready after 30 s: ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const ready = /ready (\d+)\n/.exec(out);
      if (ready) {
        clearTimeout(timer);
        resolve(Number(ready[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`writer exited early (${code}): ${err}`));
    });
  });
  await new Promise((r) => setTimeout(r, ms));
  child.kill('SIGKILL');
  await exited;
  assert.equal(child.signalCode, 'SIGKILL', `the writer should still be running when killed: ${err}`);
  const acks = [...out.matchAll(/acked (\d+)\n/g)].map((m) => Number(m[1]));
  return { resumedAt, acked: acks.length === 0 ? -1 : Math.max(...acks) };
}

it('FileStore survives SIGKILL at random moments: no torn line seen, no duplicate step, acknowledged rows kept', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'scaling-lab-crash-'));
  dirs.push(dir);
  const id = 'crash-run';
  const path = join(dir, id, 'metrics.jsonl');
  let torn = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const ms = 20 + Math.floor(Math.random() * 300);
    const { resumedAt, acked } = await runAndKill(dir, id, ms);

    // the raw file: whole lines, steps 0..last once each and in order; at most a torn tail after the last '\n'
    const raw = await readFile(path);
    const end = raw.lastIndexOf(10) + 1;
    if (end < raw.length) torn++;
    const lines = raw.subarray(0, end).toString('utf8').split('\n').slice(0, -1);
    const steps = lines.map((line, i) => {
      const row = JSON.parse(line) as { step: number };
      assert.equal(row.step, i, `line ${i + 1} holds step ${row.step}`);
      return row.step;
    });
    const last = steps.length - 1;
    assert.ok(last >= acked, `round ${round}: acknowledged step ${acked} but the file ends at ${last}`);

    // what readers see: exactly the rows of steps 0..last, as computed
    const store = await openStore(dir);
    assert.deepEqual(await store.readMetrics(id), rows(0, last));
    const checkpoint = await store.loadCheckpoint(id);
    if (checkpoint !== undefined) {
      assert.ok(checkpoint.step <= last, `checkpoint at ${checkpoint.step} is ahead of the rows (${last})`);
      assert.ok(Buffer.from(checkpoint.bytes).equals(Buffer.from(checkpointBytes(checkpoint.step))), 'the checkpoint is whole');
    }
    await store.close();
    t.diagnostic(
      `round ${round}: resumed at ${resumedAt}, killed after ${ms} ms, acked ${acked}, file ends at ${last}, checkpoint ${checkpoint?.step ?? 'none'}`,
    );
  }
  t.diagnostic(`torn tails left by the kills: ${torn} of ${ROUNDS}`);

  // a last resume in this process, as train/ will do it: truncate after the checkpoint, append on; the file is clean
  const store = await openStore(dir);
  await store.putRun(makeRun(id)); // what a resuming run does first; it also clears temp files a kill left behind
  assert.deepEqual((await readdir(join(dir, id))).sort(), ['checkpoint.bin', 'metrics.jsonl', 'spec.json', 'status.json']);
  const checkpoint = await store.loadCheckpoint(id);
  const from = checkpoint === undefined ? 0 : checkpoint.step + 1;
  await store.truncateMetricsAfter(id, from - 1 < 0 ? 0 : from - 1);
  await store.appendMetrics(id, rows(0, from + 20));
  assert.deepEqual(await store.readMetrics(id), rows(0, from + 20));
  const text = await readFile(path, 'utf8');
  assert.ok(text.endsWith('\n'));
  assert.equal(text.split('\n').length - 1, from + 21, 'one line per step');
  await store.close();
});
