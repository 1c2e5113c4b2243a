// The embedded store: one directory per run (runs/<id>/spec.json, status.json, metrics.jsonl, checkpoint.bin) and
// one file per sweep manifest (runs/.sweeps/<name>.json), every write crash-safe. One writer per run: every write
// takes the run's write lock (.write.lock, across processes) and checks the epoch in lease.json under it (see
// lease.ts); many readers are fine.
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { link, mkdir, open, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricRow, RunRecord, RunStatus } from '../analysis/records.ts';
import { appendDurable, createFileExclusive, fsyncDir, removeStaleTemps, replaceFile, truncateDurable } from '../util/atomic.ts';
import {
  checkMetricRows,
  checkNewRun,
  checkRunId,
  checkStatus,
  checkCheckpointBytes,
  checkStep,
  decodeMetricLine,
  encodeMetricLine,
  firstDifference,
  pickDetail,
  toRecord,
} from './rows.ts';
import { checkManifest, checkSweepName, isSweepName, readManifest, type RecordedSweep, type SweepManifest } from './manifest.ts';
import { THIS_HOST, checkAcquire, checkFence, checkLeaseOptions, checkWrite, fencedError, newLease, pidAlive, type RunWriteState } from './lease.ts';
import {
  StoreError,
  type AcquireOptions,
  type DamagedRun,
  type Fence,
  type RunLease,
  type Checkpoint,
  type NewRun,
  type RunFilter,
  type RunState,
  type StatusDetail,
  type Store,
  type StoredRun,
} from './store.ts';

const SPEC_FILE = 'spec.json';
const STATUS_FILE = 'status.json';
const METRICS_FILE = 'metrics.jsonl';
const CHECKPOINT_FILE = 'checkpoint.bin';
/** the sweep manifests' directory, <root>/.sweeps/<name>.json (a dot name: never taken for a run) */
const SWEEPS_DIR = '.sweeps';
/** { epoch, lease? }: the run's fencing token and its current holder, replaced atomically under the write lock */
const LEASE_FILE = 'lease.json';
/** held (created with link(2), removed after) for the few milliseconds of one write; names its pid and host */
const WRITE_LOCK = '.write.lock';
/** a write lock whose process is alive is waited for this long at most */
const WRITE_LOCK_WAIT_MS = 30_000;
/** a lock file older than this is broken even if its pid looks alive (pid reuse); no write takes that long */
const WRITE_LOCK_STALE_MS = 10 * 60_000;

/** the files that mark a directory as a run's (with or without its spec.json) */
const RUN_FILES = [SPEC_FILE, STATUS_FILE, METRICS_FILE, CHECKPOINT_FILE, LEASE_FILE];

interface LeaseFile {
  epoch: number;
  lease?: RunLease;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** spec.json's format tag and version: bump the version when its shape changes, and read the old one. */
const SPEC_FORMAT = 'scaling-lab run';
const SPEC_VERSION = 1;

// ---- checkpoint.bin: a 32-byte header (after llm.c: magic and version first) and the caller's bytes. The header's
// CRC-32 is the checkpoint's one integrity check (train/checkpoint.ts's format has none since its version 2).
// offset 0: magic "SLCHKPT\0" | 8: u32 version | 12: u32 CRC-32 of the payload | 16: u64 step | 24: u64 payload length

const CHECKPOINT_MAGIC = Buffer.from('SLCHKPT\0', 'latin1');
const CHECKPOINT_VERSION = 1;
const CHECKPOINT_HEADER = 32;

function encodeCheckpoint(step: number, bytes: Uint8Array): Uint8Array[] {
  const header = Buffer.alloc(CHECKPOINT_HEADER);
  CHECKPOINT_MAGIC.copy(header, 0);
  header.writeUInt32LE(CHECKPOINT_VERSION, 8);
  header.writeUInt32LE(crc32(bytes), 12);
  header.writeBigUInt64LE(BigInt(step), 16);
  header.writeBigUInt64LE(BigInt(bytes.byteLength), 24);
  return [header, bytes];
}

function decodeCheckpoint(buf: Buffer, path: string): Checkpoint {
  const corrupt = (what: string) =>
    new StoreError('corrupt', `${path} is not a readable checkpoint: ${what}`, 'delete it to restart the run from step 0 (its metric rows will be recomputed)');
  if (buf.length < CHECKPOINT_HEADER || !buf.subarray(0, 8).equals(CHECKPOINT_MAGIC)) throw corrupt('bad magic number');
  const version = buf.readUInt32LE(8);
  if (version !== CHECKPOINT_VERSION) {
    throw new StoreError(
      'version',
      `${path} has checkpoint container version ${version}, expected ${CHECKPOINT_VERSION}`,
      'it was written by another scaling-lab version; use that version or restart the run',
    );
  }
  const length = Number(buf.readBigUInt64LE(24));
  if (buf.length !== CHECKPOINT_HEADER + length) throw corrupt(`header says ${length} payload bytes, file holds ${buf.length - CHECKPOINT_HEADER}`);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset + CHECKPOINT_HEADER, length);
  if (crc32(bytes) !== buf.readUInt32LE(12)) throw corrupt('CRC-32 mismatch');
  return { step: Number(buf.readBigUInt64LE(16)), bytes };
}

// ---- metrics.jsonl: one JSON line per row; only a line ending in '\n' counts

interface MetricsScan {
  /** rows in file order (duplicates possible if two writers raced) */
  rows: MetricRow[];
  /** bytes up to the end of the last good line; anything after it is a torn tail */
  validEnd: number;
  size: number;
}

async function scanMetrics(path: string): Promise<MetricsScan> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { rows: [], validEnd: 0, size: 0 };
    throw err;
  }
  const rows: MetricRow[] = [];
  let start = 0;
  let validEnd = 0;
  let lineNo = 0;
  for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
    lineNo++;
    const row = decodeMetricLine(buf.toString('utf8', start, nl));
    if (row === undefined) {
      // A bad last line is a torn write whose '\n' landed (possible across a power cut); a bad line with good
      // lines after it is damage we must not paper over.
      if (buf.indexOf(10, nl + 1) === -1 && nl + 1 === buf.length) break;
      throw new StoreError(
        'corrupt',
        `${path} line ${lineNo} is not a metric row`,
        'the file was edited or damaged: fix or delete that line, or truncate the file there',
      );
    }
    rows.push(row);
    start = nl + 1;
    validEnd = start;
  }
  return { rows, validEnd, size: buf.length };
}

/** One row per step, the first written winning, in step order. */
function dedupeSorted(rows: readonly MetricRow[]): MetricRow[] {
  const byStep = new Map<number, MetricRow>();
  for (const row of rows) if (!byStep.has(row.step)) byStep.set(row.step, row);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

// ---- spec.json and status.json

interface SpecFile extends NewRun {
  format: string;
  version: number;
  createdAt: string;
}

function notFound(id: string, root: string): StoreError {
  return new StoreError(
    'not-found',
    `no run '${id}' in the file store ${root}`,
    'a run is created by putRun when it starts (scaling-lab train or sweep); list runs with scaling-lab status',
  );
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StoreError('corrupt', `${path} is not valid JSON`, 'it was edited by hand or damaged; restore it or delete the run directory', { cause: err });
  }
}

// ---- the store

interface MetricsIndex {
  /** metrics.jsonl's size when indexed: a different size means another writer touched it, so rescan */
  size: number;
  steps: Set<number>;
}

export class FileStore implements Store {
  readonly kind = 'file' as const;
  private readonly locks = new Map<string, Promise<void>>();
  private readonly indexes = new Map<string, MetricsIndex>();
  private closed = false;

  private constructor(readonly location: string) {}

  /** Opens (creating if absent) the store directory at a path or file:// URL. */
  static async open(location: string): Promise<FileStore> {
    const root = location.startsWith('file://') ? fileURLToPath(location) : resolve(location);
    try {
      await mkdir(root, { recursive: true });
      if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new StoreError(
        'bad-input',
        `cannot use ${root} as a file store: ${(err as Error).message}`,
        'give a directory that is, or can be created as, a writable directory',
        { cause: err },
      );
    }
    return new FileStore(root);
  }

  private dir(id: string): string {
    return join(this.location, checkRunId(id));
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('bad-input', `the file store ${this.location} is closed`, 'open a new store with openStore');
  }

  /** Runs fn after every earlier locked operation on the same run in this process has finished. */
  private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    this.checkOpen();
    const previous = this.locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = previous.then(() => new Promise<void>((r) => (release = r)));
    this.locks.set(id, mine);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(id) === mine) this.locks.delete(id);
    }
  }

  /**
   * Runs fn holding the run's write lock: in this process (withLock) and across processes (.write.lock, created with
   * link(2) so it appears complete; a lock whose pid is gone on this host is broken). The lock is held only for one
   * write, so a wait is short unless its holder is stopped mid-write; then it fails after WRITE_LOCK_WAIT_MS.
   */
  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.withLock(id, async () => {
      const dir = this.dir(id);
      const lock = join(dir, WRITE_LOCK);
      const mine = JSON.stringify({ pid: process.pid, host: THIS_HOST, at: new Date().toISOString(), nonce: randomBytes(6).toString('hex') });
      const temp = join(dir, `.${WRITE_LOCK}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      const started = Date.now();
      try {
        await writeFile(temp, mine, { flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id, this.location);
        throw err;
      }
      try {
        for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
          try {
            await link(temp, lock);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          }
          const text = await readFile(lock, 'utf8').catch(() => undefined);
          if (text === undefined) continue; // released meanwhile
          const age = await stat(lock).then(
            (st) => Date.now() - st.mtimeMs,
            () => 0,
          );
          let owner: { pid?: number; host?: string } = {};
          try {
            owner = JSON.parse(text) as typeof owner;
          } catch {
            // a foreign or damaged lock file: broken once it is old
          }
          const dead = owner.host === THIS_HOST && !pidAlive(owner.pid ?? -1);
          if (dead || age > WRITE_LOCK_STALE_MS || (owner.pid === undefined && age > 5000)) {
            // break it only if it is still the one we judged (another breaker may have replaced it)
            if ((await readFile(lock, 'utf8').catch(() => undefined)) === text) await unlink(lock).catch(() => {});
            continue;
          }
          if (Date.now() - started > WRITE_LOCK_WAIT_MS) {
            throw new StoreError(
              'held',
              `the write lock of run '${id}' (${lock}) has been held by pid ${owner.pid} on ${owner.host} for ${Math.round(age / 1000)} s`,
              "a write takes milliseconds: that process is stopped or hung mid-write; resume or kill it (a dead holder's lock is broken at once)",
            );
          }
          await sleep(wait);
        }
      } finally {
        await unlink(temp).catch(() => {});
      }
      try {
        return await fn();
      } finally {
        if ((await readFile(lock, 'utf8').catch(() => undefined)) === mine) await unlink(lock).catch(() => {});
      }
    });
  }

  private async readLeaseFile(id: string): Promise<LeaseFile> {
    const path = join(this.dir(id), LEASE_FILE);
    const file = (await readJson(path)) as LeaseFile | undefined;
    if (file === undefined) return { epoch: 0 };
    if (typeof file !== 'object' || file === null || !Number.isInteger(file.epoch)) {
      throw new StoreError('corrupt', `${path} is not a lease file`, 'it was edited or damaged: delete it (the next writer takes the run at epoch 1)');
    }
    return file;
  }

  /** The status, epoch and lease a write is judged by (call under the write lock). */
  private async writeState(id: string): Promise<RunWriteState> {
    const file = await this.mustExist(id);
    const run = await this.toStoredRun(file);
    const lease = await this.readLeaseFile(id);
    return { status: run.state.status, epoch: lease.epoch, lease: lease.lease };
  }

  /** Checks a write against the run's status and epoch under the write lock, then does it. */
  private async fenced<T>(id: string, fence: Fence | undefined, fn: () => Promise<T>): Promise<T> {
    checkFence(fence);
    await this.mustExist(id);
    return this.exclusive(id, async () => {
      checkWrite(id, await this.writeState(id), fence);
      return fn();
    });
  }

  private async writeLeaseFile(id: string, file: LeaseFile): Promise<void> {
    await replaceFile(join(this.dir(id), LEASE_FILE), JSON.stringify(file, null, 2) + '\n');
  }

  // ---- leases

  async acquireRun(id: string, holder: string, options: AcquireOptions = {}): Promise<RunLease> {
    const leaseMs = checkLeaseOptions(holder, options);
    await this.mustExist(id);
    return this.exclusive(id, async () => {
      const state = await this.writeState(id);
      checkAcquire(id, state, holder, options);
      const lease = newLease(id, state.epoch + 1, holder, leaseMs);
      await this.writeLeaseFile(id, { epoch: lease.epoch, lease });
      if ((state.status === 'done' || state.status === 'diverged') && options.reopen !== undefined) {
        const reopened: RunState = { status: 'pending', updatedAt: new Date().toISOString(), message: options.reopen };
        await replaceFile(join(this.dir(id), STATUS_FILE), JSON.stringify(reopened, null, 2) + '\n');
      }
      return lease;
    });
  }

  async renewRun(lease: RunLease): Promise<RunLease> {
    await this.mustExist(lease.id);
    return this.exclusive(lease.id, async () => {
      const file = await this.readLeaseFile(lease.id);
      if (file.epoch !== lease.epoch) throw fencedError(lease.id, lease.epoch, file.epoch);
      const renewed = { ...lease, heartbeatAt: new Date().toISOString() };
      await this.writeLeaseFile(lease.id, { epoch: file.epoch, lease: renewed });
      return renewed;
    });
  }

  async releaseRun(lease: RunLease): Promise<void> {
    if ((await this.readSpecFile(lease.id)) === undefined) return;
    await this.exclusive(lease.id, async () => {
      const file = await this.readLeaseFile(lease.id);
      if (file.epoch === lease.epoch && file.lease !== undefined) await this.writeLeaseFile(lease.id, { epoch: file.epoch });
    });
  }

  async getLease(id: string): Promise<RunLease | undefined> {
    this.checkOpen();
    await this.mustExist(id);
    return (await this.readLeaseFile(id)).lease;
  }

  private async readSpecFile(id: string): Promise<SpecFile | undefined> {
    const path = join(this.dir(id), SPEC_FILE);
    const file = (await readJson(path)) as SpecFile | undefined;
    if (file === undefined) return undefined;
    if (file.format !== SPEC_FORMAT || typeof file.version !== 'number') {
      throw new StoreError('corrupt', `${path} is not a scaling-lab run file`, 'this directory holds something else; use another store directory');
    }
    if (file.version !== SPEC_VERSION) {
      throw new StoreError(
        'version',
        `${path} has version ${file.version}, expected ${SPEC_VERSION}`,
        'it was written by another scaling-lab version; use that version',
      );
    }
    return file;
  }

  private async mustExist(id: string): Promise<SpecFile> {
    const file = await this.readSpecFile(id);
    if (file === undefined) throw notFound(id, this.location);
    return file;
  }

  /** A run without status.json is one putRun has just created (or crashed creating): 'pending' since createdAt. */
  private async toStoredRun(file: SpecFile): Promise<StoredRun> {
    const status = (await readJson(join(this.dir(file.id), STATUS_FILE))) as RunState | undefined;
    const { format: _format, version: _version, createdAt, ...run } = file;
    return { ...run, createdAt, state: status ?? { status: 'pending', updatedAt: createdAt } };
  }

  // ---- runs

  async putRun(input: NewRun): Promise<StoredRun> {
    const run = checkNewRun(input);
    return this.withLock(run.id, async () => {
      for (;;) {
        const existing = await this.readSpecFile(run.id);
        if (existing !== undefined) {
          const difference = firstDifference(existing.spec, run.spec);
          if (difference !== undefined) {
            throw new StoreError(
              'spec-mismatch',
              `run '${run.id}' in ${this.location} belongs to a different config (${difference})`,
              `ids are derived from the spec, so this is a hash clash or a hand-edited spec.json: delete ${this.dir(run.id)} to start over, or use another --store`,
            );
          }
          await removeStaleTemps(this.dir(run.id)); // a resume: clear what a killed writer left half-written
          await removeDeadLock(join(this.dir(run.id), WRITE_LOCK)); // and the write lock it held when killed
          return this.toStoredRun(existing);
        }
        const dir = this.dir(run.id);
        await mkdir(dir, { recursive: true });
        await fsyncDir(this.location);
        // The run exists once spec.json does, and is then complete. An empty metrics log first (appending nothing
        // is harmless if another process's run is live). status.json only after we won the create, and only if
        // absent: a loser of the race must not overwrite a live run's status. Between the two, and if we crash
        // there, readers see no status.json, which toStoredRun reads as 'pending' since createdAt: what we write.
        await appendDurable(join(dir, METRICS_FILE), '');
        const createdAt = new Date().toISOString();
        const file: SpecFile = { format: SPEC_FORMAT, version: SPEC_VERSION, ...run, createdAt };
        if (await createFileExclusive(join(dir, SPEC_FILE), JSON.stringify(file, null, 2) + '\n')) {
          const state: RunState = { status: 'pending', updatedAt: createdAt };
          await createFileExclusive(join(dir, STATUS_FILE), JSON.stringify(state, null, 2) + '\n');
          return this.toStoredRun(file);
        }
        // another process created it between our read and our link: compare against theirs
      }
    });
  }

  async getRun(id: string): Promise<StoredRun | undefined> {
    this.checkOpen();
    const file = await this.readSpecFile(id);
    return file === undefined ? undefined : this.toStoredRun(file);
  }

  async listRuns(filter: RunFilter = {}): Promise<StoredRun[]> {
    this.checkOpen();
    const entries = await readdir(this.location, { withFileTypes: true });
    const files = await Promise.all(entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => this.readSpecFile(e.name).catch(skipForeign)));
    const runs = await Promise.all(
      files.filter((f): f is SpecFile => f !== undefined && (filter.sweep === undefined || f.sweep === filter.sweep)).map((f) => this.toStoredRun(f)),
    );
    return runs.sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));
  }

  async setStatus(id: string, status: RunStatus, detail: StatusDetail = {}, fence?: Fence): Promise<void> {
    checkStatus(status, detail);
    this.checkOpen();
    await this.fenced(id, fence, async () => {
      const state: RunState = { status, updatedAt: new Date().toISOString(), ...pickDetail(detail) };
      await replaceFile(join(this.dir(id), STATUS_FILE), JSON.stringify(state, null, 2) + '\n');
    });
  }

  // ---- metrics

  /** The steps stored for a run, repairing a torn last line first (the next writer repairs, readers ignore). */
  private async metricsIndex(id: string): Promise<MetricsIndex> {
    const path = join(this.dir(id), METRICS_FILE);
    const size = await stat(path).then(
      (s) => s.size,
      () => -1,
    );
    const cached = this.indexes.get(id);
    if (cached !== undefined && cached.size === size) return cached;
    const scan = await scanMetrics(path);
    if (size === -1) {
      await appendDurable(path, '');
      await fsyncDir(this.dir(id));
    } else if (scan.validEnd < scan.size) {
      await truncateDurable(path, scan.validEnd);
    }
    const index = { size: scan.validEnd, steps: new Set(scan.rows.map((r) => r.step)) };
    this.indexes.set(id, index);
    return index;
  }

  async appendMetrics(id: string, rows: readonly MetricRow[], fence?: Fence): Promise<number> {
    const checked = checkMetricRows(rows);
    this.checkOpen();
    return this.fenced(id, fence, async () => {
      const index = await this.metricsIndex(id);
      const fresh = checked.filter((r) => !index.steps.has(r.step));
      if (fresh.length === 0) return 0;
      const data = Buffer.from(fresh.map(encodeMetricLine).join(''), 'utf8');
      try {
        await appendDurable(join(this.dir(id), METRICS_FILE), data);
      } catch (err) {
        this.indexes.delete(id); // a partial append may have landed: rescan (and repair) next time
        throw err;
      }
      for (const r of fresh) index.steps.add(r.step);
      index.size += data.length;
      return fresh.length;
    });
  }

  async readMetrics(id: string): Promise<MetricRow[]> {
    this.checkOpen();
    await this.mustExist(id);
    return dedupeSorted((await scanMetrics(join(this.dir(id), METRICS_FILE))).rows);
  }

  async truncateMetricsAfter(id: string, step: number, fence?: Fence): Promise<number> {
    checkStep(step);
    this.checkOpen();
    return this.fenced(id, fence, async () => {
      const path = join(this.dir(id), METRICS_FILE);
      const scan = await scanMetrics(path);
      const all = dedupeSorted(scan.rows);
      const kept = all.filter((r) => r.step <= step);
      const clean = kept.length === scan.rows.length && scan.validEnd === scan.size;
      if (!clean) await replaceFile(path, kept.map(encodeMetricLine).join(''));
      this.indexes.delete(id);
      return all.length - kept.length;
    });
  }

  // ---- checkpoints

  async saveCheckpoint(id: string, step: number, bytes: Uint8Array, fence?: Fence): Promise<void> {
    checkStep(step);
    checkCheckpointBytes(bytes);
    this.checkOpen();
    await this.fenced(id, fence, async () => {
      await replaceFile(join(this.dir(id), CHECKPOINT_FILE), encodeCheckpoint(step, bytes));
    });
  }

  async checkpointStep(id: string): Promise<number | undefined> {
    this.checkOpen();
    await this.mustExist(id);
    const path = join(this.dir(id), CHECKPOINT_FILE);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const header = Buffer.alloc(CHECKPOINT_HEADER);
      const { bytesRead } = await handle.read(header, 0, CHECKPOINT_HEADER, 0);
      if (bytesRead < CHECKPOINT_HEADER || !header.subarray(0, 8).equals(CHECKPOINT_MAGIC) || header.readUInt32LE(8) !== CHECKPOINT_VERSION) {
        throw new StoreError(
          'corrupt',
          `${path} is not a readable checkpoint: bad header`,
          'delete it to restart the run from step 0 (its metric rows will be recomputed)',
        );
      }
      return Number(header.readBigUInt64LE(16));
    } finally {
      await handle.close();
    }
  }

  async loadCheckpoint(id: string): Promise<Checkpoint | undefined> {
    this.checkOpen();
    await this.mustExist(id);
    const path = join(this.dir(id), CHECKPOINT_FILE);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return decodeCheckpoint(buf, path);
  }

  async listDamaged(): Promise<DamagedRun[]> {
    this.checkOpen();
    const out: DamagedRun[] = [];
    const entries = await readdir(this.location, { withFileTypes: true });
    for (const e of entries.filter((x) => x.isDirectory() && !x.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const dir = join(this.location, e.name);
      const files = await readdir(dir).catch(() => [] as string[]);
      const runFiles = files.filter((f) => RUN_FILES.includes(f));
      let problem: string | undefined;
      try {
        if ((await this.readSpecFile(e.name)) === undefined && runFiles.length > 0) problem = `has no ${SPEC_FILE} (it holds ${runFiles.join(', ')})`;
      } catch (err) {
        if (!(err instanceof StoreError) || runFiles.length === 0) continue; // not a run directory at all
        problem = err.code === 'bad-input' ? `is not a valid run id (${err.message})` : err.message;
      }
      if (problem === undefined) continue;
      out.push({
        where: dir,
        problem: `run directory ${dir} ${problem}, so it is left out of every listing, report and fit`,
        hint: `restore its ${SPEC_FILE} from a backup, or delete ${dir} and re-run the sweep or train command that made it (the run is then trained again from scratch)`,
      });
    }
    return out;
  }

  // ---- records for analysis

  async loadRecord(id: string): Promise<RunRecord> {
    const run = await this.getRun(id);
    if (run === undefined) throw notFound(id, this.location);
    return toRecord(run, await this.readMetrics(id));
  }

  async loadRecords(filter: RunFilter = {}): Promise<RunRecord[]> {
    const runs = await this.listRuns(filter);
    return Promise.all(runs.map(async (run) => toRecord(run, await this.readMetrics(run.id))));
  }

  // ---- sweep manifests: <root>/.sweeps/<name>.json, created with link(2) so it appears complete and only once

  private sweepPath(name: string): string {
    return join(this.location, SWEEPS_DIR, `${checkSweepName(name)}.json`);
  }

  async putSweep<Spec>(manifest: SweepManifest<Spec>): Promise<RecordedSweep<Spec>> {
    this.checkOpen();
    checkManifest(manifest);
    const path = this.sweepPath(manifest.name);
    await mkdir(join(this.location, SWEEPS_DIR), { recursive: true });
    const created = await createFileExclusive(path, JSON.stringify(manifest, null, 2) + '\n');
    const stored = await this.getSweep<Spec>(manifest.name);
    if (stored === undefined)
      throw new StoreError('corrupt', `${path} was recorded but cannot be read back`, 'check the store directory is writable and not being cleaned up');
    return { created, stored };
  }

  async getSweep<Spec = unknown>(name: string): Promise<SweepManifest<Spec> | undefined> {
    this.checkOpen();
    const path = this.sweepPath(name);
    const value = await readJson(path);
    return value === undefined ? undefined : (readManifest(value, path) as SweepManifest<Spec>);
  }

  async listSweeps<Spec = unknown>(): Promise<SweepManifest<Spec>[]> {
    this.checkOpen();
    const names = await readdir(join(this.location, SWEEPS_DIR)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    // temp files (.<name>.json.<pid>...tmp) start with a dot: only <name>.json with a sweep's name is a manifest
    const all = await Promise.all(names.filter((n) => n.endsWith('.json') && isSweepName(n.slice(0, -5))).map((n) => this.getSweep<Spec>(n.slice(0, -5))));
    return all
      .filter((m): m is SweepManifest<Spec> => m !== undefined)
      .sort((a, b) => (a.createdAt === b.createdAt ? (a.name < b.name ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.locks.values());
  }
}

/** Removes a write lock whose process is gone from this host (a writer killed mid-write); keeps any other. */
async function removeDeadLock(lock: string): Promise<void> {
  const text = await readFile(lock, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  let owner: { pid?: number; host?: string } = {};
  try {
    owner = JSON.parse(text) as typeof owner;
  } catch {
    return;
  }
  if (owner.host === THIS_HOST && !pidAlive(owner.pid ?? -1) && (await readFile(lock, 'utf8').catch(() => undefined)) === text)
    await unlink(lock).catch(() => {});
}

/** A directory in the store that is not a run (no spec.json, a bad name, a foreign file) is left alone by listRuns. */
function skipForeign(err: unknown): undefined {
  if (err instanceof StoreError && (err.code === 'bad-input' || err.code === 'corrupt')) return undefined;
  throw err;
}
