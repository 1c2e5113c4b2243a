// The one executor interface (local process pool, distributed queue), its events and result, and runSweep:
// spec -> runs -> sweep record in the store -> executor. Process and queue mechanics live in local.ts and queue.ts.
import type { RunStatus } from '../analysis/records.ts';
import { openStore, type RecordedSweep, type Store } from '../store/store.ts';
import { DEFAULT_OUTAGE_WINDOW_MS } from '../store/errors.ts';
import { runId, totalSteps, type ExecOptions, type RunConfig } from '../train/config.ts';
import type { RunOutcome } from '../train/run.ts';
import type { StepEvent, StoreTimeouts } from './trainer-process.ts';
import { SweepSpecError, expandSweep, makeManifest, type SweepManifest, type SweepSpec } from './spec.ts';

// ---- events: what an executor tells its caller while it works (the CLI draws them; the library never prints)

export type SweepEvent =
  /** a run was handed to a worker (attempt 1 is the first try; a retry resumes from the checkpoint) */
  | { kind: 'start'; id: string; name: string; worker: string; attempt: number; totalSteps: number }
  /** progress of a run; the local executor reports every step, the queue executor what the store shows */
  | { kind: 'step'; id: string; step: number; totalSteps: number; trainLoss?: number; testLoss?: number; tokensPerSecond?: number }
  /** a run ended: done, diverged (a result, not a failure), failed (retries used up) or interrupted */
  | {
      kind: 'end';
      id: string;
      name: string;
      status: SweepRunStatus;
      step: number;
      totalSteps: number;
      finalTrainLoss?: number;
      finalTestLoss?: number;
      message?: string;
    }
  /** a worker crashed (or the run threw) on this attempt; `retry` says whether it goes back on the queue */
  | { kind: 'crash'; id: string; name: string; attempt: number; worker: string; message: string; retry: boolean }
  /** a line worth showing (resumed from step k, a worker joined, ...) */
  | { kind: 'notice'; message: string; id?: string };

/** A trainer process's step and notice callbacks, forwarded as sweep events of run `id` (both executors use them). */
export function trainerHooks(id: string, onEvent?: (event: SweepEvent) => void): { onStep: (s: StepEvent) => void; onNotice: (m: string) => void } {
  return {
    onStep: (s) =>
      onEvent?.({ kind: 'step', id, step: s.step, totalSteps: s.totalSteps, trainLoss: s.trainLoss, testLoss: s.testLoss, tokensPerSecond: s.tokensPerSecond }),
    onNotice: (message) => onEvent?.({ kind: 'notice', message, id }),
  };
}

export type SweepRunStatus = RunStatus | 'interrupted';

export interface SweepRequest {
  sweep: string;
  configs: RunConfig[];
  /** store location, backend, threads per run, checkpoint interval */
  exec: ExecOptions;
  /** extra tries after a crash (each resumes from the run's checkpoint); default 2 */
  retries?: number;
  /** abort: local workers checkpoint and stop; the queue executor stops watching (jobs stay queued) */
  signal?: AbortSignal;
  onEvent?: (event: SweepEvent) => void;
  /** how store (and queue) calls wait out outages, and the PostgreSQL statement timeout; defaults: 10 min, 60 s */
  store?: StoreTimeouts;
}

export interface SweepRunResult {
  id: string;
  name: string;
  status: SweepRunStatus;
  step: number;
  totalSteps: number;
  /** tries this call made (0: already finished before it) */
  attempts: number;
  finalTrainLoss?: number;
  finalTestLoss?: number;
  message?: string;
}

export interface SweepResult {
  /** 'done': every run done or diverged; 'failed': some run failed after its retries; 'interrupted': stopped early */
  status: 'done' | 'failed' | 'interrupted';
  runs: SweepRunResult[];
  /** runs already finished (done or diverged) before this call */
  skipped: number;
}

export interface Executor {
  readonly kind: 'local' | 'queue';
  run(request: SweepRequest): Promise<SweepResult>;
}

// ---- helpers both executors use

export const isFinished = (s: SweepRunStatus | undefined): boolean => s === 'done' || s === 'diverged';

/** Splits the runs into those already finished in the store (as results) and those still to do. */
export async function partitionFinished(store: Store, configs: RunConfig[]): Promise<{ finished: SweepRunResult[]; todo: RunConfig[] }> {
  const finished: SweepRunResult[] = [];
  const todo: RunConfig[] = [];
  for (const config of configs) {
    const run = await store.getRun(runId(config));
    if (run && isFinished(run.state.status)) {
      finished.push({
        id: run.id,
        name: run.name,
        status: run.state.status,
        step: run.state.step ?? totalSteps(config),
        totalSteps: totalSteps(config),
        attempts: 0,
        message: 'already finished',
      });
    } else todo.push(config);
  }
  return { finished, todo };
}

export function sweepStatus(runs: SweepRunResult[]): SweepResult['status'] {
  if (runs.some((r) => r.status === 'interrupted' || r.status === 'pending' || r.status === 'running')) return 'interrupted';
  if (runs.some((r) => r.status === 'failed')) return 'failed';
  return 'done';
}

export function fromOutcome(o: RunOutcome, attempts: number): SweepRunResult {
  return {
    id: o.id,
    name: o.name,
    status: o.status,
    step: o.step,
    totalSteps: o.totalSteps,
    attempts,
    finalTrainLoss: o.finalTrainLoss,
    finalTestLoss: o.finalTestLoss,
    message: o.message,
  };
}

// ---- the whole thing, in process (the CLI and the demo call this)

export interface RunSweepOptions extends Omit<SweepRequest, 'sweep' | 'configs'> {
  executor: Executor;
  /** called once the sweep is recorded, before any run starts (the CLI prints its header here) */
  onRecorded?: (manifest: SweepManifest) => void;
}

/**
 * Expands the spec, records the sweep in the store (refusing a changed spec under the same name, before anything
 * starts; an unreachable store fails here within seconds), and runs what is not finished. Re-running skips finished
 * runs and resumes unfinished ones from their checkpoints. The one place a sweep is recorded.
 */
export async function runSweep(spec: SweepSpec, options: RunSweepOptions): Promise<SweepResult & { manifest: SweepManifest }> {
  const configs = expandSweep(spec);
  const store = await openStore(options.exec.store, {
    outageWindowMs: options.store?.outageWindowMs ?? DEFAULT_OUTAGE_WINDOW_MS,
    statementTimeoutMs: options.store?.statementTimeoutMs,
  });
  let stored: SweepManifest;
  try {
    ({ stored } = await recordSweep(store, makeManifest(spec, configs)));
  } finally {
    await store.close();
  }
  const { onRecorded, executor, ...request } = options;
  onRecorded?.(stored);
  const result = await executor.run({ ...request, sweep: spec.name, configs });
  return { ...result, manifest: stored };
}

/**
 * Records the sweep in `store`, or checks it against the one recorded there. A sweep name is bound to one hash: a
 * spec that would train other runs under an existing name is REFUSED (not treated as a new sweep), since its runs,
 * reports and status would mix two experiments. Returns whether it was newly recorded, and the stored manifest.
 */
export async function recordSweep(store: Store, manifest: SweepManifest): Promise<RecordedSweep<SweepSpec>> {
  const { created, stored } = await store.putSweep(manifest);
  if (stored.hash !== manifest.hash) {
    const added = manifest.runIds.filter((id) => !stored.runIds.includes(id)).length;
    const removed = stored.runIds.filter((id) => !manifest.runIds.includes(id)).length;
    throw new SweepSpecError(
      `sweep '${manifest.name}' in this store was recorded with a different spec (hash ${stored.hash}, ${stored.runIds.length} runs; this spec: hash ${manifest.hash}, ${added} runs added, ${removed} removed): refused`,
      `a changed spec is a new sweep: give it a new name (runs with identical configs are shared, not re-trained), or use another --store`,
    );
  }
  return { created, stored };
}
