// The distributed executor on BullMQ + Redis: `sweep --queue` enqueues a job per run (jobId = run id) and watches the
// shared store; `worker` takes jobs on any machine and trains each in a trainer child process. Runs and rows are the store's.
import { hostname } from 'node:os';
import { Queue, UnrecoverableError, Worker, WaitingError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { openStore, StoreError } from '../store/store.ts';
import { DEFAULT_OUTAGE_WINDOW_MS, OutageTracker, formatOutage, isTransient, withRetry } from '../store/errors.ts';
import { runId, runName, totalSteps, type ExecOptions, type RunConfig } from '../train/config.ts';
import { redactUrl } from '../util/redact.ts';
import { TrainerCrash, TrainerError, TrainerProcess, type StoreTimeouts } from './trainer-process.ts';
import {
  isFinished,
  partitionFinished,
  sweepStatus,
  trainerHooks,
  type Executor,
  type SweepEvent,
  type SweepRequest,
  type SweepResult,
  type SweepRunResult,
} from './executor.ts';

export const DEFAULT_QUEUE_NAME = 'scaling-lab';

/** A queue that cannot be used (bad URL, unreachable Redis), with what to do about it. */
export class QueueError extends Error {
  override name = 'QueueError';
  constructor(
    message: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface JobData {
  config: RunConfig;
  sweep: string;
  checkpointEvery: number;
}

interface JobResult {
  status: string;
  step: number;
  finalTrainLoss?: number;
  finalTestLoss?: number;
}

// ---- connecting: fail within seconds, never retry forever (ioredis's default)

/**
 * Redis commands fail after this long instead of hanging on a frozen server (then the outage window applies). The
 * worker's is above BullMQ's longest blocking fetch (10 s).
 */
const COMMAND_TIMEOUT_MS = { producer: 10_000, worker: 30_000 } as const;

/**
 * Checks that Redis answers at `url` within `timeoutMs` (one try, no reconnects), then returns a connection for
 * BullMQ. A worker's needs maxRetriesPerRequest null (BullMQ's blocking commands); the enqueuing side's gives up after
 * a few reconnects, so a Redis that goes away ends the watch with an error instead of a hang.
 */
export async function connectQueue(url: string, timeoutMs = 3000, role: 'worker' | 'producer' = 'producer'): Promise<Redis> {
  if (!/^rediss?:\/\//i.test(url)) {
    throw new QueueError(`bad queue URL ${redactUrl(url)}`, 'give a Redis URL: redis://[user:password@]host:port[/db]');
  }
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => {});
  try {
    await Promise.race([
      probe.connect().then(() => probe.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs + 500).unref()),
    ]);
  } catch (err) {
    throw new QueueError(
      `cannot reach the queue ${redactUrl(url)}: ${(err as Error).message}`,
      'start Redis there, or fix the host and port in --queue redis://host:port',
      { cause: err },
    );
  } finally {
    probe.disconnect();
  }
  const conn = new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    connectTimeout: timeoutMs,
    commandTimeout: COMMAND_TIMEOUT_MS[role],
    retryStrategy: (times) => Math.min(200 * times, 2000),
  });
  conn.on('error', () => {}); // reconnects are ioredis's; an outage surfaces as failed commands, which withRetry waits out
  return conn;
}

// ---- the enqueuing side

export interface QueueExecutorOptions {
  /** redis://host:port */
  url: string;
  queueName?: string;
  /** first retry delay after a failed attempt (exponential backoff); default 1000 ms */
  backoffMs?: number;
  /** how often the store is read for progress; default 500 ms */
  pollMs?: number;
  /** how long the watcher waits out a Redis or PostgreSQL outage before it fails; default 10 min */
  outageWindowMs?: number;
}

/** A StoreError that says another holder owns the run, or that it is finished: an executor's bookkeeping write is moot. */
const isMoot = (err: unknown) => err instanceof StoreError && ['held', 'fenced', 'finished'].includes(err.code);

export function createQueueExecutor(options: QueueExecutorOptions): Executor {
  return { kind: 'queue', run: (request) => runQueued(request, options) };
}

async function runQueued(request: SweepRequest, options: QueueExecutorOptions): Promise<SweepResult> {
  const { exec, signal, onEvent } = request;
  const retries = request.retries ?? 2;
  const windowMs = request.store?.outageWindowMs ?? options.outageWindowMs ?? DEFAULT_OUTAGE_WINDOW_MS;
  // an outage of either service is waited out, and reported as one line when it ends
  const report = (o: Parameters<typeof formatOutage>[0]) => onEvent?.({ kind: 'notice', message: formatOutage(o) });
  const connection = await connectQueue(options.url);
  const store = await openStore(exec.store, { outageWindowMs: windowMs, statementTimeoutMs: request.store?.statementTimeoutMs, onOutage: report }).catch(
    async (err) => {
      connection.disconnect();
      throw err;
    },
  );
  const queueOutage = new OutageTracker(`queue ${redactUrl(options.url)}`, report);
  const q = <T>(fn: () => Promise<T>) => withRetry(fn, { windowMs, tracker: queueOutage, signal });
  const queue = new Queue<JobData, JobResult>(options.queueName ?? DEFAULT_QUEUE_NAME, { connection });
  // connection errors while Redis is away are the outage (one line when it ends), not a line each
  queue.on('error', (err) => (isTransient(err) ? queueOutage.fail(err) : onEvent?.({ kind: 'notice', message: `queue: ${err.message}` })));
  try {
    const { finished, todo } = await partitionFinished(store, request.configs);
    const results = new Map<string, SweepRunResult>(finished.map((r) => [r.id, r]));

    // ---- enqueue: idempotent by run id. A run that failed for good before starts afresh: its store status goes back to
    // pending (else the first poll would report the old failure while a worker trains it), and its finished job is
    // replaced by a new one (all its attempts again, and this call's job data)
    for (const config of todo) {
      const id = runId(config);
      const run = await store.getRun(id);
      if (run?.state.status === 'failed') await store.setStatus(id, 'pending', { step: run.state.step, message: 'failed before; queued again' });
      const job = await q(() => queue.getJob(id));
      const state = job ? await q(() => job.getState()) : undefined;
      if (job && (state === 'failed' || state === 'completed')) {
        await q(() => job.remove());
        await q(() => add(queue, config, request, retries, options));
      } else if (!job) await q(() => add(queue, config, request, retries, options));
      onEvent?.({
        kind: 'notice',
        id,
        message: `${id}: ${state === undefined ? 'queued' : state === 'failed' ? 'failed before; queued again' : state === 'completed' ? 'queued again' : `already ${state} in the queue`}`,
      });
    }

    // ---- watch the store (and the queue for runs that failed for good) until every run is finished
    const seen = new Map<string, { status?: string; step?: number; worker?: string; attempt?: number }>();
    const mostAttempts = new Map<string, number>();
    const pending = new Set(todo.map(runId));
    const byId = new Map(todo.map((c) => [runId(c), c]));
    while (pending.size > 0 && !signal?.aborted) {
      // a copy: the loop deletes from pending as runs finish
      // oxlint-disable-next-line unicorn/no-useless-spread
      for (const id of [...pending]) {
        const config = byId.get(id)!;
        const name = runName(config);
        const steps = totalSteps(config);
        const run = await store.getRun(id);
        const last = seen.get(id) ?? {};
        const st = run?.state;
        if (st && st.status === 'running' && (st.worker !== last.worker || st.attempt !== last.attempt)) {
          onEvent?.({ kind: 'start', id, name, worker: st.worker ?? '?', attempt: st.attempt ?? 1, totalSteps: steps });
        }
        if (st && st.step !== undefined && st.step !== last.step && !isFinished(st.status)) onEvent?.({ kind: 'step', id, step: st.step, totalSteps: steps });
        seen.set(id, { status: st?.status, step: st?.step, worker: st?.worker, attempt: st?.attempt });
        // the final status may not carry the attempt: the highest one seen while it ran is how many it took
        if (st?.attempt !== undefined) mostAttempts.set(id, Math.max(mostAttempts.get(id) ?? 1, st.attempt));
        let result: SweepRunResult | undefined;
        if (st && (isFinished(st.status) || st.status === 'failed')) {
          const rows = await store.readMetrics(id);
          result = {
            id,
            name,
            status: st.status,
            step: st.step ?? rows.at(-1)?.step ?? 0,
            totalSteps: steps,
            attempts: Math.max(st.attempt ?? 1, mostAttempts.get(id) ?? 1),
            finalTrainLoss: rows.at(-1)?.trainLoss,
            finalTestLoss: rows.findLast((r) => r.testLoss !== undefined)?.testLoss,
            message: st.message,
          };
        } else {
          const job = await q(() => queue.getJob(id));
          if (job && (await q(() => job.getState())) === 'failed') {
            const tries = job.attemptsMade + (job.stalledCounter ?? 0);
            const message = `job failed after ${tries} attempt(s): ${job.failedReason}`;
            if (run)
              await store.setStatus(id, 'failed', { message, attempt: tries }).catch((err: unknown) => {
                if (!isMoot(err)) throw err;
              });
            result = { id, name, status: 'failed', step: st?.step ?? 0, totalSteps: steps, attempts: tries, message };
          }
        }
        if (result) {
          pending.delete(id);
          results.set(id, result);
          onEvent?.({
            kind: 'end',
            id,
            name,
            status: result.status,
            step: result.step,
            totalSteps: steps,
            finalTrainLoss: result.finalTrainLoss,
            finalTestLoss: result.finalTestLoss,
            message: result.message,
          });
        }
      }
      if (pending.size > 0) await sleep(options.pollMs ?? 500, signal);
    }
    for (const id of pending) {
      const c = byId.get(id)!;
      results.set(id, {
        id,
        name: runName(c),
        status: 'interrupted',
        step: seen.get(id)?.step ?? 0,
        totalSteps: totalSteps(c),
        attempts: 0,
        message: 'stopped watching; the job stays in the queue',
      });
    }
    const runs = request.configs.map((c) => results.get(runId(c))!);
    return { status: sweepStatus(runs), runs, skipped: finished.length };
  } finally {
    await Promise.race([queue.close(), sleep(5000)]).catch(() => {});
    await store.close();
    connection.disconnect();
  }
}

function add(queue: Queue<JobData, JobResult>, config: RunConfig, request: SweepRequest, retries: number, options: QueueExecutorOptions) {
  const id = runId(config);
  return queue.add(
    runName(config),
    { config, sweep: request.sweep, checkpointEvery: request.exec.checkpointEvery },
    {
      jobId: id,
      attempts: retries + 1,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
      removeOnComplete: true,
      removeOnFail: false,
    },
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

// ---- the working side: `scaling-lab worker`

export interface QueueWorkerOptions {
  url: string;
  queueName?: string;
  /** runs at once on this machine, each in its own trainer process; default 1 */
  concurrency?: number;
  /** backend, threads per run, store (checkpointEvery comes with each job) */
  exec: Omit<ExecOptions, 'checkpointEvery'>;
  /** a job whose worker stops renewing its lock for this long counts as stalled; default 30000 ms */
  lockDurationMs?: number;
  /** how often this worker looks for stalled jobs (and takes them back); default 30000 ms */
  stalledIntervalMs?: number;
  /**
   * BullMQ's own cap on how often a job may stall (its worker died or lost the lock) before it fails. Default: none of
   * its own (1000): a death counts as an attempt, against the job's attempts (the sweep's --retries + 1).
   */
  maxStalled?: number;
  /** how store and queue calls wait out outages, and the PostgreSQL statement timeout (passed on to the trainers) */
  store?: StoreTimeouts;
  /** abort: stop taking jobs, checkpoint the current runs (their jobs go back to waiting), return */
  signal?: AbortSignal;
  onEvent?: (event: SweepEvent) => void;
}

/** No cap of BullMQ's own on stalls: the job's attempts (--retries + 1) count worker deaths and crashes together. */
const UNCAPPED_STALLS = 1000;

/** Takes jobs until aborted. Resolves once every run it held is checkpointed and its job handed back. */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<void> {
  const { onEvent } = options;
  const windowMs = options.store?.outageWindowMs ?? DEFAULT_OUTAGE_WINDOW_MS;
  const report = (o: Parameters<typeof formatOutage>[0]) => onEvent?.({ kind: 'notice', message: formatOutage(o) });
  const connection = await connectQueue(options.url, 3000, 'worker');
  const store = await openStore(options.exec.store, {
    outageWindowMs: windowMs,
    statementTimeoutMs: options.store?.statementTimeoutMs,
    onOutage: report,
  }).catch(async (err) => {
    connection.disconnect();
    throw err;
  });
  const me = `${hostname()}:${process.pid}`;
  const idle: TrainerProcess[] = [];
  const active = new Set<TrainerProcess>();
  const lockDuration = options.lockDurationMs ?? 30_000;
  const queueOutage = new OutageTracker(`queue ${redactUrl(options.url)}`, report);
  /** the jobs this worker holds, for lock renewal: only while the trainer's store answers (see renewLocks) */
  const held = new Map<string, { job: Job<JobData, JobResult>; token: string; proc: TrainerProcess; skipping: boolean; lost: boolean }>();

  /** A bookkeeping write (failed) that is moot when another holder has the run or it is finished. */
  const markFailed = async (id: string, message: string, attempt: number) => {
    try {
      if (await store.getRun(id)) await store.setStatus(id, 'failed', { message, worker: me, attempt });
    } catch (err) {
      if (!isMoot(err)) onEvent?.({ kind: 'notice', id, message: `${id}: could not mark the run failed: ${(err as Error).message}` });
    }
  };

  const processor = async (job: Job<JobData, JobResult>, token?: string): Promise<JobResult> => {
    if (options.signal?.aborted) {
      // shutting down: a job fetched while close() began is handed back untouched, without spending an attempt
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const { config, sweep, checkpointEvery } = job.data;
    const id = runId(config);
    const name = runName(config);
    // a worker that died under the job (a stall) used an attempt as much as a crash did
    const deaths = job.stalledCounter ?? 0;
    const attempt = job.attemptsMade + deaths + 1;
    const attempts = job.opts.attempts ?? 1;
    if (attempt > attempts) {
      const message = `its worker died ${deaths} time(s) and it crashed ${job.attemptsMade} time(s): ${attempt - 1} attempt(s), the sweep allows ${attempts} (--retries ${attempts - 1})`;
      onEvent?.({ kind: 'crash', id, name, attempt: attempt - 1, worker: me, message, retry: false });
      await markFailed(id, message, attempt - 1);
      throw new UnrecoverableError(message);
    }
    let proc = idle.pop();
    if (!proc?.alive) proc = TrainerProcess.start();
    active.add(proc);
    const holding = { job, token: token ?? '', proc, skipping: false, lost: false };
    if (token) held.set(id, holding);
    onEvent?.({ kind: 'start', id, name, worker: me, attempt, totalSteps: totalSteps(config) });
    try {
      const running = proc.run(
        { config, sweep, worker: me, attempt, exec: { ...options.exec, checkpointEvery }, store: options.store },
        trainerHooks(id, onEvent),
      );
      // shutdown began after the check above (its stop may have gone out before this run): checkpoint and hand back now
      if (options.signal?.aborted) proc.stop();
      const outcome = await running;
      active.delete(proc);
      idle.push(proc);
      if (outcome.status === 'interrupted') {
        // shutting down: hand the job back without spending an attempt; the next worker resumes from the checkpoint
        await withRetry(() => job.moveToWait(token), { windowMs, tracker: queueOutage });
        onEvent?.({
          kind: 'end',
          id,
          name,
          status: 'interrupted',
          step: outcome.step,
          totalSteps: outcome.totalSteps,
          message: 'checkpointed; job back in the queue',
        });
        throw new WaitingError();
      }
      onEvent?.({
        kind: 'end',
        id,
        name,
        status: outcome.status,
        step: outcome.step,
        totalSteps: outcome.totalSteps,
        finalTrainLoss: outcome.finalTrainLoss,
        finalTestLoss: outcome.finalTestLoss,
        message: outcome.message,
      });
      return { status: outcome.status, step: outcome.step, finalTrainLoss: outcome.finalTrainLoss, finalTestLoss: outcome.finalTestLoss };
    } catch (err) {
      active.delete(proc);
      if (!(err instanceof TrainerCrash || err instanceof TrainerError)) throw err;
      if (proc.alive) idle.push(proc);
      if (holding.lost || (err instanceof TrainerError && err.code === 'fenced')) {
        // the run is another worker's now: nothing to record, and this attempt is not ours to spend
        onEvent?.({ kind: 'notice', id, message: `${id}: left to the worker that took it over (${err.message})` });
        throw err;
      }
      // a hint means retrying cannot help (bad corpus, spec clash), unless the store was away past the outage window
      const final = attempt >= attempts || (err instanceof TrainerError && err.final);
      onEvent?.({ kind: 'crash', id, name, attempt, worker: me, message: err.message, retry: !final });
      if (final) {
        await markFailed(id, `${err.message} after ${attempt} attempt(s)`, attempt);
        // BullMQ counts only its own attempts (not stalls): make sure it does not retry a final failure
        throw new UnrecoverableError(err.message);
      }
      throw err;
    } finally {
      held.delete(id);
    }
  };

  const worker = new Worker<JobData, JobResult>(options.queueName ?? DEFAULT_QUEUE_NAME, processor, {
    connection,
    concurrency: options.concurrency ?? 1,
    lockDuration,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalled ?? UNCAPPED_STALLS,
    // the locks are renewed below, and only while the trainer's store answers
    skipLockRenewal: true,
    drainDelay: 1,
    // a failed Redis call in BullMQ's own loop is tried again after this long
    runRetryDelay: 1000,
    name: me,
  });
  // connection errors while Redis is away are the outage (one line when it ends), not a line each
  worker.on('error', (err) => (isTransient(err) ? queueOutage.fail(err) : onEvent?.({ kind: 'notice', message: `queue: ${err.message}` })));
  // BullMQ retries its own Redis calls; the first job event after an outage closes it
  const recovered = () => queueOutage.ok();
  worker.on('active', recovered);
  worker.on('completed', recovered);
  worker.on('failed', recovered);
  worker.on('drained', recovered);

  /**
   * Renews the job locks every lockDuration/2, except for a run whose trainer has had a store call outstanding for a
   * lockDuration or more (a frozen or unreachable store): its lock lapses, so another worker can take the job over
   * (fencing makes the old trainer's later writes harmless). A lock found lost stops the trainer.
   */
  const renewLocks = async () => {
    for (const [id, h] of held) {
      const stuckMs = h.proc.storeBusySince === undefined ? 0 : Date.now() - h.proc.storeBusySince;
      if (stuckMs >= lockDuration) {
        if (!h.skipping)
          onEvent?.({
            kind: 'notice',
            id,
            message: `${id}: the store has not answered for ${(stuckMs / 1000).toFixed(0)} s; not renewing the job lock, so another worker can take the run over`,
          });
        h.skipping = true;
        continue;
      }
      h.skipping = false;
      try {
        const renewed = await h.job.extendLock(h.token, lockDuration);
        queueOutage.ok();
        if (!renewed && held.get(id) === h && !h.lost) {
          h.lost = true;
          onEvent?.({ kind: 'notice', id, message: `${id}: lost the job lock (another worker took the run over); stopping this trainer` });
          h.proc.kill();
        }
      } catch (err) {
        if (isTransient(err)) queueOutage.fail(err);
        else onEvent?.({ kind: 'notice', id, message: `queue: renewing the lock of ${id}: ${(err as Error).message}` });
      }
    }
  };
  let renewing = false;
  const renewTimer = setInterval(() => {
    if (renewing) return;
    renewing = true;
    void renewLocks().finally(() => (renewing = false));
  }, lockDuration / 2);

  onEvent?.({
    kind: 'notice',
    message: `worker ${me} taking jobs from ${redactUrl(options.url)} (queue ${options.queueName ?? DEFAULT_QUEUE_NAME}), store ${store.location}`,
  });

  await new Promise<void>((resolve) => {
    if (options.signal?.aborted) resolve();
    options.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  // stop taking jobs, ask the running ones to checkpoint, wait for them to hand their jobs back
  const closing = worker.close();
  active.forEach((p) => p.stop());
  await closing;
  clearInterval(renewTimer);
  await Promise.all([...idle, ...active].map((p) => p.close()));
  await store.close();
  connection.disconnect();
}
