// The local executor: P trainer child processes on this machine, one run each at a time, crashed runs retried (they
// resume from their checkpoints), abort = checkpoint and stop. The run itself is trainRun's; drawing progress the CLI's.
import { availableParallelism, hostname } from 'node:os';
import { openStore, StoreError } from '../store/store.ts';
import { DEFAULT_OUTAGE_WINDOW_MS, withRetry } from '../store/errors.ts';
import { runId, runName, totalSteps, type RunConfig } from '../train/config.ts';
import { TrainerCrash, TrainerError, TrainerProcess } from './trainer-process.ts';
import {
  fromOutcome,
  partitionFinished,
  trainerHooks,
  sweepStatus,
  type Executor,
  type SweepRequest,
  type SweepResult,
  type SweepRunResult,
} from './executor.ts';

export interface LocalExecutorOptions {
  /** worker processes; default: cores / threads per run (at least 1) */
  workers?: number;
}

/** Workers that fit on this machine when each run uses `threadsPerWorker` threads. */
function defaultWorkers(threadsPerWorker = 1): number {
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, threadsPerWorker)));
}

export function createLocalExecutor(options: LocalExecutorOptions = {}): Executor {
  return {
    kind: 'local',
    run: (request) => runLocal(request, options),
  };
}

async function runLocal(request: SweepRequest, options: LocalExecutorOptions): Promise<SweepResult> {
  const { exec, signal, onEvent } = request;
  const retries = request.retries ?? 2;
  const store = await openStore(exec.store);
  let finished: SweepRunResult[];
  let queue: RunConfig[];
  try {
    ({ finished, todo: queue } = await partitionFinished(store, request.configs));
  } finally {
    await store.close();
  }
  const results = new Map<string, SweepRunResult>(finished.map((r) => [r.id, r]));
  const attempts = new Map<string, number>();
  const workers = Math.min(options.workers ?? defaultWorkers(exec.threads ?? 1), Math.max(1, queue.length));
  const active = new Set<TrainerProcess>();
  const onAbort = () => active.forEach((p) => p.stop());
  signal?.addEventListener('abort', onAbort);
  // the first unexpected error (a store write, an onEvent callback throwing): no slot takes another run, the running
  // ones checkpoint and stop, and once every slot is back the error is rethrown (no trainer left with nobody waiting)
  let broken: { error: unknown } | undefined;
  const stopping = () => signal?.aborted || broken !== undefined;

  // one slot per worker process: take the next run, hand it over, replace the process if it dies
  const slot = async () => {
    let proc: TrainerProcess | undefined;
    try {
      while (queue.length > 0 && !stopping()) {
        const config = queue.shift()!;
        const id = runId(config);
        const name = runName(config);
        const attempt = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, attempt);
        if (!proc?.alive) proc = TrainerProcess.start();
        const worker = `${hostname()}:${proc.pid}`;
        onEvent?.({ kind: 'start', id, name, worker, attempt, totalSteps: totalSteps(config) });
        active.add(proc);
        try {
          const outcome = await proc.run({ config, exec, sweep: request.sweep, worker, attempt, store: request.store }, trainerHooks(id, onEvent));
          const r = fromOutcome(outcome, attempt);
          results.set(id, r);
          onEvent?.({
            kind: 'end',
            id,
            name,
            status: r.status,
            step: r.step,
            totalSteps: r.totalSteps,
            finalTrainLoss: r.finalTrainLoss,
            finalTestLoss: r.finalTestLoss,
            message: r.message,
          });
        } catch (err) {
          if (!(err instanceof TrainerCrash || err instanceof TrainerError)) throw err;
          // a run that throws with a hint (bad corpus, spec clash, fenced) fails the same way every time: no retry; a
          // store outage longer than the window spends an attempt like a crash
          const retry = attempt <= retries && !(err instanceof TrainerError && err.final) && !stopping();
          onEvent?.({ kind: 'crash', id, name, attempt, worker, message: err.message, retry });
          if (retry) queue.unshift(config);
          else await fail(config, attempt, err, worker);
        } finally {
          active.delete(proc);
        }
      }
    } finally {
      await proc?.close();
    }
  };

  const fail = async (config: RunConfig, attempt: number, err: Error, worker: string) => {
    const id = runId(config);
    const message = `${err.message}${err instanceof TrainerError && err.hint ? ` (${err.hint})` : ''} after ${attempt} attempt(s)`;
    const s = await withRetry(() => openStore(exec.store, { outageWindowMs: request.store?.outageWindowMs ?? DEFAULT_OUTAGE_WINDOW_MS }), {
      windowMs: request.store?.outageWindowMs ?? DEFAULT_OUTAGE_WINDOW_MS,
    });
    try {
      if (await s.getRun(id)) await s.setStatus(id, 'failed', { message, worker, attempt });
    } catch (e) {
      // another holder has the run, or it is finished: nothing of ours to record
      if (!(e instanceof StoreError && ['held', 'fenced', 'finished'].includes(e.code))) throw e;
    } finally {
      await s.close();
    }
    results.set(id, { id, name: runName(config), status: 'failed', step: 0, totalSteps: totalSteps(config), attempts: attempt, message });
    onEvent?.({ kind: 'end', id, name: runName(config), status: 'failed', step: 0, totalSteps: totalSteps(config), message });
  };

  const guarded = () =>
    slot().catch((error: unknown) => {
      if (broken) return;
      broken = { error };
      onAbort();
    });
  try {
    await Promise.all(Array.from({ length: queue.length > 0 ? workers : 0 }, guarded));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (broken) throw broken.error;
  // runs never started (aborted before their turn) are reported as they stand
  for (const config of request.configs) {
    const id = runId(config);
    if (!results.has(id))
      results.set(id, { id, name: runName(config), status: 'interrupted', step: 0, totalSteps: totalSteps(config), attempts: 0, message: 'not started' });
  }
  const runs = request.configs.map((c) => results.get(runId(c))!);
  return { status: sweepStatus(runs), runs, skipped: finished.length };
}
