// The chaos test (issue 13, item 5): a small sweep through `scaling-lab sweep --queue` on real Redis and PostgreSQL
// (loopback, test/helpers/services.ts) with two `scaling-lab worker` processes, while a seeded adversary SIGKILLs
// workers (whole worker trees, or only a trainer child) at random moments, pauses one worker tree with SIGSTOP past its
// job lock and resumes it (SIGCONT: a stale writer), and restarts Redis and PostgreSQL mid-sweep. Then: the sweep exits
// 0, every run is done with its final checkpoint, its metric steps 1..N each once and every value equal to the same
// config trained alone, uninterrupted; and a monitor polling the store saw no finished run rewound (status, rows or
// checkpoint going back). The counts are printed. CHAOS_SEED=<n> replays a schedule (the seed is printed).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SeededRandom } from '../../src/util/random.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { expandSweep, parseSweepSpec } from '../../src/sweep/spec.ts';
import { runId } from '../../src/train/config.ts';
import { skipOrFail } from '../helpers/require.ts';
import { isSkip, startPostgres, startRedis } from '../helpers/services.ts';
import { assertComplete, bin, measured, referenceRows, sleep, TINY_BASE, tmp } from '../sweep/fixtures.ts';

const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
const RUNS = 8;
// long enough that the sweep outlasts every chaos phase on an idle machine (300 steps ended in ~40 s, before the last phases)
const STEPS = 900;
const LOCK_MS = 3000;
const WORKER_FLAGS = ['--workers', '1', '--threads', '1', '--lock-duration', String(LOCK_MS), '--stalled-interval', '1000'];

interface Proc {
  child: ChildProcess;
  out(): string;
  exited: Promise<number | string>;
  alive(): boolean;
}

function launch(args: string[]): Proc {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, out: () => out, exited, alive: () => child.exitCode === null && child.signalCode === null };
}

/** pid's descendants (its trainer children and theirs), from /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent)
      if (pp === p) {
        out.push(c);
        walk(c);
      }
  };
  walk(pid);
  return out;
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '(gone)';
  }
};

const signal = (pids: number[], sig: NodeJS.Signals) => {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // already gone
    }
  }
};

/** Resolves with `value` after ms, without keeping the process alive (a race's losing timer must not). */
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms).unref());

type Restartable = { restart?: (downMs?: number) => Promise<void> };

test(
  'chaos: SIGKILLed workers, a SIGSTOPped stale worker, Redis and PostgreSQL restarts: every run done, complete, identical, never rewound',
  { timeout: 600_000 },
  async (t) => {
    const redis = await startRedis();
    if (isSkip(redis)) return skipOrFail(t, redis);
    const pg = await startPostgres();
    if (isSkip(pg)) {
      await redis.stop();
      return skipOrFail(t, pg);
    }
    const pgUrl = pg.url;
    const procs: Proc[] = [];
    // pass or fail: stop the servers, and nothing of ours may outlive the test (a leftover child holds its output pipe,
    // and with it this process, open)
    t.after(async () => {
      await redis.stop().catch(() => {});
      await pg.stop().catch(() => {});
      const left = descendants(process.pid).filter((p) => !/esbuild/.test(cmdline(p))); // tsx's own esbuild service stays
      if (left.length > 0) {
        console.log(`# chaos: processes left at the end, killed:\n# ${left.map((p) => `${p}: ${cmdline(p).slice(0, 120)}`).join('\n# ')}`);
        signal(left, 'SIGCONT');
        signal(left, 'SIGKILL');
      }
      for (const p of procs) {
        p.child.stdout?.destroy();
        p.child.stderr?.destroy();
      }
    });
    const rng = new SeededRandom(SEED);
    const between = (lo: number, hi: number) => lo + rng.float() * (hi - lo);
    console.log(`# chaos seed ${SEED} (CHAOS_SEED=${SEED} replays the schedule)`);
    const t0 = Date.now();
    const log: string[] = [];
    const say = (m: string) => {
      const line = `# chaos +${((Date.now() - t0) / 1000).toFixed(1)}s ${m}`;
      log.push(line);
      console.log(line);
    };

    const specObj = { name: 'chaos', base: { ...TINY_BASE, steps: STEPS, evalInterval: 50 }, axes: { seed: Array.from({ length: RUNS }, (_, i) => 100 + i) } };
    const dir = mkdtempSync(join(tmp, 'chaos-'));
    const specFile = join(dir, 'chaos.json');
    writeFileSync(specFile, JSON.stringify(specObj));
    const configs = expandSweep(parseSweepSpec(specObj));
    const ids = configs.map(runId);

    const workers: Proc[] = [];
    const startWorker = () => {
      const w = launch(['worker', '--queue', redis.url, '--store', pg.url, ...WORKER_FLAGS]);
      workers.push(w);
      procs.push(w);
      return w;
    };
    startWorker();
    startWorker();
    const sweep = launch(['sweep', specFile, '--queue', redis.url, '--store', pg.url, '--retries', '12', '--checkpoint-every', '10', '--quiet']);
    procs.push(sweep);
    let sweepDone = false;
    void sweep.exited.then(() => (sweepDone = true));

    // ---- the monitor: a finished run must never go back (status, metric rows, checkpoint step)
    const finished = new Map<string, { rows: number; ckpt: number }>();
    const rewinds: string[] = [];
    let polls = 0;
    let monitoring = true;
    const monitor = (async () => {
      let store: Store | undefined;
      while (monitoring) {
        try {
          store ??= await openStore(pg.url);
          for (const run of await store.listRuns()) {
            const seen = finished.get(run.id);
            if (run.state.status !== 'done') {
              if (seen) rewinds.push(`${run.id}: was done, now ${run.state.status}`);
              continue;
            }
            const rows = (await store.readMetrics(run.id)).length;
            const ckpt = (await store.loadCheckpoint(run.id))?.step ?? -1;
            if (seen && (rows < seen.rows || ckpt < seen.ckpt))
              rewinds.push(`${run.id}: done with ${seen.rows} rows, checkpoint ${seen.ckpt}; later ${rows} rows, checkpoint ${ckpt}`);
            finished.set(run.id, { rows: Math.max(rows, seen?.rows ?? 0), ckpt: Math.max(ckpt, seen?.ckpt ?? -1) });
          }
          polls++;
        } catch {
          // the store is down (a restart): reconnect on the next poll
          await store?.close().catch(() => {});
          store = undefined;
        }
        await sleep(300);
      }
      await store?.close().catch(() => {});
    })();

    let stopped: Proc | undefined;
    let takenOver: string | undefined;
    const counts = { workerKills: 0, trainerKills: 0, stops: 0, redisRestarts: 0, pgRestarts: 0, workersStarted: 0 };
    const busyWorkers = () => workers.filter((w) => w.alive() && descendants(w.child.pid!).length > 0);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rng.float() * xs.length)];

    /** the live workers training something, waiting up to 5 s for one (between jobs a worker has no trainer child) */
    async function waitBusy(): Promise<Proc[]> {
      for (let i = 0; i < 25 && !sweepDone; i++) {
        const busy = busyWorkers();
        if (busy.length > 0) return busy;
        await sleep(200);
      }
      return [];
    }

    async function kill(): Promise<void> {
      await sleep(between(800, 3000));
      const busy = await waitBusy();
      if (sweepDone || busy.length === 0) return say('kill: no busy worker');
      const w = pick(busy);
      const kids = descendants(w.child.pid!);
      if (rng.float() < 0.35) {
        // only the trainer: the worker sees its child die and the job is retried
        signal(kids, 'SIGKILL');
        counts.trainerKills++;
        say(`SIGKILL trainer ${kids.join(',')} of worker ${w.child.pid}`);
      } else {
        // the whole worker (a machine gone): the job stalls and another worker takes it over
        signal([w.child.pid!, ...kids], 'SIGKILL');
        counts.workerKills++;
        say(`SIGKILL worker ${w.child.pid} and its trainer ${kids.join(',')}`);
        await sleep(300);
        startWorker();
        counts.workersStarted++;
      }
    }

    async function restart(what: 'redis' | 'postgres', downMs: number): Promise<void> {
      await sleep(between(500, 2000));
      const server = (what === 'redis' ? redis : pg) as Restartable;
      assert.ok(typeof server.restart === 'function', `test/helpers/services.ts has no ${what} restart() helper yet`);
      say(`restarting ${what} (down ${downMs} ms)`);
      await server.restart(downMs);
      if (what === 'redis') counts.redisRestarts++;
      else counts.pgRestarts++;
      say(`${what} is back`);
    }

    async function stopPastLock(): Promise<void> {
      await sleep(between(500, 2000));
      const store = await openStore(pgUrl);
      try {
        // a worker whose trainer holds a running run's lease (the lease names the trainer's pid), within 20 s
        let target: { w: Proc; tree: number[]; id: string; epoch: number } | undefined;
        for (let i = 0; i < 40 && !sweepDone && target === undefined; i++) {
          const candidates: { w: Proc; tree: number[]; id: string; epoch: number }[] = [];
          for (const w of busyWorkers()) {
            const tree = [w.child.pid!, ...descendants(w.child.pid!)];
            for (const id of ids) {
              const lease = await store.getLease(id).catch(() => undefined); // not-found: the run has not started
              if (lease && tree.includes(lease.pid) && (await store.getRun(id))?.state.status === 'running')
                candidates.push({ w, tree, id, epoch: lease.epoch });
            }
          }
          if (candidates.length > 0) target = pick(candidates);
          else await sleep(500);
        }
        if (target === undefined) return say('stop: no worker holding a run');
        const { w, tree, id, epoch } = target;
        signal(tree, 'SIGSTOP');
        const stoppedAt = Date.now();
        counts.stops++;
        stopped = w;
        say(`SIGSTOP worker tree ${tree.join(',')} (lock ${LOCK_MS} ms), holding ${id} at epoch ${epoch}`);
        // a worker must be free to take the stalled job over meanwhile
        startWorker();
        counts.workersStarted++;
        // stopped past its lock until another worker has taken the run over (a new epoch) or finished it, 240 s at most: the other worker first finishes the run it holds (900 steps)
        while (Date.now() - stoppedAt < 240_000) {
          await sleep(500);
          const lease = await store.getLease(id).catch(() => undefined);
          const status = (await store.getRun(id).catch(() => undefined))?.state.status;
          if ((lease && lease.epoch > epoch && !tree.includes(lease.pid)) || status === 'done') {
            takenOver = id;
            break;
          }
        }
        await sleep(LOCK_MS); // and let the new holder write a while
        signal(tree, 'SIGCONT');
        say(
          `SIGCONT worker tree ${tree.join(',')} after ${Date.now() - stoppedAt} ms${takenOver ? `: ${takenOver} was taken over meanwhile; the stale trainer must not write to it` : ''}`,
        );
      } finally {
        await store.close();
      }
    }

    let sweepOut = '';
    try {
      // wait for training to start
      const started = Date.now();
      while (busyWorkers().length === 0 && !sweepDone && Date.now() - started < 120_000) await sleep(200);
      await sleep(1500);
      const phases: [string, () => Promise<void>][] = [
        ['kill', kill],
        ['kill', kill],
        ['stop', stopPastLock],
        ['kill', kill],
        ['redis', () => restart('redis', 1500)],
        ['kill', kill],
        ['kill', kill],
        ['postgres', () => restart('postgres', 4000)],
        ['kill', kill],
        ['kill', kill],
      ];
      const skipped: string[] = [];
      for (const [name, phase] of phases) {
        if (sweepDone) skipped.push(name);
        else await phase();
      }
      const code = await Promise.race([sweep.exited, after(300_000, 'timeout')]);
      sweepOut = sweep.out();
      assert.equal(code, 0, `the sweep exited ${code}:\n${sweepOut.slice(-4000)}\n${log.join('\n')}`);
      assert.deepEqual(skipped, [], `the sweep ended before these chaos phases ran (make it longer): ${skipped.join(', ')}`);
      await sleep(1000); // a last monitor poll after the end
    } finally {
      monitoring = false;
      await monitor;
      for (const w of workers) signal([w.child.pid!, ...descendants(w.child.pid!)], 'SIGCONT');
      for (const w of workers) if (w.alive()) w.child.kill('SIGTERM');
      if (!sweepDone) sweep.child.kill('SIGTERM');
      await Promise.race([Promise.all(workers.map((w) => w.exited)), after(15_000, 'timeout')]);
      for (const w of workers) if (w.alive()) w.child.kill('SIGKILL');
    }

    // ---- the checks, against the same configs trained alone
    const store = await openStore(pg.url);
    let rowsChecked = 0;
    try {
      for (const [i, config] of configs.entries()) {
        const id = ids[i];
        const run = await store.getRun(id);
        assert.equal(run?.state.status, 'done', `${id}: ${JSON.stringify(run?.state)}`);
        const rows = await store.readMetrics(id);
        assertComplete(rows, STEPS, id);
        assert.deepEqual(measured(rows), measured(await referenceRows(config)), `${id} differs from the run trained alone`);
        assert.equal((await store.loadCheckpoint(id))?.step, STEPS, `${id}: the final checkpoint`);
        rowsChecked += rows.length;
      }
    } finally {
      await store.close();
    }
    assert.deepEqual(rewinds, [], 'a finished run went back');
    // the paused worker really was a stale writer: its run was taken over while it slept, and on waking it let go
    assert.ok(takenOver, `the SIGSTOPped worker's run was not taken over within 240 s:\n${log.join('\n')}`);
    const staleLines = stopped!
      .out()
      .split('\n')
      .filter((l) => l.includes(takenOver!) && /took it over|fenced|taken over/.test(l));
    assert.ok(staleLines.length > 0, `the stale worker never said it was fenced out of ${takenOver}:\n${stopped!.out().slice(-3000)}`);
    console.log(`# chaos: the stale worker on waking: ${staleLines[0].trim().slice(0, 300)}`);
    assert.ok(
      counts.workerKills + counts.trainerKills >= 5 && counts.stops === 1 && counts.redisRestarts === 1 && counts.pgRestarts === 1,
      JSON.stringify(counts),
    );
    const secs = ((Date.now() - t0) / 1000).toFixed(0);
    console.log(
      `# chaos seed ${SEED}: ${counts.workerKills} worker SIGKILLs + ${counts.trainerKills} trainer SIGKILLs, ${counts.stops} SIGSTOP/SIGCONT past the lock, ` +
        `${counts.redisRestarts} Redis and ${counts.pgRestarts} PostgreSQL restarts, ${workers.length} workers in all; ${RUNS} runs done, ` +
        `${rowsChecked} metric rows checked equal to the uninterrupted runs, ${finished.size} finished runs watched over ${polls} polls, 0 rewound; ${secs} s`,
    );
  },
);
