// Which store and queue errors are outages (wait and retry) and which are answers (fail now), in one place, and the
// retry loop that waits an outage out: exponential backoff for a window of time, one line per outage.
// Used by the Postgres store (every query and transaction), the queue worker and the `sweep --queue` watcher.

/** Postgres SQLSTATEs that say "not now" rather than "no". */
const TRANSIENT_SQLSTATES = new Set([
  '57P01', // admin_shutdown (a restart, pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '53300', // too_many_connections
  '53400', // configuration_limit_exceeded
  '57014', // query_canceled (statement_timeout: the server is overloaded or a lock is held by a stuck session)
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (lock_timeout)
]);

/** Node socket errors that say the other end is gone or slow. */
const TRANSIENT_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTCONN',
]);

/** Messages of pg, pg-pool and ioredis errors that carry no code. */
const TRANSIENT_MESSAGES = [
  /connection terminated/i, // pg: the server closed the connection
  /timeout expired/i, // pg: connectionTimeoutMillis
  /timeout exceeded when trying to connect/i, // pg-pool: every connection busy for connectionTimeoutMillis
  /query read timeout/i, // pg: query_timeout
  /connection timeout/i,
  /server closed the connection unexpectedly/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /Client has encountered a connection error|is not queryable/i,
  /Connection is closed/i, // ioredis
  /Stream isn't writeable/i, // ioredis, offline queue off
  /Command timed out/i, // ioredis commandTimeout
  /Reached the max retries per request limit/i, // ioredis MaxRetriesPerRequestError
  /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b/, // Redis replies during a restart or failover
];

const TRANSIENT_NAMES = new Set(['MaxRetriesPerRequestError']);

/**
 * True when `err` (or an error it wraps as `cause`) means the store or queue is unreachable for now: connection
 * refused or reset, a timeout, a server shutting down or starting up, too many connections, a Redis reconnect.
 * False for answers that will not change on a retry (a constraint, a bad query, a refused write, a wrong password).
 */
export function isTransient(err: unknown): boolean {
  if (isFinalOutage(err)) return false;
  for (let e = err as ErrorLike | undefined, depth = 0; e !== undefined && e !== null && depth < 5; e = e.cause as ErrorLike | undefined, depth++) {
    if (typeof e !== 'object') return false;
    // the store's own wrapper for a lost connection
    if (e.name === 'StoreError') {
      if (e.code === 'unreachable') return true;
      if (e.code !== undefined && e.code !== 'unreachable') return false;
    }
    if (typeof e.code === 'string' && (TRANSIENT_SQLSTATES.has(e.code) || e.code.startsWith('08') || TRANSIENT_ERRNOS.has(e.code))) return true;
    if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
    if (typeof e.message === 'string' && TRANSIENT_MESSAGES.some((re) => re.test(e.message!))) return true;
    if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x) => isTransient(x))) return true; // AggregateError (IPv4 + IPv6 refused)
  }
  return false;
}

interface ErrorLike {
  name?: string;
  code?: unknown;
  message?: string;
  cause?: unknown;
  errors?: unknown[];
  final?: boolean;
}

/** A short reason for an outage line: the code and the first line of the message. */
function describeError(err: unknown): string {
  const e = err as ErrorLike;
  const msg = String(e?.message ?? err)
    .split('\n')[0]!
    .replace(/^cannot reach the Postgres store [^:]+: /, '');
  return typeof e?.code === 'string' && !msg.includes(e.code) && e.name !== 'StoreError' ? `${e.code} ${msg}` : msg;
}

// ---- outages: when one began, when it ended, one line

export interface Outage {
  /** what was unreachable: 'store postgres://...' or 'queue redis://...' */
  what: string;
  /** Date.now() of the first failed call */
  since: number;
  /** Date.now() when a call succeeded again (or the window ran out) */
  until: number;
  /** the first error, described */
  reason: string;
  /** false when the window ran out and the caller gave up */
  recovered: boolean;
}

export type OutageListener = (outage: Outage) => void;

const clock = (t: number) => new Date(t).toISOString().slice(11, 19);

/** The one line an outage is reported as. */
export function formatOutage(o: Outage): string {
  const seconds = ((o.until - o.since) / 1000).toFixed(1);
  return o.recovered
    ? `${o.what}: unreachable from ${clock(o.since)} to ${clock(o.until)} (${seconds} s: ${o.reason}); carried on`
    : `${o.what}: unreachable from ${clock(o.since)} to ${clock(o.until)} (${seconds} s: ${o.reason}); gave up (longer than the outage window)`;
}

/**
 * Tracks one resource's outages across calls: `fail` on each transient error (the first one opens the outage), `ok` on
 * success (closes it and reports it), `gaveUp` when the window ran out. Concurrent calls share one outage.
 */
export class OutageTracker {
  private current?: { since: number; reason: string };

  constructor(
    readonly what: string,
    private readonly onOutage?: OutageListener,
  ) {}

  /** Date.now() when the current outage began, or undefined. */
  get since(): number | undefined {
    return this.current?.since;
  }

  fail(err: unknown, at = Date.now()): number {
    this.current ??= { since: at, reason: describeError(err) };
    return this.current.since;
  }

  ok(at = Date.now()): void {
    const c = this.current;
    if (c === undefined) return;
    this.current = undefined;
    this.onOutage?.({ what: this.what, since: c.since, until: at, reason: c.reason, recovered: true });
  }

  gaveUp(at = Date.now()): void {
    const c = this.current;
    if (c === undefined) return;
    this.current = undefined;
    this.onOutage?.({ what: this.what, since: c.since, until: at, reason: c.reason, recovered: false });
  }
}

// ---- the retry loop

/** Default outage window: how long store and queue calls wait out an outage before they fail. */
export const DEFAULT_OUTAGE_WINDOW_MS = 10 * 60_000;

export interface RetryOptions {
  /** give up once the outage has lasted this long (0: no retry) */
  windowMs: number;
  /** first delay; doubled after each failure up to maxDelayMs (defaults 100 ms and 2 s: back within ~2 s of the service) */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** shared by every call on one resource, so an outage is one line however many calls waited it out */
  tracker?: OutageTracker;
  /** stop waiting (the last error is thrown) */
  signal?: AbortSignal;
  /** which errors to wait out; default isTransient */
  transient?: (err: unknown) => boolean;
}

/**
 * Calls fn until it succeeds, waiting out transient errors with exponential backoff (with jitter) for up to
 * `windowMs` from the first failure of this outage (a tracker's outage may have begun in another call). A
 * non-transient error is thrown at once; a transient one after the window is thrown as it came (marked final).
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const transient = options.transient ?? isTransient;
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 2000;
  let delay = base;
  let mySince: number | undefined;
  for (;;) {
    try {
      const result = await fn();
      options.tracker?.ok();
      return result;
    } catch (err) {
      if (!transient(err) || options.windowMs <= 0 || options.signal?.aborted) throw err;
      const now = Date.now();
      mySince ??= now;
      const since = Math.min(options.tracker?.fail(err, now) ?? mySince, mySince);
      if (now - since >= options.windowMs) {
        options.tracker?.gaveUp(now);
        markFinal(err);
        throw err;
      }
      const wait = Math.min(delay, options.windowMs - (now - since)) * (0.8 + 0.4 * Math.random());
      delay = Math.min(delay * 2, max);
      await sleep(wait, options.signal);
    }
  }
}

/** An error that outlasted its outage window: isTransient says false from now on, so outer retry loops do not wait again. */
function markFinal(err: unknown): void {
  if (err !== null && typeof err === 'object') {
    try {
      Object.defineProperty(err, 'final', { value: true, configurable: true });
    } catch {
      // frozen: outer loops may retry it once more
    }
  }
}

/** True for an error that outlasted an outage window (withRetry gave up on it). */
export function isFinalOutage(err: unknown): boolean {
  return (err as ErrorLike | undefined)?.final === true;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
