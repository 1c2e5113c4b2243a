// The file store's live feed: each run's metrics.jsonl read by byte offset (only the appended bytes, never the whole
// file per update), woken by fs.watch and by a poll every pollMs as the fallback. Layout and encoding are store/'s.
import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { decodeMetricLine } from '../store/rows.ts';
import { isRunId } from './errors.ts';
import type { Store } from '../store/store.ts';
import { Feed, curveRow, type CurveRow, type LiveRun } from './feed.ts';

/** the poll that catches what fs.watch misses (it can, on network file systems and under load) */
export const FILE_POLL_MS = 500;

interface Tail {
  /** bytes of metrics.jsonl consumed: up to the end of the last complete line */
  offset: number;
  /** complete lines read so far, for the line number of a damaged one */
  lines: number;
  /** status.json's mtime and size when last read */
  statusSig: string;
  /** the last bytes consumed (up to FINGERPRINT): if they changed, the file was rewritten, not appended to */
  fingerprint: Buffer;
}

/** bytes before the offset compared on every read: a truncate-and-append between two reads is caught by them */
const FINGERPRINT = 64;

export class FileFeed extends Feed {
  private readonly tails = new Map<string, Tail>();
  /** per run: the scan in flight, and whether another was asked for meanwhile */
  private readonly scanning = new Map<string, { again: boolean }>();
  private timer?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private polling = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly pollMs = FILE_POLL_MS,
    private readonly useWatch = true,
  ) {
    super();
  }

  get root(): string {
    return this.store.location;
  }

  async start(): Promise<void> {
    await this.poll();
    if (this.useWatch) this.startWatch();
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  private startWatch(): void {
    try {
      this.watcher = watch(this.root, { recursive: true }, (_event, name) => {
        const id = name?.toString().split(sep)[0];
        if (id && isRunId(id)) void this.scan(id);
      });
      this.watcher.on('error', () => {
        // the poll still runs
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // recursive fs.watch unavailable here: the poll alone
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.watcher?.close();
    await this.store.close();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      await Promise.all(entries.filter((e) => e.isDirectory() && isRunId(e.name)).map((e) => this.scan(e.name)));
    } catch {
      // the store directory vanished or is unreadable for a moment: the next poll tries again
    } finally {
      this.polling = false;
    }
  }

  /** One run's status and new rows; scans of one run never overlap (a request during one reruns it after). */
  private async scan(id: string): Promise<void> {
    const busy = this.scanning.get(id);
    if (busy) {
      busy.again = true;
      return;
    }
    const mark = { again: false };
    this.scanning.set(id, mark);
    try {
      do {
        mark.again = false;
        if (this.closed) return;
        await this.scanOnce(id);
      } while (mark.again);
    } finally {
      this.scanning.delete(id);
    }
  }

  private async scanOnce(id: string): Promise<void> {
    const dir = join(this.root, id);
    let tail = this.tails.get(id);
    const st = await stat(join(dir, 'status.json')).catch(() => stat(join(dir, 'spec.json')).catch(() => undefined));
    if (!st) return; // not a run (yet): putRun writes spec.json first
    const sig = `${st.mtimeMs}:${st.size}`;
    let run = this.runs.get(id);
    if (!run || !tail || tail.statusSig !== sig) {
      const stored = await this.store.getRun(id).catch(() => undefined);
      if (!stored) return;
      run = this.upsertRun(stored);
      tail ??= { offset: 0, lines: 0, statusSig: sig, fingerprint: Buffer.alloc(0) };
      tail.statusSig = sig;
      this.tails.set(id, tail);
    }
    await this.readAppended(run, tail, join(dir, 'metrics.jsonl'));
  }

  /** Reads metrics.jsonl from the offset to its end; a torn last line waits for its '\n', a damaged line is reported. */
  private async readAppended(run: LiveRun, tail: Tail, path: string): Promise<void> {
    // the poll's common case, nothing appended: one stat, no open
    const size = await stat(path).then(
      (st) => st.size,
      () => undefined,
    );
    if (size === undefined || size === tail.offset) return;
    let fh;
    try {
      fh = await open(path, 'r');
    } catch {
      return; // no rows yet
    }
    try {
      const { size } = await fh.stat();
      if (size === tail.offset) return;
      const fp = tail.fingerprint;
      const buf = size > tail.offset ? await readRange(fh, tail.offset - fp.length, size) : undefined;
      if (!buf || !buf.subarray(0, fp.length).equals(fp)) {
        // truncated or rewritten (a resume dropped rows past its checkpoint, perhaps appending again since): read it
        // again from the start
        tail.offset = 0;
        tail.lines = 0;
        tail.fingerprint = Buffer.alloc(0);
        const rows = this.decode(run, tail, await readRange(fh, 0, size));
        this.resetRows(run, rows);
        return;
      }
      this.addRows(run, this.decode(run, tail, buf.subarray(fp.length)));
    } finally {
      await fh.close();
    }
  }

  private decode(run: LiveRun, tail: Tail, buf: Buffer): CurveRow[] {
    const rows: CurveRow[] = [];
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      tail.lines++;
      const row = decodeMetricLine(buf.toString('utf8', start, nl));
      if (row === undefined) {
        this.reportProblem(run, `metrics.jsonl line ${tail.lines} is not a metric row (skipped; the other rows are shown)`);
      } else {
        rows.push(curveRow(row));
      }
      start = nl + 1;
    }
    tail.offset += start;
    // the consumed bytes' last FINGERPRINT (with what was kept of the earlier ones when this read is short)
    const consumed = buf.subarray(0, start);
    tail.fingerprint =
      consumed.length >= FINGERPRINT
        ? Buffer.from(consumed.subarray(consumed.length - FINGERPRINT))
        : Buffer.concat([tail.fingerprint, consumed]).subarray(-FINGERPRINT);
    rows.sort((a, b) => a.step - b.step);
    return rows;
  }
}

async function readRange(fh: import('node:fs/promises').FileHandle, from: number, to: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(to - from);
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, from + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}
