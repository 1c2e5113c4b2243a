// One writer per run, the holder's side (docs/ARCHITECTURE.md 4.5), for both trainers (run.ts, external.ts): take the
// run's lease, run the work with its fence and a heartbeat, release the lease after. The rules are the store's (store/lease.ts).
import type { RunStatus } from '../analysis/records.ts';
import { StoreError, type AcquireOptions, type Fence, type RunLease, type Store } from '../store/store.ts';

/** What the work holding a run gets: the fence its writes carry and the lease's heartbeat. */
export interface HeldRun {
  /** the epoch this holder acquired: every write carries it, and is refused ('fenced') once another process takes the run */
  readonly fence: Fence;
  /** whether a quarter of the lease's length has passed since it was last renewed */
  due(): boolean;
  /** renews the lease if it is due (call it between steps: a step longer than the lease lets another process take the run) */
  heartbeat(): Promise<void>;
}

/**
 * Takes run `id` for `holder` and runs `work` while holding it. A run finished by another process since the caller
 * looked returns `finished(status)`. The lease is released when the work returns or throws, except when the work was
 * fenced: then the run has a new holder, whose lease this one must not touch.
 */
export async function holdRun<T>(
  store: Store,
  id: string,
  holder: string,
  options: AcquireOptions,
  finished: (status: RunStatus) => Promise<T>,
  work: (held: HeldRun) => Promise<T>,
): Promise<T> {
  let lease: RunLease;
  try {
    lease = await store.acquireRun(id, holder, options);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'finished') return finished((await store.getRun(id))?.state.status ?? 'done');
    throw err;
  }
  let lastRenew = performance.now();
  const held: HeldRun = {
    fence: { epoch: lease.epoch },
    due: () => performance.now() - lastRenew >= lease.leaseMs / 4,
    heartbeat: async () => {
      if (!held.due()) return;
      lastRenew = performance.now();
      lease = await store.renewRun(lease);
    },
  };
  try {
    const result = await work(held);
    await store.releaseRun(lease).catch(() => {});
    return result;
  } catch (err) {
    if (!(err instanceof StoreError && err.code === 'fenced')) await store.releaseRun(lease).catch(() => {});
    throw err;
  }
}
