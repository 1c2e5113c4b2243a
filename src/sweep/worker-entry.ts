// The trainer child process: takes one run at a time from its parent over IPC and runs trainRun, sharing prepared
// datasets and open stores across runs. Which run to take and what to do on a crash is the parent's (trainer-process.ts).
import { prepareDataset, type Dataset } from '../data/index.ts';
import { openStore, type Store } from '../store/store.ts';
import { trainRun, type RunHooks } from '../train/run.ts';
import { runExternal } from '../train/external.ts';
import { runId } from '../train/config.ts';
import { DEFAULT_OUTAGE_WINDOW_MS, formatOutage, isFinalOutage, isTransient } from '../store/errors.ts';
import type { FromChild, RunJob, ToChild } from './trainer-process.ts';

const stores = new Map<string, Store>();
const datasets = new Map<string, Dataset>();
let controller: AbortController | undefined;

const send = (m: FromChild) => process.send?.(m);

// ---- how long store calls have been outstanding: the parent renews its job lock only while the store answers

const inflight = new Map<number, number>();
let nextCall = 0;
let reportedBusy: number | null = null;
setInterval(() => {
  let oldest: number | null = null;
  for (const t of inflight.values()) if (oldest === null || t < oldest) oldest = t;
  const busy = oldest !== null && Date.now() - oldest >= 1000 ? oldest : null;
  if (busy !== reportedBusy) send({ type: 'store', busySince: (reportedBusy = busy) });
}, 500).unref();

/** The store, with every call's start and end noted (what a stuck or unreachable store looks like from here). */
function tracked(store: Store): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'close') return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        const call = nextCall++;
        inflight.set(call, Date.now());
        return result.finally(() => inflight.delete(call));
      };
    },
  });
}

async function runJob(job: RunJob): Promise<void> {
  controller = new AbortController();
  try {
    let store = stores.get(job.exec.store);
    if (!store) {
      const opened = await openStore(job.exec.store, {
        outageWindowMs: job.store?.outageWindowMs ?? DEFAULT_OUTAGE_WINDOW_MS,
        statementTimeoutMs: job.store?.statementTimeoutMs,
        onOutage: (o) => send({ type: 'notice', message: formatOutage(o) }),
      });
      stores.set(job.exec.store, (store = tracked(opened)));
    }
    const c = job.config;
    let lastSent = 0;
    const hooks: RunHooks = {
      signal: controller.signal,
      sweep: job.sweep,
      worker: job.worker,
      attempt: job.attempt,
      takeOver: true, // the executor made this process the run's owner; the store fences out any earlier holder
      onNotice: (message) => send({ type: 'notice', message }),
      onStep: (s) => {
        // at most ~10 messages a second, and always eval steps and the last one
        const now = performance.now();
        if (now - lastSent < 100 && s.testLoss === undefined && s.step !== s.totalSteps && s.row?.testLoss === undefined) return;
        lastSent = now;
        send({
          type: 'step',
          id: runId(c),
          step: s.step,
          totalSteps: s.totalSteps,
          trainLoss: s.trainLoss,
          testLoss: s.row?.testLoss,
          tokensPerSecond: s.tokensPerSecond,
        });
      },
    };
    // an external trainer (docs/ARCHITECTURE.md 4.9) brings its own data and model: the same contract, another loop
    if (c.trainer !== undefined) {
      send({ type: 'outcome', outcome: await runExternal(c, job.exec, store, hooks) });
      return;
    }
    const key = JSON.stringify([c.corpus, c.tokenizer, c.testFraction, c.textField, c.chunkChars, job.exec.cacheDir]);
    let dataset = datasets.get(key);
    if (!dataset) {
      dataset = await prepareDataset({
        corpus: c.corpus,
        tokenizer: c.tokenizer,
        testFraction: c.testFraction,
        textField: c.textField,
        chunkChars: c.chunkChars,
        cacheDir: job.exec.cacheDir,
        onNotice: (message) => send({ type: 'notice', message }),
      });
      datasets.set(key, dataset);
    }
    const outcome = await trainRun(c, job.exec, store, { ...hooks, dataset });
    send({ type: 'outcome', outcome });
  } catch (err) {
    const e = err as Error & { hint?: unknown; code?: unknown };
    send({
      type: 'error',
      message: e.message ?? String(err),
      hint: typeof e.hint === 'string' ? e.hint : undefined,
      transient: isTransient(err) || isFinalOutage(err),
      code: e.name === 'StoreError' && typeof e.code === 'string' ? e.code : undefined,
    });
  } finally {
    controller = undefined;
  }
}

process.on('message', (m: ToChild) => {
  switch (m.type) {
    case 'run':
      void runJob(m.job);
      break;
    case 'stop':
      controller?.abort();
      break;
    default:
      m satisfies never;
  }
});

// Ctrl-C reaches the whole process group: checkpoint the current run (the parent collects the outcome), or leave if idle.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (controller) controller.abort();
    else process.exit(0);
  });
}

// The parent is gone (it exited, or was killed): stop at once, so an orphan never trains a run another worker takes over.
process.on('disconnect', () => {
  if (!controller) {
    void Promise.all([...stores.values()].map((s) => s.close())).finally(() => process.exit(0));
  } else process.exit(1);
});
