// The fits the dashboard shows, recomputed off the request path: a child process (fits-entry.ts) runs the report's
// own code on the store whenever the feed changed, at most once per minGapMs, one computation at a time.
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import type { NCount } from '../report/data.ts';

export interface FitRequest {
  location: string;
  bootstrap: number;
  seed: number;
  nCount: NCount;
}

export interface FitChart {
  id: string;
  title: string;
  status: 'drawn' | 'skipped';
  caption?: string;
  /** the rendered chart, as in the report's SVG files */
  svg?: string;
  /** the 3D chart's Plotly figure */
  plotly?: unknown;
  reason?: string;
}

export type FitReply =
  | { ok: true; ms: number; runs: number; charts: FitChart[]; tablesHtml: string; warnings: string[] }
  | { ok: false; ms: number; message: string; hint?: string; stack?: string };

export interface FitsSnapshot {
  /** 'waiting': nothing computed yet; 'ready': the last computation's result; 'error': why the last one failed */
  state: 'waiting' | 'ready' | 'error';
  computing: boolean;
  /** how many computations finished; the page refetches when it grows */
  generation: number;
  at?: string;
  ms?: number;
  runs?: number;
  charts: FitChart[];
  tablesHtml: string;
  warnings: string[];
  error?: string;
  hint?: string;
}

export interface FitsOptions extends Omit<FitRequest, 'location'> {
  /** the least time between the start of one computation and the next (default 5000 ms) */
  minGapMs?: number;
}

const tsxLoader = import.meta.resolve('tsx');
const ENTRY = new URL('./fits-entry.ts', import.meta.url).pathname;

export class Fits {
  snapshot: FitsSnapshot = { state: 'waiting', computing: false, generation: 0, charts: [], tablesHtml: '', warnings: [] };
  private child?: ChildProcess;
  private dirty = true;
  private lastStart = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly location: string,
    private readonly options: FitsOptions,
    private readonly onUpdate: (s: FitsSnapshot) => void,
  ) {}

  /** The store changed: compute again when the gap allows. */
  changed(): void {
    this.dirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.snapshot.computing || this.timer || !this.dirty) return;
    const wait = Math.max(0, this.lastStart + (this.options.minGapMs ?? 5000) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, wait);
    this.timer.unref();
  }

  private ensureChild(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const child = fork(ENTRY, [], { execArgv: ['--import', tsxLoader], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    try {
      // below the trainers: the fits wait for spare CPU
      if (child.pid !== undefined) setPriority(child.pid, 10);
    } catch {
      // not permitted here: same priority
    }
    child.on('message', (reply: FitReply) => this.done(reply));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.snapshot.computing) this.done({ ok: false, ms: 0, message: `the fit process exited (${signal ?? `code ${code}`})` });
    });
    this.child = child;
    return child;
  }

  private run(): void {
    if (this.closed) return;
    this.dirty = false;
    this.lastStart = Date.now();
    this.snapshot = { ...this.snapshot, computing: true };
    const req: FitRequest = { location: this.location, bootstrap: this.options.bootstrap, seed: this.options.seed, nCount: this.options.nCount };
    this.ensureChild().send(req);
  }

  private done(reply: FitReply): void {
    const base = { computing: false, generation: this.snapshot.generation + 1, at: new Date().toISOString(), ms: reply.ms };
    this.snapshot = reply.ok
      ? { ...base, state: 'ready', runs: reply.runs, charts: reply.charts, tablesHtml: reply.tablesHtml, warnings: reply.warnings }
      : {
          ...this.snapshot,
          ...base,
          state: 'error',
          error: reply.message,
          ...(reply.hint !== undefined && { hint: reply.hint }),
        };
    this.onUpdate(this.snapshot);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.child?.kill();
  }
}
