// The PostgreSQL store's live feed: polls every pollMs for runs whose updated_at changed and for metric rows past
// each run's last step held (one query, (run_id, step) primary key). The tables are store/postgres-store.ts's.
import pg from 'pg';
import type { Store } from '../store/store.ts';
import { Feed, type CurveRow } from './feed.ts';
import { ServeError } from './errors.ts';

/** how often the tables are polled */
export const PG_POLL_MS = 500;

interface MetricsRow {
  run_id: string;
  step: number;
  tokens: number;
  train_loss: number;
  test_loss: number | null;
  wall_ms: number;
}

export class PgFeed extends Feed {
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private timer?: NodeJS.Timeout;
  private polling = false;
  private closed = false;
  /** the last error of a poll, if the last one failed (the next one tries again) */
  lastError?: string;

  constructor(
    private readonly store: Store,
    url: string,
    private readonly pollMs = PG_POLL_MS,
  ) {
    super();
    const u = new URL(url);
    const schema = u.searchParams.get('schema') ?? 'scaling_lab';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new ServeError(`bad Postgres schema name '${schema}'`, 'use lower-case letters, digits and _');
    u.searchParams.delete('schema');
    this.schema = `"${schema}"`;
    this.pool = new pg.Pool({ connectionString: u.href, max: 2, connectionTimeoutMillis: 5000, statement_timeout: 30_000 });
    this.pool.on('error', () => {});
  }

  async start(): Promise<void> {
    await this.poll(true);
    this.timer = setInterval(() => void this.poll(false), this.pollMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.pool.end().catch(() => {});
    await this.store.close();
  }

  private async poll(first: boolean): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const { rows: states } = await this.pool.query<{ id: string; status: string; updated_at: Date }>(
        `SELECT id, status, updated_at FROM ${this.schema}.runs`,
      );
      for (const s of states) {
        const known = this.runs.get(s.id);
        if (known && known.stored.state.updatedAt === s.updated_at.toISOString() && known.stored.state.status === s.status) continue;
        const stored = await this.store.getRun(s.id);
        if (stored) this.upsertRun(stored);
      }
      const ids = [...this.runs.keys()];
      const lasts = ids.map((id) => this.runs.get(id)!.lastStep);
      const { rows } = await this.pool.query<MetricsRow>(
        `SELECT m.run_id, m.step, m.tokens, m.train_loss, m.test_loss, m.wall_ms FROM ${this.schema}.metrics m
         JOIN unnest($1::text[], $2::integer[]) AS l(id, last) ON m.run_id = l.id AND m.step > l.last ORDER BY m.run_id, m.step`,
        [ids, lasts],
      );
      let batch: CurveRow[] = [];
      let current: string | undefined;
      const flush = () => {
        const run = current !== undefined ? this.runs.get(current) : undefined;
        if (run && batch.length) this.addRows(run, batch);
        batch = [];
      };
      for (const r of rows) {
        if (r.run_id !== current) {
          flush();
          current = r.run_id;
        }
        batch.push({ step: r.step, tokens: r.tokens, trainLoss: r.train_loss, ...(r.test_loss !== null && { testLoss: r.test_loss }), wallMs: r.wall_ms });
      }
      flush();
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
      if (first)
        throw new ServeError(
          `cannot read the PostgreSQL store: ${this.lastError}`,
          'check that the database is up and the URL is right (scaling-lab status reads it too)',
        );
    } finally {
      this.polling = false;
    }
  }
}
