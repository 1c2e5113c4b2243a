// The store's one interface (runs, status, metric rows, checkpoints, sweep manifests), its error type, and openStore,
// which picks the file store or the Postgres store from a location. The implementations live in file-store.ts and
// postgres-store.ts; manifest.ts has the sweep manifest's shape and checks.
import type { MetricRow, RunRecord, RunStatus } from '../analysis/records.ts';
import type { RecordedSweep, SweepManifest } from './manifest.ts';

export type { RecordedSweep, SweepManifest } from './manifest.ts';

// ---- what the store keeps about a run

/**
 * The summary fields of a run that analysis reads: RunRecord without status and metrics, so the two cannot drift.
 * The store also requires the id to be a safe directory name: letters, digits, '.', '_' and '-' (checkRunId).
 */
export type RunMeta = Omit<RunRecord, 'status' | 'metrics'>;

/** What putRun takes: the summary plus the full spec (any JSON value; compared key-order-insensitively). */
export interface NewRun extends RunMeta {
  spec: unknown;
}

/** Optional facts that go with a status change. */
export interface StatusDetail {
  /** the last step completed (running), or the step at which the run diverged or failed */
  step?: number;
  /** for people: why it failed, what diverged */
  message?: string;
  /** which worker holds the run, e.g. host:pid */
  worker?: string;
  /** 1 for the first try, counting retries after a crash */
  attempt?: number;
}

export interface RunState extends StatusDetail {
  status: RunStatus;
  /** ISO 8601 time of the last setStatus (or of putRun) */
  updatedAt: string;
}

/** A run as stored: what putRun was given, when, and where it stands now. */
export interface StoredRun extends NewRun {
  createdAt: string;
  state: RunState;
}

export interface Checkpoint {
  step: number;
  bytes: Uint8Array;
}

/** A run the store holds but cannot read (see Store.listDamaged). */
export interface DamagedRun {
  /** the directory (or row) in question */
  where: string;
  problem: string;
  hint: string;
}

export interface RunFilter {
  sweep?: string;
}

// ---- one writer per run: a lease with an epoch (fencing token)

/**
 * Who may write a run. acquireRun increments the run's epoch and records the holder; every write that carries a
 * Fence is checked against the current epoch in the same transaction (Postgres) or under the same lock (file store),
 * so a holder whose run was taken over is refused ('fenced') instead of overwriting the newer holder's work.
 */
export interface RunLease {
  id: string;
  /** increments on every acquisition; writes carrying an older one are refused */
  epoch: number;
  /** for people: who holds the run (a worker label, `train host:pid`) */
  holder: string;
  /** the host and pid of the process that acquired it (a dead pid on the same host frees the lease) */
  host: string;
  pid: number;
  /** ISO 8601: when it was acquired, and when it was last renewed */
  since: string;
  heartbeatAt: string;
  /** the lease lapses this long after the last renewal; another process may then take the run over */
  leaseMs: number;
}

/** What a write carries to prove it comes from the current holder. */
export interface Fence {
  epoch: number;
}

export interface AcquireOptions {
  /** how long the lease lasts without renewal (default 60 s) */
  leaseMs?: number;
  /**
   * Take the run even from a live holder (its later writes are then refused). For executors that have already made
   * this process the run's owner (a queue job lock, a local slot); `train` leaves it unset and is refused ('held').
   */
  takeOver?: boolean;
  /**
   * Reopen a run whose stored status is done or diverged, setting it back to 'pending' with this message. Only for a
   * caller that has proved the status wrong (train/: the checkpoint and rows show the run unfinished); without it a
   * finished run is refused ('finished').
   */
  reopen?: string;
}

/** The default lease: a holder silent this long (no renewal) can be taken over. */
export const DEFAULT_LEASE_MS = 60_000;

// ---- the interface both stores implement (test/store/store-suite.ts holds them to it)

export interface Store {
  /** 'file' or 'postgres' */
  readonly kind: StoreKind;
  /** the directory or the URL (without a password) this store was opened on */
  readonly location: string;

  /**
   * Creates a run with status 'pending' and returns it. Idempotent: if the id exists with an identical spec the
   * stored run is returned unchanged (its name, sweep and status are kept). A different spec under the same id
   * throws StoreError 'spec-mismatch'.
   */
  putRun(run: NewRun): Promise<StoredRun>;
  getRun(id: string): Promise<StoredRun | undefined>;
  /** ordered by creation time, then id */
  listRuns(filter?: RunFilter): Promise<StoredRun[]>;
  /**
   * Every write below takes an optional Fence. With one, the write is refused with 'fenced' unless the epoch is the
   * run's current one. Without one (an operator or executor marking a run failed), it is refused with 'held' while
   * another process holds a live lease. Either way a done or diverged run is never changed: 'finished'.
   */
  setStatus(id: string, status: RunStatus, detail?: StatusDetail, fence?: Fence): Promise<void>;

  /**
   * Takes the run for `holder`: increments its epoch and returns the lease. Refused with 'held' (naming the holder
   * and since when) while another holder's lease is live: renewed within its leaseMs and, on this host, its process
   * alive; with 'finished' for a done or diverged run (unless options.reopen).
   */
  acquireRun(id: string, holder: string, options?: AcquireOptions): Promise<RunLease>;
  /** Extends the lease (heartbeat); 'fenced' if the run was taken over since. Returns the renewed lease. */
  renewRun(lease: RunLease): Promise<RunLease>;
  /** Gives the run up (a later acquire needs no takeover); a no-op when the run was taken over since. */
  releaseRun(lease: RunLease): Promise<void>;
  /** The current lease, if the run is held (live or lapsed); undefined when never held or released. */
  getLease(id: string): Promise<RunLease | undefined>;

  /**
   * Appends rows; durable when the promise resolves. A row whose step is already stored (or repeated earlier in
   * the same call) is skipped, whatever its values. Returns how many rows were added.
   */
  appendMetrics(id: string, rows: readonly MetricRow[], fence?: Fence): Promise<number>;
  /** every stored row, in step order, one per step */
  readMetrics(id: string): Promise<MetricRow[]>;
  /** Removes rows with step > `step` (a resume from a checkpoint at `step`). Returns how many were removed. */
  truncateMetricsAfter(id: string, step: number, fence?: Fence): Promise<number>;

  /**
   * Replaces the run's checkpoint atomically: a reader sees the old one or the new one, never a mix. The bytes are
   * opaque here (train/checkpoint.ts's format); the store frames them with their step, length and CRC-32, the one
   * integrity check a checkpoint has.
   */
  saveCheckpoint(id: string, step: number, bytes: Uint8Array, fence?: Fence): Promise<void>;
  /** The bytes as saved, checked against their length and CRC-32: StoreError 'corrupt' when they do not match. */
  loadCheckpoint(id: string): Promise<Checkpoint | undefined>;
  /** The step of the run's checkpoint without reading its bytes (undefined: none), e.g. to check a finished run. */
  checkpointStep(id: string): Promise<number | undefined>;

  /**
   * What listRuns leaves out because it cannot be read as a run (file store: a run directory without its spec.json,
   * or with a damaged one), each with what to do; empty when all is well. Readers (report, bcrit, status) print them.
   */
  listDamaged(): Promise<DamagedRun[]>;

  /** the run as analysis consumes it; throws StoreError 'not-found' for an unknown id */
  loadRecord(id: string): Promise<RunRecord>;
  loadRecords(filter?: RunFilter): Promise<RunRecord[]>;

  /**
   * Records a sweep's manifest unless one is recorded under its name (create-if-absent, atomic across processes:
   * of two racing callers one creates and both get its manifest back). Returns the manifest stored under the name,
   * which is another one when `created` is false: comparing them (a changed spec) is the caller's (sweep/).
   * `Spec` is the caller's spec type; the store keeps it as JSON and does not check it.
   */
  putSweep<Spec>(manifest: SweepManifest<Spec>): Promise<RecordedSweep<Spec>>;
  /** the manifest recorded under `name`, or undefined */
  getSweep<Spec = unknown>(name: string): Promise<SweepManifest<Spec> | undefined>;
  /** every recorded sweep, oldest first */
  listSweeps<Spec = unknown>(): Promise<SweepManifest<Spec>[]>;

  close(): Promise<void>;
}

export type StoreKind = 'file' | 'postgres';

// ---- errors

export type StoreErrorCode =
  | 'bad-input' // a malformed run, row, id or location
  | 'not-found' // no run with that id
  | 'spec-mismatch' // the id is taken by a run with a different spec
  | 'unreachable' // the database cannot be reached
  | 'corrupt' // a stored file or row cannot be read back
  | 'version' // written by a newer or unknown format version
  | 'held' // another live holder has the run (acquireRun, or an unfenced write)
  | 'fenced' // the writer's epoch is stale: the run was taken over; stop, do not retry
  | 'finished'; // the run is done or diverged and is never rewound

/** Every error the store throws on purpose: what was expected, what came, and in `hint` what to do. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---- opening a store

export interface OpenOptions {
  /** Postgres: how long to wait for a connection before failing (default 5000 ms) */
  connectTimeoutMs?: number;
  /** Postgres: checkpoints are stored in chunks of this many bytes (default 32 MiB; small values are for tests) */
  checkpointChunkBytes?: number;
  /**
   * Postgres: after a successful open, how long a query waits out an outage (connection refused or reset, a restart,
   * too many connections, a timeout), retrying with backoff, before it fails (default 0: fail at once). Long-running
   * callers (sweep, worker, their trainers) pass --outage-window. errors.ts says which errors are outages.
   */
  outageWindowMs?: number;
  /** Postgres: server-side statement_timeout in ms (default 60000); the client gives up 5 s after it (query_timeout) */
  statementTimeoutMs?: number;
  /** Postgres: called once per outage that a query waited out (or gave up on): errors.ts formatOutage makes it a line */
  onOutage?: (outage: import('./errors.ts').Outage) => void;
}

export function storeKindOf(location: string): StoreKind {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') return 'file';
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  throw new StoreError(
    'bad-input',
    `cannot open a store at ${location}: unknown scheme '${scheme}://'`,
    scheme === 'redis' || scheme === 'rediss'
      ? 'redis:// names a queue (--queue); a store is a directory or a postgres:// URL'
      : 'give a directory (default ./runs) or a postgres://user@host:port/database URL',
  );
}

/**
 * Opens the store at `location`: a directory (created if absent; a file:// URL works too) or a
 * postgres:// / postgresql:// URL (tables created if absent; `?schema=NAME` keeps them in a Postgres schema).
 */
export async function openStore(location: string, options: OpenOptions = {}): Promise<Store> {
  const kind = storeKindOf(location);
  switch (kind) {
    case 'file': {
      const { FileStore } = await import('./file-store.ts');
      return FileStore.open(location);
    }
    case 'postgres': {
      const { PostgresStore } = await import('./postgres-store.ts');
      return PostgresStore.open(location, options);
    }
    default:
      throw new Error(`unhandled store kind ${kind satisfies never}`);
  }
}
