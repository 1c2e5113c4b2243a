// The distributed executor on BullMQ + Redis: `sweep --queue` enqueues a job per run (jobId = run id) and watches the
// shared store; `worker` takes jobs on any machine and trains each in a trainer child process. Runs and rows are the store's.
import { hostname } from 'node:os';
import { Queue, Worker, WaitingError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { openStore, type Store } from '../store/store.ts';
import { runId, runName, totalSteps, type ExecOptions, type RunConfig } from '../train/config.ts';
import { TrainerCrash, TrainerError, TrainerProcess } from './trainer-process.ts';
import { isFinished, partitionFinished, sweepStatus, type Executor, type SweepEvent, type SweepRequest, type SweepResult, type SweepRunResult } from './executor.ts';

export const DEFAULT_QUEUE_NAME = 'scaling-lab';

/** A queue that cannot be used (bad URL, unreachable Redis), with what to do about it. */
export class QueueError extends Error {
  override name = 'QueueError';
  constructor(message: string, readonly hint: string, options?: { cause?: unknown }) {
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

const redact = (url: string) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

/**
 * Checks that Redis answers at `url` within `timeoutMs` (one try, no reconnects), then returns a connection for
 * BullMQ. A worker's needs maxRetriesPerRequest null (BullMQ's blocking commands); the enqueuing side's gives up after
 * a few reconnects, so a Redis that goes away ends the watch with an error instead of a hang.
 */
export async function connectQueue(url: string, timeoutMs = 3000, role: 'worker' | 'producer' = 'producer'): Promise<Redis> {
  if (!/^rediss?:\/\//i.test(url)) {
    throw new QueueError(`bad queue URL ${redact(url)}`, 'give a Redis URL: redis://[user:password@]host:port[/db]');
  }
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => {});
  try {
    await Promise.race([
      probe.connect().then(() => probe.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs + 500).unref()),
    ]);
  } catch (err) {
    throw new QueueError(`cannot reach the queue ${redact(url)}: ${(err as Error).message}`, 'start Redis there, or fix the host and port in --queue redis://host:port', { cause: err });
  } finally {
    probe.disconnect();
  }
  const conn = new Redis(url, { maxRetriesPerRequest: role === 'worker' ? null : 3, connectTimeout: timeoutMs, retryStrategy: (times) => Math.min(200 * times, 2000) });
  conn.on('error', () => {}); // reconnects are ioredis's; a lasting outage surfaces as failed commands
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
}

export function createQueueExecutor(options: QueueExecutorOptions): Executor {
  return { kind: 'queue', run: (request) => runQueued(request, options) };
}

async function runQueued(request: SweepRequest, options: QueueExecutorOptions): Promise<SweepResult> {
  const { exec, signal, onEvent } = request;
  const retries = request.retries ?? 2;
  const connection = await connectQueue(options.url);
  const store = await openStore(exec.store).catch(async (err) => {
    connection.disconnect();
    throw err;
  });
  const queue = new Queue<JobData, JobResult>(options.queueName ?? DEFAULT_QUEUE_NAME, { connection });
  queue.on('error', (err) => onEvent?.({ kind: 'notice', message: `queue: ${err.message}` }));
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
      const job = await queue.getJob(id);
      const state = job ? await job.getState() : undefined;
      if (job && (state === 'failed' || state === 'completed')) {
        await job.remove();
        await add(queue, config, request, retries, options);
      } else if (!job) await add(queue, config, request, retries, options);
      onEvent?.({ kind: 'notice', id, message: `${id}: ${state === undefined ? 'queued' : state === 'failed' ? 'failed before; queued again' : state === 'completed' ? 'queued again' : `already ${state} in the queue`}` });
    }

    // ---- watch the store (and the queue for runs that failed for good) until every run is finished
    const seen = new Map<string, { status?: string; step?: number; worker?: string; attempt?: number }>();
    const pending = new Set(todo.map(runId));
    const byId = new Map(todo.map((c) => [runId(c), c]));
    while (pending.size > 0 && !signal?.aborted) {
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
        let result: SweepRunResult | undefined;
        if (st && (isFinished(st.status) || st.status === 'failed')) {
          const rows = await store.readMetrics(id);
          result = {
            id, name, status: st.status, step: st.step ?? rows.at(-1)?.step ?? 0, totalSteps: steps, attempts: st.attempt ?? 1,
            finalTrainLoss: rows.at(-1)?.trainLoss, finalTestLoss: rows.findLast((r) => r.testLoss !== undefined)?.testLoss, message: st.message,
          };
        } else {
          const job = await queue.getJob(id);
          if (job && (await job.getState()) === 'failed') {
            const message = `job failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`;
            if (run) await store.setStatus(id, 'failed', { message, attempt: job.attemptsMade });
            result = { id, name, status: 'failed', step: st?.step ?? 0, totalSteps: steps, attempts: job.attemptsMade, message };
          }
        }
        if (result) {
          pending.delete(id);
          results.set(id, result);
          onEvent?.({ kind: 'end', id, name, status: result.status, step: result.step, totalSteps: steps, finalTrainLoss: result.finalTrainLoss, finalTestLoss: result.finalTestLoss, message: result.message });
        }
      }
      if (pending.size > 0) await sleep(options.pollMs ?? 500, signal);
    }
    for (const id of pending) {
      const c = byId.get(id)!;
      results.set(id, { id, name: runName(c), status: 'interrupted', step: seen.get(id)?.step ?? 0, totalSteps: totalSteps(c), attempts: 0, message: 'stopped watching; the job stays in the queue' });
    }
    const runs = request.configs.map((c) => results.get(runId(c))!);
    return { status: sweepStatus(runs), runs, skipped: finished.length };
  } finally {
    await queue.close();
    await store.close();
    connection.disconnect();
  }
}

function add(queue: Queue<JobData, JobResult>, config: RunConfig, request: SweepRequest, retries: number, options: QueueExecutorOptions) {
  const id = runId(config);
  return queue.add(runName(config), { config, sweep: request.sweep, checkpointEvery: request.exec.checkpointEvery }, {
    jobId: id,
    attempts: retries + 1,
    backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
    removeOnComplete: true,
    removeOnFail: false,
  });
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
  /** times a job may stall (a worker died under it) before it fails; default 2 */
  maxStalled?: number;
  /** abort: stop taking jobs, checkpoint the current runs (their jobs go back to waiting), return */
  signal?: AbortSignal;
  onEvent?: (event: SweepEvent) => void;
}

/** Takes jobs until aborted. Resolves once every run it held is checkpointed and its job handed back. */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<void> {
  const connection = await connectQueue(options.url, 3000, 'worker');
  const store = await openStore(options.exec.store).catch(async (err) => {
    connection.disconnect();
    throw err;
  });
  const me = `${hostname()}:${process.pid}`;
  const idle: TrainerProcess[] = [];
  const active = new Set<TrainerProcess>();
  const { onEvent } = options;

  const processor = async (job: Job<JobData, JobResult>, token?: string): Promise<JobResult> => {
    if (options.signal?.aborted) {
      // shutting down: a job fetched while close() began is handed back untouched, without spending an attempt
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const { config, sweep, checkpointEvery } = job.data;
    const id = runId(config);
    const name = runName(config);
    const attempt = job.attemptsMade + 1;
    let proc = idle.pop();
    if (!proc?.alive) proc = TrainerProcess.start();
    active.add(proc);
    onEvent?.({ kind: 'start', id, name, worker: me, attempt, totalSteps: totalSteps(config) });
    try {
      const running = proc.run(
        { config, sweep, worker: me, attempt, exec: { ...options.exec, checkpointEvery } },
        {
          onStep: (s) => onEvent?.({ kind: 'step', id, step: s.step, totalSteps: s.totalSteps, trainLoss: s.trainLoss, testLoss: s.testLoss, tokensPerSecond: s.tokensPerSecond }),
          onNotice: (message) => onEvent?.({ kind: 'notice', message, id }),
        },
      );
      // shutdown began after the check above (its stop may have gone out before this run): checkpoint and hand back now
      if (options.signal?.aborted) proc.stop();
      const outcome = await running;
      active.delete(proc);
      idle.push(proc);
      if (outcome.status === 'interrupted') {
        // shutting down: hand the job back without spending an attempt; the next worker resumes from the checkpoint
        await job.moveToWait(token);
        onEvent?.({ kind: 'end', id, name, status: 'interrupted', step: outcome.step, totalSteps: outcome.totalSteps, message: 'checkpointed; job back in the queue' });
        throw new WaitingError();
      }
      onEvent?.({ kind: 'end', id, name, status: outcome.status, step: outcome.step, totalSteps: outcome.totalSteps, finalTrainLoss: outcome.finalTrainLoss, finalTestLoss: outcome.finalTestLoss, message: outcome.message });
      return { status: outcome.status, step: outcome.step, finalTrainLoss: outcome.finalTrainLoss, finalTestLoss: outcome.finalTestLoss };
    } catch (err) {
      active.delete(proc);
      if (!(err instanceof TrainerCrash || err instanceof TrainerError)) throw err;
      if (proc.alive) idle.push(proc);
      const final = attempt >= (job.opts.attempts ?? 1) || (err instanceof TrainerError && err.hint !== undefined);
      onEvent?.({ kind: 'crash', id, name, attempt, worker: me, message: err.message, retry: !final });
      if (final && (await store.getRun(id))) await store.setStatus(id, 'failed', { message: `${err.message} after ${attempt} attempt(s)`, worker: me, attempt });
      throw err;
    }
  };

  const worker = new Worker<JobData, JobResult>(options.queueName ?? DEFAULT_QUEUE_NAME, processor, {
    connection,
    concurrency: options.concurrency ?? 1,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalled ?? 2,
    drainDelay: 1,
    name: me,
  });
  worker.on('error', (err) => onEvent?.({ kind: 'notice', message: `queue: ${err.message}` }));
  onEvent?.({ kind: 'notice', message: `worker ${me} taking jobs from ${redact(options.url)} (queue ${options.queueName ?? DEFAULT_QUEUE_NAME}), store ${store.location}` });

  await new Promise<void>((resolve) => {
    if (options.signal?.aborted) resolve();
    options.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  // stop taking jobs, ask the running ones to checkpoint, wait for them to hand their jobs back
  const closing = worker.close();
  active.forEach((p) => p.stop());
  await closing;
  await Promise.all([...idle, ...active].map((p) => p.close()));
  await store.close();
  connection.disconnect();
}
