// The store's one interface (runs, status, metric rows, checkpoints), its error type, and openStore, which picks
// the file store or the Postgres store from a location. The implementations live in file-store.ts and postgres-store.ts.
import type { MetricRow, RunRecord, RunStatus } from '../analysis/records.ts';

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

export interface RunFilter {
  sweep?: string;
}

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
  setStatus(id: string, status: RunStatus, detail?: StatusDetail): Promise<void>;

  /**
   * Appends rows; durable when the promise resolves. A row whose step is already stored (or repeated earlier in
   * the same call) is skipped, whatever its values. Returns how many rows were added.
   */
  appendMetrics(id: string, rows: readonly MetricRow[]): Promise<number>;
  /** every stored row, in step order, one per step */
  readMetrics(id: string): Promise<MetricRow[]>;
  /** Removes rows with step > `step` (a resume from a checkpoint at `step`). Returns how many were removed. */
  truncateMetricsAfter(id: string, step: number): Promise<number>;

  /** Replaces the run's checkpoint atomically: a reader sees the old one or the new one, never a mix. */
  saveCheckpoint(id: string, step: number, bytes: Uint8Array): Promise<void>;
  loadCheckpoint(id: string): Promise<Checkpoint | undefined>;

  /** the run as analysis consumes it; throws StoreError 'not-found' for an unknown id */
  loadRecord(id: string): Promise<RunRecord>;
  loadRecords(filter?: RunFilter): Promise<RunRecord[]>;

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
  | 'version'; // written by a newer or unknown format version

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

/** The embedded default when no store is named. */
export const DEFAULT_STORE_LOCATION = './runs';

export interface OpenOptions {
  /** Postgres: how long to wait for a connection before failing (default 5000 ms) */
  connectTimeoutMs?: number;
  /** Postgres: checkpoints are stored in chunks of this many bytes (default 32 MiB; small values are for tests) */
  checkpointChunkBytes?: number;
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
