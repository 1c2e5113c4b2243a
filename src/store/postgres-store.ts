// The shared store on PostgreSQL: tables runs, metrics (PRIMARY KEY (run_id, step)), checkpoints and sweeps (the sweep
// manifests) in one Postgres schema, created on open, with a schema_version table. Any machine can resume a run another one started.
import pg from 'pg';
import { crc32 } from 'node:zlib';
import type { MetricRow, RunRecord, RunStatus } from '../analysis/records.ts';
import {
  METRIC_FIELDS,
  RUN_STATUSES,
  checkMetricRows,
  checkNewRun,
  checkRunId,
  checkStatus,
  checkCheckpointBytes,
  checkStep,
  firstDifference,
  pickDetail,
  pickMeta,
  toRecord,
} from './rows.ts';
import { checkAcquire, checkFence, checkLeaseOptions, checkWrite, fencedError, newLease, type RunWriteState } from './lease.ts';
import {
  StoreError,
  type AcquireOptions,
  type DamagedRun,
  type Fence,
  type RunLease,
  type Checkpoint,
  type NewRun,
  type OpenOptions,
  type RunFilter,
  type StatusDetail,
  type Store,
  type StoredRun,
} from './store.ts';
import { OutageTracker, isTransient, withRetry } from './errors.ts';
import { redactUrl } from '../util/redact.ts';
import { checkManifest, checkSweepName, readManifest, type RecordedSweep, type SweepManifest } from './manifest.ts';

/**
 * Bump when the tables change, and migrate from the older versions in migrate().
 * 2: runs.schedule and runs.data (grouping fields), added to a version-1 store by ALTER TABLE ... ADD COLUMN.
 * 3: runs.epoch and runs.lease_* (one writer per run: the fencing token and its holder), added the same way.
 * 4: checkpoints.crc, the CRC-32 of the checkpoint's bytes (the store checks what it wrote, as the file store does),
 *    added the same way; NULL for a checkpoint saved before (its bytes carry the trainer's version-1 CRC-32). The
 *    sweeps table (sweep manifests) is created with the others; sweep/manifest.ts created it alike before.
 * 5: runs.trainer, the external trainer's name (NULL: scaling-lab's own trainer; issue 17), added by ALTER TABLE.
 */
const SCHEMA_VERSION = 5;

/** version 3's columns on runs, for CREATE TABLE and for the ALTER TABLE that upgrades an older store */
const LEASE_COLUMNS = [
  'epoch bigint NOT NULL DEFAULT 0',
  'lease_holder text',
  'lease_host text',
  'lease_pid integer',
  'lease_since timestamptz',
  'lease_heartbeat timestamptz',
  'lease_ms integer',
];
const DEFAULT_SCHEMA = 'scaling_lab';
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** server-side statement_timeout; the client gives up (query_timeout) up to QUERY_TIMEOUT_SLACK_MS later (a frozen server) */
const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000;
const QUERY_TIMEOUT_SLACK_MS = 5000;
/**
 * Checkpoints are stored in chunks: a bytea value is at most 1 GB, and pg reads bytea back as a hex string, which
 * V8 caps at ~512M characters; an 85M-parameter model with its AdamW moments is ~1 GB.
 */
const DEFAULT_CHECKPOINT_CHUNK_BYTES = 32 * 1024 * 1024;
/** pg_advisory_xact_lock key serialising schema creation between processes opening the same database at once */
const SCHEMA_LOCK_KEY = 0x5c41_1ab5;

// ---- tables

function createTables(s: string): string {
  const optional = METRIC_FIELDS.filter((f) => f.key !== 'step').map((f) => `${f.column} float8${f.required ? ' NOT NULL' : ''}`);
  return `
    CREATE TABLE IF NOT EXISTS ${s}.runs (
      id text PRIMARY KEY,
      name text NOT NULL,
      sweep text,
      spec jsonb NOT NULL,
      model jsonb,
      params_kaplan bigint NOT NULL,
      params_total bigint NOT NULL,
      batch_size integer NOT NULL,
      context integer NOT NULL,
      batch_tokens bigint NOT NULL,
      lr float8,
      warmup_steps integer,
      seed bigint,
      schedule text,
      data text,
      trainer text,
      created_at timestamptz NOT NULL DEFAULT now(),
      status text NOT NULL CHECK (status IN (${RUN_STATUSES.map((x) => `'${x}'`).join(', ')})),
      status_step integer,
      status_message text,
      status_worker text,
      status_attempt integer,
      updated_at timestamptz NOT NULL DEFAULT now(),
      ${LEASE_COLUMNS.join(',\n      ')}
    );
    CREATE INDEX IF NOT EXISTS runs_sweep ON ${s}.runs (sweep);
    CREATE TABLE IF NOT EXISTS ${s}.metrics (
      run_id text NOT NULL REFERENCES ${s}.runs (id) ON DELETE CASCADE,
      step integer NOT NULL,
      ${optional.join(',\n      ')},
      PRIMARY KEY (run_id, step)
    );
    CREATE TABLE IF NOT EXISTS ${s}.checkpoints (
      run_id text PRIMARY KEY REFERENCES ${s}.runs (id) ON DELETE CASCADE,
      step integer NOT NULL,
      size bigint NOT NULL,
      chunks integer NOT NULL,
      saved_at timestamptz NOT NULL DEFAULT now(),
      crc bigint
    );
    CREATE TABLE IF NOT EXISTS ${s}.checkpoint_chunks (
      run_id text NOT NULL REFERENCES ${s}.checkpoints (run_id) ON DELETE CASCADE,
      idx integer NOT NULL,
      bytes bytea NOT NULL,
      PRIMARY KEY (run_id, idx)
    );
    CREATE TABLE IF NOT EXISTS ${s}.sweeps (name text PRIMARY KEY, hash text NOT NULL, manifest jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`;
}

interface RunRow {
  id: string;
  name: string;
  sweep: string | null;
  spec: unknown;
  model: StoredRun['model'] | null;
  params_kaplan: string;
  params_total: string;
  batch_size: number;
  context: number;
  batch_tokens: string;
  lr: number | null;
  warmup_steps: number | null;
  seed: string | null;
  schedule: string | null;
  data: string | null;
  trainer: string | null;
  created_at: Date;
  status: RunStatus;
  status_step: number | null;
  status_message: string | null;
  status_worker: string | null;
  status_attempt: number | null;
  updated_at: Date;
}

/** The columns a write is judged by (lease.ts), read with the row locked. */
interface LeaseRow {
  status: RunStatus;
  epoch: string;
  lease_holder: string | null;
  lease_host: string | null;
  lease_pid: number | null;
  lease_since: Date | null;
  lease_heartbeat: Date | null;
  lease_ms: number | null;
  db_now: Date;
}

function fromLeaseRow(id: string, r: LeaseRow): RunWriteState {
  const lease: RunLease | undefined =
    r.lease_holder === null || r.lease_since === null || r.lease_heartbeat === null
      ? undefined
      : {
          id,
          epoch: Number(r.epoch),
          holder: r.lease_holder,
          host: r.lease_host ?? '',
          pid: r.lease_pid ?? 0,
          since: r.lease_since.toISOString(),
          heartbeatAt: r.lease_heartbeat.toISOString(),
          leaseMs: r.lease_ms ?? 0,
        };
  return { status: r.status, epoch: Number(r.epoch), lease, now: r.db_now.getTime() };
}

function fromRunRow(r: RunRow): StoredRun {
  return {
    ...pickMeta({
      id: r.id,
      name: r.name,
      sweep: r.sweep ?? undefined,
      model: r.model ?? undefined,
      paramsKaplan: Number(r.params_kaplan),
      paramsTotal: Number(r.params_total),
      batchSize: r.batch_size,
      context: r.context,
      batchTokens: Number(r.batch_tokens),
      lr: r.lr ?? undefined,
      warmupSteps: r.warmup_steps ?? undefined,
      seed: r.seed === null ? undefined : Number(r.seed),
      schedule: r.schedule ?? undefined,
      data: r.data ?? undefined,
      trainer: r.trainer ?? undefined,
    }),
    spec: r.spec,
    createdAt: r.created_at.toISOString(),
    state: {
      status: r.status,
      updatedAt: r.updated_at.toISOString(),
      ...pickDetail({
        step: r.status_step ?? undefined,
        message: r.status_message ?? undefined,
        worker: r.status_worker ?? undefined,
        attempt: r.status_attempt ?? undefined,
      }),
    },
  };
}

const METRIC_COLUMNS = METRIC_FIELDS.map((f) => f.column).join(', ');

function fromMetricRow(r: Record<string, number | null>): MetricRow {
  const row: Record<string, number> = {};
  for (const { key, column } of METRIC_FIELDS) {
    const v = r[column];
    if (v !== null && v !== undefined) row[key] = v;
  }
  return row as unknown as MetricRow;
}

// ---- connecting

/** A lost or refused connection, a restart, a timeout (errors.ts decides, for every store and queue call alike). */
function isConnectionError(err: unknown): boolean {
  return isTransient(err) || (err as { code?: string }).code === 'ENOTFOUND';
}

function unreachable(err: unknown, where: string, timeoutMs: number): StoreError {
  const e = err as { code?: string; message?: string };
  const hint =
    e.code === 'ECONNREFUSED'
      ? 'nothing listens there: start PostgreSQL, or fix the host and port in the URL'
      : e.code === '3D000'
        ? 'the database does not exist: create it (createdb NAME) or name another one in the URL'
        : e.code === '28P01' || e.code === '28000'
          ? 'the server refused the user: check the user and password in the URL and pg_hba.conf'
          : /timeout/i.test(e.message ?? '')
            ? `no answer within ${timeoutMs} ms: check the host, port and firewall, or that the server is not overloaded`
            : 'check that PostgreSQL is running and the URL is right (postgres://user@host:port/database)';
  return new StoreError('unreachable', `cannot reach the Postgres store ${where}: ${e.message ?? String(err)}`, hint, { cause: err });
}

// ---- the store

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private closed = false;
  /** one outage line however many queries waited it out */
  private readonly outage: OutageTracker;

  private constructor(
    private readonly pool: pg.Pool,
    readonly location: string,
    /** the quoted schema name that prefixes every table */
    private readonly s: string,
    private readonly timeoutMs: number,
    private readonly chunkBytes: number,
    /** how long a query waits out an outage (0: fail at once) */
    private readonly outageWindowMs: number = 0,
    onOutage?: OpenOptions['onOutage'],
  ) {
    this.outage = new OutageTracker(`store ${location}`, onOutage);
  }

  /** Connects (failing within connectTimeoutMs, never hanging) and creates the tables if absent. */
  static async open(location: string, options: OpenOptions = {}): Promise<PostgresStore> {
    let url: URL;
    try {
      url = new URL(location);
    } catch (err) {
      throw new StoreError('bad-input', `bad Postgres URL ${location}`, 'write it as postgres://user[:password]@host[:port]/database[?schema=NAME]', {
        cause: err,
      });
    }
    const schema = url.searchParams.get('schema') ?? DEFAULT_SCHEMA;
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new StoreError(
        'bad-input',
        `bad Postgres schema name '${schema}' in ${redactUrl(url)}`,
        'use lower-case letters, digits and _ (for example ?schema=scaling_lab)',
      );
    }
    url.searchParams.delete('schema');
    const chunk = options.checkpointChunkBytes;
    if (chunk !== undefined && !(Number.isInteger(chunk) && chunk > 0)) {
      throw new StoreError('bad-input', `bad checkpointChunkBytes ${chunk}: expected a positive integer`, 'leave it out for the default (32 MiB)');
    }
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const statementMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    if (!(Number.isInteger(statementMs) && statementMs > 0)) {
      throw new StoreError('bad-input', `bad statementTimeoutMs ${statementMs}: expected a positive integer`, 'leave it out for the default (60 s)');
    }
    // Nothing waits forever: a connection attempt fails after timeoutMs, a statement is cancelled by the server after
    // statementMs, and a server that does not answer at all (frozen, cut off) fails the query client-side soon after.
    const pool = new pg.Pool({
      connectionString: url.href,
      connectionTimeoutMillis: timeoutMs,
      max: 4,
      idleTimeoutMillis: 10_000,
      keepAlive: true,
      statement_timeout: statementMs,
      query_timeout: statementMs + Math.min(QUERY_TIMEOUT_SLACK_MS, statementMs),
      idle_in_transaction_session_timeout: statementMs + QUERY_TIMEOUT_SLACK_MS,
    });
    // An idle connection that the server drops is removed from the pool; the next query opens a new one.
    pool.on('error', () => {});
    const shown = `${redactUrl(url)}${schema === DEFAULT_SCHEMA ? '' : `?schema=${schema}`}`;
    const chunkBytes = options.checkpointChunkBytes ?? DEFAULT_CHECKPOINT_CHUNK_BYTES;
    const store = new PostgresStore(pool, shown, `"${schema}"`, timeoutMs, chunkBytes, options.outageWindowMs ?? 0, options.onOutage);
    try {
      await store.migrate(schema);
    } catch (err) {
      await pool.end().catch(() => {});
      if (err instanceof StoreError) throw err;
      if (isConnectionError(err) || ['3D000', '28P01', '28000'].includes((err as { code?: string }).code ?? '')) {
        throw unreachable(err, redactUrl(url), timeoutMs);
      }
      throw err;
    }
    return store;
  }

  private async migrate(schema: string): Promise<void> {
    const client = await this.pool.connect();
    // a server dying mid-migration emits 'error' on the checked-out client (a crash without a listener); the failed
    // query says what happened, and pg-pool drops the broken connection on release
    const ignore = () => {};
    client.on('error', ignore);
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.s}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.s}.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${this.s}.schema_version`);
      const found = rows[0]?.v ?? null;
      if (found !== null && found > SCHEMA_VERSION) {
        throw new StoreError(
          'version',
          `the Postgres store ${this.location} (schema ${schema}) has version ${found}; this scaling-lab knows up to ${SCHEMA_VERSION}`,
          'a newer scaling-lab created it: upgrade this machine, or use another ?schema=',
        );
      }
      await client.query(createTables(this.s));
      // version 1 -> 2: nullable columns, so a version-1 run reads back without them (it did not record them).
      // Only when needed: ALTER TABLE takes an exclusive lock on runs, which every open would otherwise take.
      if (found !== null && found < 2) {
        await client.query(`ALTER TABLE ${this.s}.runs ADD COLUMN IF NOT EXISTS schedule text, ADD COLUMN IF NOT EXISTS data text`);
      }
      // version 2 -> 3: a run of an older store starts at epoch 0, unheld
      if (found !== null && found < 3) {
        await client.query(`ALTER TABLE ${this.s}.runs ${LEASE_COLUMNS.map((c) => `ADD COLUMN IF NOT EXISTS ${c}`).join(', ')}`);
      }
      // version 3 -> 4: checkpoints saved before have no crc (NULL)
      if (found !== null && found < 4) {
        await client.query(`ALTER TABLE ${this.s}.checkpoints ADD COLUMN IF NOT EXISTS crc bigint`);
      }
      // version 4 -> 5: runs of an older store were all trained by scaling-lab's own trainer (NULL)
      if (found !== null && found < 5) {
        await client.query(`ALTER TABLE ${this.s}.runs ADD COLUMN IF NOT EXISTS trainer text`);
      }
      if (found === null || found < SCHEMA_VERSION) await client.query(`INSERT INTO ${this.s}.schema_version (version) VALUES ($1)`, [SCHEMA_VERSION]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.off('error', ignore);
      client.release();
    }
  }

  /** Waits out an outage for outageWindowMs (errors.ts), then gives up with StoreError 'unreachable'. */
  private retrying<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, { windowMs: this.outageWindowMs, tracker: this.outage, transient: (err) => isConnectionError(err) && !this.closed }).catch(
      (err: unknown) => {
        if (err instanceof StoreError || !isConnectionError(err)) throw err;
        const e = unreachable(err, this.location, this.timeoutMs);
        if (this.outageWindowMs > 0) Object.defineProperty(e, 'final', { value: true }); // the window is spent: no outer loop waits again
        throw e;
      },
    );
  }

  /** Every query goes through here: an outage is waited out (outageWindowMs), then becomes StoreError 'unreachable'. */
  private async q<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new StoreError('bad-input', `the Postgres store ${this.location} is closed`, 'open a new store with openStore');
    return this.retrying(() => this.pool.query<R>(sql, params));
  }

  private notFound(id: string): StoreError {
    return new StoreError(
      'not-found',
      `no run '${id}' in the Postgres store ${this.location}`,
      'a run is created by putRun when it starts (scaling-lab train or sweep); list runs with scaling-lab status',
    );
  }

  private async mustExist(id: string): Promise<void> {
    const { rowCount } = await this.q('SELECT 1 FROM ' + this.s + '.runs WHERE id = $1', [checkRunId(id)]);
    if (rowCount === 0) throw this.notFound(id);
  }

  // ---- runs

  async putRun(input: NewRun): Promise<StoredRun> {
    const run = checkNewRun(input);
    const inserted = await this.q<RunRow>(
      `INSERT INTO ${this.s}.runs (id, name, sweep, spec, model, params_kaplan, params_total, batch_size, context, batch_tokens, lr, warmup_steps, seed, schedule, data, trainer, status)
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'pending')
       ON CONFLICT (id) DO NOTHING RETURNING *`,
      [
        run.id,
        run.name,
        run.sweep ?? null,
        JSON.stringify(run.spec),
        run.model === undefined ? null : JSON.stringify(run.model),
        run.paramsKaplan,
        run.paramsTotal,
        run.batchSize,
        run.context,
        run.batchTokens,
        run.lr ?? null,
        run.warmupSteps ?? null,
        run.seed ?? null,
        run.schedule ?? null,
        run.data ?? null,
        run.trainer ?? null,
      ],
    );
    if (inserted.rows[0] !== undefined) return fromRunRow(inserted.rows[0]);
    const existing = await this.getRun(run.id);
    if (existing === undefined) throw new Error(`run ${run.id} conflicted on insert but cannot be read back`);
    const difference = firstDifference(existing.spec, run.spec);
    if (difference !== undefined) {
      throw new StoreError(
        'spec-mismatch',
        `run '${run.id}' in ${this.location} belongs to a different config (${difference})`,
        'ids are derived from the spec, so this is a hash clash or an edited row: delete the run from the store to start over, or use another ?schema=',
      );
    }
    return existing;
  }

  async getRun(id: string): Promise<StoredRun | undefined> {
    const { rows } = await this.q<RunRow>(`SELECT * FROM ${this.s}.runs WHERE id = $1`, [checkRunId(id)]);
    return rows[0] === undefined ? undefined : fromRunRow(rows[0]);
  }

  async listRuns(filter: RunFilter = {}): Promise<StoredRun[]> {
    const { rows } = await this.q<RunRow>(`SELECT * FROM ${this.s}.runs WHERE $1::text IS NULL OR sweep = $1 ORDER BY created_at, id`, [filter.sweep ?? null]);
    return rows.map(fromRunRow);
  }

  async setStatus(id: string, status: RunStatus, detail: StatusDetail = {}, fence?: Fence): Promise<void> {
    checkStatus(status, detail);
    checkRunId(id);
    await this.fenced(id, fence, (client) =>
      client.query(
        `UPDATE ${this.s}.runs SET status = $2, status_step = $3, status_message = $4, status_worker = $5, status_attempt = $6, updated_at = now()
         WHERE id = $1`,
        [id, status, detail.step ?? null, detail.message ?? null, detail.worker ?? null, detail.attempt ?? null],
      ),
    );
  }

  // ---- one writer per run (lease.ts has the rules; here the epoch is checked with the run's row locked)

  private readonly leaseColumns = 'status, epoch, lease_holder, lease_host, lease_pid, lease_since, lease_heartbeat, lease_ms, now() AS db_now';

  /** Locks the run's row (FOR UPDATE) and reads what a write is judged by; 'not-found' if there is no such run. */
  private async lockRun(client: pg.PoolClient, id: string): Promise<RunWriteState> {
    const { rows } = await client.query<LeaseRow>(`SELECT ${this.leaseColumns} FROM ${this.s}.runs WHERE id = $1 FOR UPDATE`, [id]);
    if (rows[0] === undefined) throw this.notFound(id);
    return fromLeaseRow(id, rows[0]);
  }

  /**
   * Runs a write in a transaction that first locks the run's row and checks the fence (lease.ts checkWrite): an
   * acquisition updates that row, so it waits for this write to commit, and every write after it sees the new epoch.
   */
  private fenced<T>(id: string, fence: Fence | undefined, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    checkFence(fence);
    return this.transaction(async (client) => {
      checkWrite(id, await this.lockRun(client, id), fence);
      return fn(client);
    });
  }

  async acquireRun(id: string, holder: string, options: AcquireOptions = {}): Promise<RunLease> {
    const leaseMs = checkLeaseOptions(holder, options);
    checkRunId(id);
    return this.transaction(async (client) => {
      const state = await this.lockRun(client, id);
      checkAcquire(id, state, holder, options);
      const lease = newLease(id, state.epoch + 1, holder, leaseMs, new Date(state.now!));
      const reopen = (state.status === 'done' || state.status === 'diverged') && options.reopen !== undefined;
      await client.query(
        `UPDATE ${this.s}.runs SET epoch = $2, lease_holder = $3, lease_host = $4, lease_pid = $5, lease_since = now(), lease_heartbeat = now(), lease_ms = $6
         ${reopen ? ", status = 'pending', status_step = NULL, status_message = $7, status_worker = NULL, status_attempt = NULL, updated_at = now()" : ''}
         WHERE id = $1`,
        [id, lease.epoch, holder, lease.host, lease.pid, leaseMs, ...(reopen ? [options.reopen] : [])],
      );
      return lease;
    });
  }

  async renewRun(lease: RunLease): Promise<RunLease> {
    checkRunId(lease.id);
    return this.transaction(async (client) => {
      const state = await this.lockRun(client, lease.id);
      if (state.epoch !== lease.epoch) throw fencedError(lease.id, lease.epoch, state.epoch);
      const { rows } = await client.query<{ at: Date }>(`UPDATE ${this.s}.runs SET lease_heartbeat = now() WHERE id = $1 RETURNING lease_heartbeat AS at`, [
        lease.id,
      ]);
      return { ...lease, heartbeatAt: rows[0]!.at.toISOString() };
    });
  }

  async releaseRun(lease: RunLease): Promise<void> {
    await this.q(
      `UPDATE ${this.s}.runs SET lease_holder = NULL, lease_host = NULL, lease_pid = NULL, lease_since = NULL, lease_heartbeat = NULL, lease_ms = NULL
       WHERE id = $1 AND epoch = $2`,
      [checkRunId(lease.id), lease.epoch],
    );
  }

  async getLease(id: string): Promise<RunLease | undefined> {
    const { rows } = await this.q<LeaseRow>(`SELECT ${this.leaseColumns} FROM ${this.s}.runs WHERE id = $1`, [checkRunId(id)]);
    if (rows[0] === undefined) throw this.notFound(id);
    return fromLeaseRow(id, rows[0]).lease;
  }

  // ---- metrics

  async appendMetrics(id: string, rows: readonly MetricRow[], fence?: Fence): Promise<number> {
    const checked = checkMetricRows(rows);
    checkRunId(id);
    if (checked.length === 0) {
      await this.fenced(id, fence, async () => {});
      return 0;
    }
    // one statement: a column array per field, unnest()ed into rows; steps already stored are skipped
    const arrays = METRIC_FIELDS.map(({ key }) => checked.map((r) => r[key] ?? null));
    const casts = METRIC_FIELDS.map((f, i) => `$${i + 2}::${f.key === 'step' ? 'integer' : 'float8'}[]`);
    const result = await this.fenced(id, fence, (client) =>
      client.query(
        `INSERT INTO ${this.s}.metrics (run_id, ${METRIC_COLUMNS}) SELECT $1::text, * FROM unnest(${casts.join(', ')})
         ON CONFLICT (run_id, step) DO NOTHING`,
        [id, ...arrays],
      ),
    );
    return result.rowCount ?? 0;
  }

  async readMetrics(id: string): Promise<MetricRow[]> {
    const { rows } = await this.q<Record<string, number | null>>(`SELECT ${METRIC_COLUMNS} FROM ${this.s}.metrics WHERE run_id = $1 ORDER BY step`, [
      checkRunId(id),
    ]);
    if (rows.length === 0) await this.mustExist(id);
    return rows.map(fromMetricRow);
  }

  async truncateMetricsAfter(id: string, step: number, fence?: Fence): Promise<number> {
    checkStep(step);
    checkRunId(id);
    const { rowCount } = await this.fenced(id, fence, (client) => client.query(`DELETE FROM ${this.s}.metrics WHERE run_id = $1 AND step > $2`, [id, step]));
    return rowCount ?? 0;
  }

  // ---- checkpoints (a header row with the step, size, chunk count and CRC-32, and its chunks; replaced in one
  // transaction, checked on load)

  /**
   * Runs fn in a transaction on one connection. An outage is waited out by running the whole transaction again
   * (so fn must be re-runnable), then becomes 'unreachable'. A connection that failed is closed, not reused.
   */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError('bad-input', `the Postgres store ${this.location} is closed`, 'open a new store with openStore');
    return this.retrying(async () => {
      const client = await this.pool.connect();
      // the server dying mid-transaction emits 'error' on the checked-out client: without a listener, a crash
      let broken: unknown;
      const onError = (err: unknown) => (broken ??= err);
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        broken ??= isConnectionError(err) ? err : undefined;
        if (broken === undefined) await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken === undefined ? undefined : (broken as Error));
      }
    });
  }

  async saveCheckpoint(id: string, step: number, bytes: Uint8Array, fence?: Fence): Promise<void> {
    checkStep(step);
    checkRunId(id);
    checkCheckpointBytes(bytes);
    const chunks = Math.ceil(bytes.byteLength / this.chunkBytes);
    const crc = crc32(bytes);
    try {
      await this.fenced(id, fence, async (client) => {
        // the upsert locks the header row, so two savers of one run take turns; readers see the old one until COMMIT
        await client.query(
          `INSERT INTO ${this.s}.checkpoints (run_id, step, size, chunks, crc) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (run_id) DO UPDATE SET step = EXCLUDED.step, size = EXCLUDED.size, chunks = EXCLUDED.chunks, crc = EXCLUDED.crc, saved_at = now()`,
          [id, step, bytes.byteLength, chunks, crc],
        );
        await client.query(`DELETE FROM ${this.s}.checkpoint_chunks WHERE run_id = $1`, [id]);
        for (let i = 0; i < chunks; i++) {
          const begin = bytes.byteOffset + i * this.chunkBytes;
          const length = Math.min(this.chunkBytes, bytes.byteLength - i * this.chunkBytes);
          const chunk = Buffer.from(bytes.buffer, begin, length);
          await client.query(`INSERT INTO ${this.s}.checkpoint_chunks (run_id, idx, bytes) VALUES ($1, $2, $3)`, [id, i, chunk]);
        }
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23503') throw this.notFound(id);
      throw err;
    }
  }

  async checkpointStep(id: string): Promise<number | undefined> {
    const { rows } = await this.q<{ step: number }>(`SELECT step FROM ${this.s}.checkpoints WHERE run_id = $1`, [checkRunId(id)]);
    if (rows[0] === undefined) {
      await this.mustExist(id);
      return undefined;
    }
    return rows[0].step;
  }

  async loadCheckpoint(id: string): Promise<Checkpoint | undefined> {
    // one statement, so one snapshot: the header and the chunks of the same save
    const { rows } = await this.q<{ step: number; size: string; chunks: number; crc: string | null; idx: number | null; bytes: Buffer | null }>(
      `SELECT c.step, c.size, c.chunks, c.crc, k.idx, k.bytes FROM ${this.s}.checkpoints c
       LEFT JOIN ${this.s}.checkpoint_chunks k ON k.run_id = c.run_id WHERE c.run_id = $1 ORDER BY k.idx`,
      [checkRunId(id)],
    );
    const head = rows[0];
    if (head === undefined) {
      await this.mustExist(id);
      return undefined;
    }
    const pieces = rows.flatMap((r) => (r.bytes === null ? [] : [r.bytes]));
    const size = Number(head.size);
    const total = pieces.reduce((n, p) => n + p.length, 0);
    if (pieces.length !== head.chunks || total !== size || pieces.some((_, i) => rows[i]!.idx !== i)) {
      throw new StoreError(
        'corrupt',
        `the checkpoint of run '${id}' in ${this.location} is incomplete: ${pieces.length} of ${head.chunks} chunks, ${total} of ${size} bytes`,
        'the rows were edited by hand; delete the checkpoint row to restart the run from step 0',
      );
    }
    const whole = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, size);
    // a checkpoint saved before schema version 4 has no crc: its bytes carry the trainer's own (format version 1)
    if (head.crc !== null && crc32(whole) !== Number(head.crc)) {
      throw new StoreError(
        'corrupt',
        `the checkpoint of run '${id}' in ${this.location} is damaged: CRC-32 mismatch over its ${size} bytes`,
        'its chunks were edited or damaged; delete the checkpoint row to restart the run from step 0 (its metric rows will be recomputed)',
      );
    }
    return { step: head.step, bytes: new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength) };
  }

  /** Rows are typed and constrained by the tables, so a run here is always readable. */
  async listDamaged(): Promise<DamagedRun[]> {
    return [];
  }

  // ---- records for analysis

  async loadRecord(id: string): Promise<RunRecord> {
    const run = await this.getRun(id);
    if (run === undefined) throw this.notFound(id);
    return toRecord(run, await this.readMetrics(id));
  }

  async loadRecords(filter: RunFilter = {}): Promise<RunRecord[]> {
    const runs = await this.listRuns(filter);
    const { rows } = await this.q<Record<string, number | null> & { run_id: string }>(
      `SELECT run_id, ${METRIC_COLUMNS} FROM ${this.s}.metrics WHERE run_id = ANY($1::text[]) ORDER BY run_id, step`,
      [runs.map((r) => r.id)],
    );
    const byRun = new Map<string, MetricRow[]>(runs.map((r) => [r.id, []]));
    for (const row of rows) byRun.get(row.run_id)?.push(fromMetricRow(row));
    return runs.map((run) => toRecord(run, byRun.get(run.id) ?? []));
  }

  // ---- sweep manifests: a row per sweep, created if absent (the table sweep/manifest.ts created before, unchanged)

  async putSweep<Spec>(manifest: SweepManifest<Spec>): Promise<RecordedSweep<Spec>> {
    checkManifest(manifest);
    const { rowCount } = await this.q(`INSERT INTO ${this.s}.sweeps (name, hash, manifest) VALUES ($1, $2, $3::jsonb) ON CONFLICT (name) DO NOTHING`, [
      manifest.name,
      manifest.hash,
      JSON.stringify(manifest),
    ]);
    const stored = await this.getSweep<Spec>(manifest.name);
    if (stored === undefined) throw new Error(`sweep ${manifest.name} was recorded but cannot be read back from ${this.location}`);
    return { created: rowCount === 1, stored };
  }

  async getSweep<Spec = unknown>(name: string): Promise<SweepManifest<Spec> | undefined> {
    const { rows } = await this.q<{ manifest: unknown }>(`SELECT manifest FROM ${this.s}.sweeps WHERE name = $1`, [checkSweepName(name)]);
    return rows[0] === undefined ? undefined : (readManifest(rows[0].manifest, `sweep '${name}' in ${this.location}`) as SweepManifest<Spec>);
  }

  async listSweeps<Spec = unknown>(): Promise<SweepManifest<Spec>[]> {
    const { rows } = await this.q<{ name: string; manifest: unknown }>(`SELECT name, manifest FROM ${this.s}.sweeps ORDER BY created_at, name`);
    return rows.map((r) => readManifest(r.manifest, `sweep '${r.name}' in ${this.location}`) as SweepManifest<Spec>);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
