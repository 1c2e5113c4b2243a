// One writer per run, the rules both stores share: when a lease is live, what a write with or without a fence may
// do, and the errors that say why not. The stores keep the epoch and the lease and apply these under their own lock.
import { hostname } from 'node:os';
import type { RunStatus } from '../analysis/records.ts';
import { DEFAULT_LEASE_MS, StoreError, type AcquireOptions, type Fence, type RunLease } from './store.ts';

export const THIS_HOST = hostname();

/** Whether a process runs on this host (EPERM: it does, under another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lease is live while renewed within its leaseMs and, when its holder ran on this host, that process is alive. */
export function leaseIsLive(lease: RunLease, now = Date.now()): boolean {
  if (now - Date.parse(lease.heartbeatAt) > lease.leaseMs) return false;
  if (lease.host === THIS_HOST && !pidAlive(lease.pid)) return false;
  return true;
}

/** This process holds the lease (same host and pid): an unfenced write of its own is not another writer's. */
function heldByThisProcess(lease: RunLease): boolean {
  return lease.host === THIS_HOST && lease.pid === process.pid;
}

export function checkLeaseOptions(holder: unknown, options: AcquireOptions): number {
  if (typeof holder !== 'string' || holder.length === 0 || holder.length > 512) {
    throw new StoreError(
      'bad-input',
      `bad lease holder ${JSON.stringify(holder)}: expected a non-empty string`,
      'a holder names who trains the run, e.g. "train host:pid"',
    );
  }
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(leaseMs) || leaseMs < 1) {
    throw new StoreError('bad-input', `bad leaseMs ${String(leaseMs)}: expected a positive integer`, 'leave it out for the default (60 s)');
  }
  return leaseMs;
}

export function checkFence(fence: Fence | undefined): void {
  if (fence !== undefined && !(Number.isInteger(fence?.epoch) && fence.epoch >= 0)) {
    throw new StoreError('bad-input', `bad fence ${JSON.stringify(fence)}: expected { epoch: integer >= 0 }`, 'pass the lease acquireRun returned');
  }
}

const isFinished = (s: RunStatus) => s === 'done' || s === 'diverged';

function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function heldError(id: string, lease: RunLease, now = Date.now()): StoreError {
  return new StoreError(
    'held',
    `run '${id}' is held by ${lease.holder} (pid ${lease.pid} on ${lease.host}) since ${lease.since}, last heard from ${ago(lease.heartbeatAt, now)} (epoch ${lease.epoch})`,
    `one writer per run: wait for it to finish or stop it; if it died, its lease lapses ${Math.round(lease.leaseMs / 1000)} s after its last heartbeat (at once on its own host) and the same command takes the run over`,
  );
}

export function fencedError(id: string, epoch: number, current: number): StoreError {
  return new StoreError(
    'fenced',
    `run '${id}' was taken over (epoch ${current}); this writer holds epoch ${epoch} and must stop`,
    'another worker or train command took the run after this one went silent; its work is kept, this process writes nothing more (no retry needed)',
  );
}

function finishedError(id: string, status: RunStatus): StoreError {
  return new StoreError(
    'finished',
    `run '${id}' is ${status}; a finished run is never rewound (no status change, truncation, checkpoint or rows)`,
    'a finished run is a result: to train it again, delete it from the store (file store: its directory) first',
  );
}

/** What a store knows about a run when a write comes in. */
export interface RunWriteState {
  status: RunStatus;
  epoch: number;
  /** undefined when the run was never held or was released */
  lease?: RunLease;
  /** the clock leases are judged by (Postgres: the server's), ms since the epoch; default Date.now() */
  now?: number;
}

/**
 * Throws unless the write may go ahead: a finished run takes no write; a fenced write needs the current epoch; an
 * unfenced one is refused while another process holds a live lease.
 */
export function checkWrite(id: string, state: RunWriteState, fence: Fence | undefined): void {
  if (fence !== undefined && fence.epoch !== state.epoch) throw fencedError(id, fence.epoch, state.epoch);
  if (isFinished(state.status)) throw finishedError(id, state.status);
  if (fence === undefined && state.lease !== undefined && leaseIsLive(state.lease, state.now) && !heldByThisProcess(state.lease))
    throw heldError(id, state.lease, state.now);
}

/**
 * Throws unless `holder` may take the run now. A lease that is this very holder's (same host, pid and name: a retried
 * acquire) is taken again without a takeover.
 */
export function checkAcquire(id: string, state: RunWriteState, holder: string, options: AcquireOptions): void {
  if (isFinished(state.status) && options.reopen === undefined) throw finishedError(id, state.status);
  const lease = state.lease;
  if (lease === undefined || options.takeOver === true || !leaseIsLive(lease, state.now)) return;
  if (heldByThisProcess(lease) && lease.holder === holder) return;
  throw heldError(id, lease, state.now);
}

/** The lease an acquisition writes. */
export function newLease(id: string, epoch: number, holder: string, leaseMs: number, now = new Date()): RunLease {
  const at = now.toISOString();
  return { id, epoch, holder, host: THIS_HOST, pid: process.pid, since: at, heartbeatAt: at, leaseMs };
}
