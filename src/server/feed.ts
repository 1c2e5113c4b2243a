// The dashboard's live view of a store: every run's summary (status, progress, tokens/s, ETA, last losses) and its
// curve rows, kept in memory and updated incrementally; subscribers get each change as an event. How changes are
// noticed is the store's: file-feed.ts (appended bytes of metrics.jsonl) and pg-feed.ts (polled rows past a step).
import type { MetricRow, RunStatus } from '../analysis/records.ts';
import type { StoredRun } from '../store/store.ts';
import { parseRunConfig, totalSteps } from '../train/config.ts';
import { formatParams } from '../util/format.ts';

/** One logged step as the page draws it (the rest of a MetricRow stays in the store). */
export interface CurveRow {
  step: number;
  tokens: number;
  trainLoss: number;
  /** eval steps only */
  testLoss?: number;
  wallMs: number;
}

/** A run as the runs table shows it. */
export interface RunSummary {
  id: string;
  name: string;
  sweep?: string;
  status: RunStatus;
  /** why it failed or what diverged (StatusDetail.message) */
  message?: string;
  worker?: string;
  updatedAt: string;
  /** the model size label (Kaplan's non-embedding N, as the report labels its groups) */
  size: string;
  paramsKaplan: number;
  batchSize: number;
  batchTokens: number;
  lr?: number;
  step: number;
  /** from the run config in the spec; undefined for a run whose spec is not one of our configs */
  totalSteps?: number;
  tokens: number;
  /** over the last rows (up to RATE_ROWS), by their wall clock */
  tokensPerSec?: number;
  /** seconds left at that rate, for a running run with a known total */
  etaSec?: number;
  trainLoss?: number;
  testLoss?: number;
  rows: number;
  /** a damaged metrics line or an unreadable file, said once per run (the feed keeps serving) */
  problem?: string;
}

export type FeedEvent =
  | { type: 'run'; run: RunSummary }
  | { type: 'rows'; id: string; rows: CurveRow[] }
  /** the run's rows were rewritten (a resume truncated them): these are all of them now */
  | { type: 'reset'; id: string; rows: CurveRow[] }
  | { type: 'problem'; id: string; message: string };

/** tokens/s is measured over at most this many of the last rows */
const RATE_ROWS = 20;

export const curveRow = (m: MetricRow): CurveRow => ({
  step: m.step,
  tokens: m.tokens,
  trainLoss: m.trainLoss,
  ...(m.testLoss !== undefined && { testLoss: m.testLoss }),
  wallMs: m.wallMs,
});

function specTotalSteps(spec: unknown): number | undefined {
  try {
    const s = spec as { config?: unknown } | undefined;
    return totalSteps(parseRunConfig(s && typeof s === 'object' && 'config' in s ? s.config : spec));
  } catch {
    return undefined;
  }
}

/**
 * A run's rows in step order, one typed array per field (NaN: no test loss): about 40 bytes a row, where row objects
 * took about 200 (1M rows: 217 MiB held as objects).
 */
export class RowColumns implements Iterable<CurveRow> {
  length = 0;
  private step = new Float64Array(16);
  private tokens = new Float64Array(16);
  private train = new Float64Array(16);
  private test = new Float64Array(16);
  private wall = new Float64Array(16);

  static of(rows: readonly CurveRow[]): RowColumns {
    const c = new RowColumns();
    for (const r of rows) c.push(r);
    return c;
  }

  push(r: CurveRow): void {
    if (this.length === this.step.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.step = grow(this.step);
      this.tokens = grow(this.tokens);
      this.train = grow(this.train);
      this.test = grow(this.test);
      this.wall = grow(this.wall);
    }
    const i = this.length++;
    this.step[i] = r.step;
    this.tokens[i] = r.tokens;
    this.train[i] = r.trainLoss;
    this.test[i] = r.testLoss ?? NaN;
    this.wall[i] = r.wallMs;
  }

  stepAt(i: number): number {
    return this.step[i]!;
  }

  /** the columns as views of the rows held (valid until the next push) */
  columns(): { step: Float64Array; tokens: Float64Array; train: Float64Array; test: Float64Array } {
    const n = this.length;
    return { step: this.step.subarray(0, n), tokens: this.tokens.subarray(0, n), train: this.train.subarray(0, n), test: this.test.subarray(0, n) };
  }

  /** row i (0-based, negative from the end); a NaN test loss (none logged, or a NaN eval) comes back absent */
  at(i: number): CurveRow | undefined {
    if (i < 0) i += this.length;
    if (i < 0 || i >= this.length) return undefined;
    const test = this.test[i]!;
    return { step: this.step[i]!, tokens: this.tokens[i]!, trainLoss: this.train[i]!, ...(!Number.isNaN(test) && { testLoss: test }), wallMs: this.wall[i]! };
  }

  *[Symbol.iterator](): Iterator<CurveRow> {
    for (let i = 0; i < this.length; i++) yield this.at(i)!;
  }
}

/** One run in memory: its stored record and its rows, one per step in step order. */
export class LiveRun {
  rows = new RowColumns();
  problem?: string;
  readonly totalSteps: number | undefined;
  lastTestLoss?: number;
  constructor(public stored: StoredRun) {
    this.totalSteps = specTotalSteps(stored.spec);
  }

  get lastStep(): number {
    return this.rows.length ? this.rows.stepAt(this.rows.length - 1) : 0;
  }

  summary(): RunSummary {
    const s = this.stored;
    const last = this.rows.at(-1);
    const from = this.rows.at(Math.max(0, this.rows.length - 1 - RATE_ROWS));
    const dt = last && from ? last.wallMs - from.wallMs : 0;
    const rate = last && from && dt > 0 ? ((last.tokens - from.tokens) / dt) * 1000 : undefined;
    const totalTokens = this.totalSteps !== undefined ? this.totalSteps * s.batchTokens : undefined;
    const eta =
      s.state.status === 'running' && rate !== undefined && rate > 0 && totalTokens !== undefined
        ? Math.max(0, (totalTokens - (last?.tokens ?? 0)) / rate)
        : undefined;
    return {
      id: s.id,
      name: s.name,
      ...(s.sweep !== undefined && { sweep: s.sweep }),
      status: s.state.status,
      ...(s.state.message !== undefined && { message: s.state.message }),
      ...(s.state.worker !== undefined && { worker: s.state.worker }),
      updatedAt: s.state.updatedAt,
      size: formatParams(s.paramsKaplan),
      paramsKaplan: s.paramsKaplan,
      batchSize: s.batchSize,
      batchTokens: s.batchTokens,
      ...(s.lr !== undefined && { lr: s.lr }),
      step: last?.step ?? 0,
      ...(this.totalSteps !== undefined && { totalSteps: this.totalSteps }),
      tokens: last?.tokens ?? 0,
      ...(rate !== undefined && { tokensPerSec: rate }),
      ...(eta !== undefined && { etaSec: eta }),
      ...(last && { trainLoss: last.trainLoss }),
      ...(this.lastTestLoss !== undefined && { testLoss: this.lastTestLoss }),
      rows: this.rows.length,
      ...(this.problem !== undefined && { problem: this.problem }),
    };
  }
}

/** What both feeds share: the runs in memory, the subscribers, and a change counter the fits are throttled on. */
export abstract class Feed {
  readonly runs = new Map<string, LiveRun>();
  /** bumps on every change to a run or its rows */
  version = 0;
  private readonly listeners = new Set<(e: FeedEvent) => void>();

  abstract start(): Promise<void>;
  abstract close(): Promise<void>;

  subscribe(fn: (e: FeedEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  protected emit(e: FeedEvent): void {
    this.version++;
    for (const fn of this.listeners) fn(e);
  }

  /** A new run, or a stored run whose status (or spec fields) changed. */
  protected upsertRun(stored: StoredRun): LiveRun {
    const known = this.runs.get(stored.id);
    if (known && known.stored.state.updatedAt === stored.state.updatedAt && known.stored.state.status === stored.state.status) return known;
    const run = known ?? new LiveRun(stored);
    run.stored = stored;
    this.runs.set(stored.id, run);
    this.emit({ type: 'run', run: run.summary() });
    return run;
  }

  /** Rows in step order; a step at or before the last one held is skipped (the store keeps one row per step). */
  protected addRows(run: LiveRun, rows: readonly CurveRow[]): void {
    const fresh: CurveRow[] = [];
    for (const r of rows) {
      if (r.step <= run.lastStep && run.rows.length) continue;
      run.rows.push(r);
      if (r.testLoss !== undefined) run.lastTestLoss = r.testLoss;
      fresh.push(r);
    }
    if (fresh.length === 0) return;
    this.emit({ type: 'rows', id: run.stored.id, rows: fresh });
    this.emit({ type: 'run', run: run.summary() });
  }

  protected resetRows(run: LiveRun, rows: CurveRow[]): void {
    run.rows = RowColumns.of(rows);
    run.lastTestLoss = rows.findLast((r) => r.testLoss !== undefined)?.testLoss;
    this.emit({ type: 'reset', id: run.stored.id, rows });
    this.emit({ type: 'run', run: run.summary() });
  }

  protected reportProblem(run: LiveRun, message: string): void {
    if (run.problem === message) return;
    run.problem = message;
    this.emit({ type: 'problem', id: run.stored.id, message });
    this.emit({ type: 'run', run: run.summary() });
  }
}
