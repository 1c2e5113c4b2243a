// The dashboard's HTTP server: one page and its assets, a read-only JSON API over the live feed and the fits, and
// server-sent events (/events). Binding, the token, and what a request may ask are checked here; the page is page/.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { openStore, storeKindOf } from '../store/store.ts';
import type { NCount } from '../report/data.ts';
import { redactUrl } from '../util/redact.ts';
import { Feed, type CurveRow, type FeedEvent, type RowColumns, type RunSummary } from './feed.ts';
import { FileFeed, FILE_POLL_MS } from './file-feed.ts';
import { PgFeed, PG_POLL_MS } from './pg-feed.ts';
import { Fits, type FitsSnapshot } from './fits.ts';
import { HttpError, ServeError, isRunId } from './errors.ts';

export interface ServeOptions {
  /** a file store directory or a postgres:// URL */
  location: string;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: any free port */
  port?: number;
  /** required for a non-loopback host; when set, every request must carry it */
  token?: string;
  /** the feed's poll interval (default 500 ms for both stores) */
  pollMs?: number;
  /** least time between two fit computations (default 5000 ms) */
  fitGapMs?: number;
  bootstrap?: number;
  seed?: number;
  nCount?: NCount;
  /** file store: wake on fs.watch as well as the poll (default true; false measures the poll alone) */
  watch?: boolean;
  /** compute the fits at all (default true; the bench times the feed and the API without them) */
  fits?: boolean;
}

export interface Dashboard {
  /** the page's address, with ?token= when a token is set */
  url: string;
  port: number;
  feed: Feed;
  close(): Promise<void>;
}

/** the most rows one /api/runs/:id/rows answer holds; the page asks again from the last step it got */
const ROWS_PAGE = 100_000;
/** a curve in /api/state keeps every row up to this many, else about POINTS_PER_DECADE per decade of steps */
const THIN_ABOVE = 300;
const POINTS_PER_DECADE = 60;
/** events queued for one client beyond this are not sent: the client is dropped and reconnects */
const SLOW_CLIENT_BYTES = 16 * 2 ** 20;
/** how often the sweep manifests are read again (new sweeps are rare) */
const SWEEPS_MS = 2000;

/** A recorded sweep and how far its runs are: counts by status, 'not started' for runs not in the store yet. */
export interface SweepSummary {
  name: string;
  purpose: string;
  createdAt: string;
  runs: number;
  counts: Record<string, number>;
}
/** SSE comment lines keep proxies and the browser from timing the stream out */
const KEEPALIVE_MS = 15_000;

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

// ---- assets: the page, and Plotly from node_modules (no network at view time, as the report)

const require = createRequire(import.meta.url);
const PAGE_DIR = new URL('./page/', import.meta.url);
const ASSETS: Record<string, { path: string; type: string }> = {
  '/': { path: new URL('index.html', PAGE_DIR).pathname, type: 'text/html; charset=utf-8' },
  '/assets/app.js': { path: new URL('app.js', PAGE_DIR).pathname, type: 'text/javascript; charset=utf-8' },
  '/assets/style.css': { path: new URL('style.css', PAGE_DIR).pathname, type: 'text/css; charset=utf-8' },
  '/assets/plotly.min.js': { path: require.resolve('plotly.js-dist-min'), type: 'text/javascript; charset=utf-8' },
};
const assetCache = new Map<string, { body: Buffer; etag: string }>();

function asset(path: string): { body: Buffer; etag: string; type: string } | undefined {
  const a = ASSETS[path];
  if (!a) return undefined;
  let c = assetCache.get(path);
  if (!c) {
    const body = readFileSync(a.path);
    c = { body, etag: `"${createHash('sha1').update(body).digest('hex').slice(0, 16)}"` };
    assetCache.set(path, c);
  }
  return { ...c, type: a.type };
}

// ---- thinned curves for the first load

/** a loss to 4 decimals (a tenth of what the curves can show): the first load is a third the size */
const r4 = (x: number): number | string => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : String(x));

/** a run's curve, columns safe for plain JSON.stringify (non-finite values are strings already) */
interface ThinCurve {
  s: number[];
  t: number[];
  l: (number | string)[];
  e: (number | string | null)[];
}

function thin(rows: RowColumns): ThinCurve {
  const out: ThinCurve = { s: [], t: [], l: [], e: [] };
  const { step, tokens, train, test } = rows.columns();
  const n = step.length;
  let lastBin = -Infinity;
  for (let i = 0; i < n; i++) {
    const bin = Math.floor(Math.log10(Math.max(1, step[i]!)) * POINTS_PER_DECADE);
    const hasTest = !Number.isNaN(test[i]!);
    // every test point, the last row, and one row per bin of log(step)
    if (n > THIN_ABOVE && !hasTest && bin === lastBin && i !== n - 1) continue;
    lastBin = bin;
    out.s.push(step[i]!);
    out.t.push(tokens[i]!);
    out.l.push(r4(train[i]!));
    out.e.push(hasTest ? r4(test[i]!) : null);
  }
  return out;
}

/** JSON with non-finite numbers as strings (a diverged run's loss is NaN or Infinity), as the store's JSON lines. */
const toJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));

// ---- the server

export async function startDashboard(o: ServeOptions): Promise<Dashboard> {
  const host = o.host ?? '127.0.0.1';
  const token = o.token === '' ? undefined : o.token;
  if (!isLoopback(host) && token === undefined) {
    throw new ServeError(
      `refusing to serve on ${host} without a token: the dashboard would be readable by anyone who can reach that address`,
      'pass --token T (or set SCALING_LAB_TOKEN); every request must then carry it as ?token=T or Authorization: Bearer T. Or bind 127.0.0.1 (the default)',
    );
  }
  if (token !== undefined && !/^[\x21-\x7e]{8,256}$/.test(token)) {
    throw new ServeError('the token must be 8-256 printable ASCII characters without spaces', 'pick a longer random token, e.g. from `openssl rand -hex 16`');
  }
  const port = o.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ServeError(`bad port ${port}: expected 0-65535`, 'pass --port 0 for any free port');

  const kind = storeKindOf(o.location);
  if (kind === 'file') {
    let isDir = false;
    try {
      isDir = statSync(o.location).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir)
      throw new ServeError(
        `no file store at ${o.location}: not a directory`,
        'give the directory a sweep or demo wrote (default ./runs), or a postgres:// URL',
      );
  }
  const store = await openStore(o.location);
  const feed: Feed = kind === 'file' ? new FileFeed(store, o.pollMs ?? FILE_POLL_MS, o.watch ?? true) : new PgFeed(store, o.location, o.pollMs ?? PG_POLL_MS);
  try {
    await feed.start();
  } catch (err) {
    await feed.close().catch(() => {});
    throw err;
  }
  const shown = kind === 'file' ? store.location : redactUrl(o.location);

  // ---- push: every client gets every feed event, and the fits when a computation finishes
  const clients = new Set<ServerResponse>();
  const send = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${toJson(data)}\n\n`;
    for (const res of clients) {
      // a client this far behind is dropped: its EventSource reconnects and loads /api/state afresh
      if (res.writableLength > SLOW_CLIENT_BYTES) {
        clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  };
  const fitsSummary = (s: FitsSnapshot) => ({ state: s.state, computing: s.computing, generation: s.generation, at: s.at, ms: s.ms, error: s.error });
  const fits = new Fits(o.location, { bootstrap: o.bootstrap ?? 1000, seed: o.seed ?? 0, nCount: o.nCount ?? 'kaplan', minGapMs: o.fitGapMs ?? 5000 }, (s) =>
    send('fits', fitsSummary(s)),
  );
  const fitsOn = o.fits ?? true;
  // while nobody watches (no page open, no /api/fits asked for) a change only marks the fits stale: the CPU stays
  // with the trainers, and the first page or request to come computes them
  let fitsStale = false;
  const fitsChanged = (watched: boolean) => {
    if (!fitsOn) return;
    if (watched) {
      fitsStale = false;
      fits.changed();
    } else fitsStale = true;
  };
  const unsubscribe = feed.subscribe((e: FeedEvent) => {
    send(e.type, e);
    fitsChanged(clients.size > 0);
  });
  fitsChanged(true);
  const keepalive = setInterval(() => {
    for (const res of clients) res.write(': keepalive\n\n');
  }, KEEPALIVE_MS);
  keepalive.unref();

  const summaries = (): RunSummary[] => [...feed.runs.values()].map((r) => r.summary());

  // ---- the sweeps' manifests (what each sweep will train), re-read every SWEEPS_MS; counts come from the feed
  let manifests: { name: string; purpose: string; runIds: string[]; createdAt: string }[] = [];
  const sweeps = (): SweepSummary[] =>
    manifests.map((m) => {
      const counts: Record<string, number> = {};
      for (const id of m.runIds) {
        const status = feed.runs.get(id)?.stored.state.status ?? 'not started';
        counts[status] = (counts[status] ?? 0) + 1;
      }
      return { name: m.name, purpose: m.purpose, createdAt: m.createdAt, runs: m.runIds.length, counts };
    });
  const readSweeps = async () => {
    try {
      const next = (await store.listSweeps()).map((m) => ({ name: m.name, purpose: m.purpose, runIds: m.runIds, createdAt: m.createdAt }));
      const changed = JSON.stringify(next) !== JSON.stringify(manifests);
      manifests = next;
      if (changed) send('sweeps', { sweeps: sweeps() });
    } catch {
      // a damaged manifest or a store outage: keep the last list, try again
    }
  };
  await readSweeps();
  const sweepTimer = setInterval(() => void readSweeps(), SWEEPS_MS);
  sweepTimer.unref();

  const authorised = (req: IncomingMessage, url: URL): boolean => {
    if (token === undefined) return true;
    const header = req.headers.authorization;
    const given = url.searchParams.get('token') ?? (header?.startsWith('Bearer ') ? header.slice(7) : undefined);
    if (given === undefined) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  function route(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      throw new HttpError(405, `${req.method} is not served: the dashboard is read-only`, 'use GET (the page and the /api/ endpoints only read the store)');
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard');
    } catch {
      throw new HttpError(400, `malformed request target ${JSON.stringify(req.url)}`, 'ask for / or an /api/ path');
    }
    // a loopback server answers only to loopback names: a page elsewhere cannot rebind its DNS name onto us
    const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    if (token === undefined && !isLoopback(hostHeader)) {
      throw new HttpError(
        403,
        `Host ${JSON.stringify(req.headers.host ?? '')} is not a loopback name`,
        'open the dashboard at the URL serve printed (127.0.0.1)',
      );
    }
    if (!authorised(req, url)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new HttpError(
        401,
        'this dashboard needs its token and the request carried none or another one',
        'open the URL serve printed (it ends in ?token=...), or send Authorization: Bearer <token>',
      );
    }
    let segments: string[];
    try {
      segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    } catch {
      throw new HttpError(400, `malformed path ${JSON.stringify(url.pathname)}: bad percent-encoding`, 'ask for / or an /api/ path');
    }
    const path = url.pathname;
    const a = asset(path);
    if (a) {
      res.setHeader('Content-Type', a.type);
      res.setHeader('ETag', a.etag);
      res.setHeader('Cache-Control', 'no-cache');
      if (req.headers['if-none-match'] === a.etag) {
        res.statusCode = 304;
        res.end();
        return;
      }
      // the page's own asset links carry the token too (a browser sends no Authorization header for them)
      const body = path === '/' && token !== undefined ? withTokenLinks(a.body, token) : a.body;
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/events') return events(req, res);
    if (segments[0] !== 'api')
      throw new HttpError(404, `nothing at ${path}`, 'the page is at /, the data under /api/ (state, sweeps, runs, runs/ID, runs/ID/rows?since=STEP, fits)');
    for (const [k] of url.searchParams) {
      if (k !== 'token' && k !== 'since' && k !== 'limit')
        throw new HttpError(400, `unknown query parameter ${JSON.stringify(k)}`, 'the API takes since=STEP and limit=N (rows), and token');
    }
    const rest = segments.slice(1);
    if (rest.length === 1 && rest[0] === 'state') {
      const curves: Record<string, ThinCurve> = {};
      for (const [id, run] of feed.runs) curves[id] = thin(run.rows);
      // the curves (the bulk) by plain JSON.stringify, without toJson's per-value replacer
      const head = toJson({
        store: shown,
        kind,
        sweeps: sweeps(),
        runs: summaries(),
        fits: fitsSummary(fits.snapshot),
        pollMs: o.pollMs ?? (kind === 'file' ? FILE_POLL_MS : PG_POLL_MS),
      });
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.end(`${head.slice(0, -1)},"curves":${JSON.stringify(curves)}}`);
      return;
    }
    if (rest.length === 1 && rest[0] === 'fits') {
      if (fitsStale) fitsChanged(true);
      return json(res, fits.snapshot);
    }
    if (rest[0] === 'runs' && rest.length === 1) return json(res, { runs: summaries() });
    if (rest.length === 1 && rest[0] === 'sweeps') return json(res, { sweeps: sweeps() });
    if (rest[0] === 'runs' && (rest.length === 2 || (rest.length === 3 && rest[2] === 'rows'))) {
      const id = rest[1]!;
      if (!isRunId(id)) {
        throw new HttpError(
          400,
          `bad run id ${JSON.stringify(id)}: expected 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
          'take ids from /api/runs; a path cannot leave the store',
        );
      }
      const run = feed.runs.get(id);
      if (!run) throw new HttpError(404, `no run '${id}' in ${shown}`, 'list the runs at /api/runs');
      if (rest.length === 2) return json(res, run.summary());
      const since = intParam(url, 'since', 0);
      const limit = intParam(url, 'limit', ROWS_PAGE);
      if (limit < 1) throw new HttpError(400, `bad limit ${limit}: expected at least 1`, `leave it out for up to ${ROWS_PAGE} rows`);
      const rows: CurveRow[] = [];
      for (const r of run.rows) {
        if (r.step <= since) continue;
        if (rows.length >= Math.min(limit, ROWS_PAGE)) break;
        rows.push(r);
      }
      return json(res, { id, since, rows, more: rows.length > 0 && rows.at(-1)!.step < run.lastStep });
    }
    throw new HttpError(404, `no API endpoint ${path}`, 'the API: /api/state, /api/sweeps, /api/runs, /api/runs/ID, /api/runs/ID/rows?since=STEP, /api/fits');
  }

  function events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write(`retry: 1000\nevent: hello\ndata: ${toJson({ version: feed.version })}\n\n`);
    clients.add(res);
    if (fitsStale) fitsChanged(true);
    req.on('close', () => clients.delete(res));
  }

  const server: Server = createServer((req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    try {
      route(req, res);
    } catch (err) {
      if (!(err instanceof HttpError)) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.end(toJson({ error: `internal error: ${(err as Error).message}`, hint: 'this is a bug in scaling-lab serve; the server keeps running' }));
        return;
      }
      res.statusCode = err.status;
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(req.method === 'HEAD' ? undefined : toJson({ error: err.message, hint: err.hint }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new ServeError(
          `cannot listen on ${host}:${port}: ${err.code ?? err.message}`,
          err.code === 'EADDRINUSE' ? 'another process uses that port: pass another --port, or --port 0 for any free one' : 'check --host and --port',
        ),
      );
    });
    server.listen(port, host, () => resolve());
  }).catch(async (err: unknown) => {
    clearInterval(sweepTimer);
    unsubscribe();
    fits.close();
    await feed.close();
    throw err;
  });
  const bound = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostInUrl}:${bound}/${token !== undefined ? `?token=${encodeURIComponent(token)}` : ''}`,
    port: bound,
    feed,
    async close() {
      clearInterval(keepalive);
      clearInterval(sweepTimer);
      unsubscribe();
      fits.close();
      for (const res of clients) res.end();
      clients.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await feed.close();
    },
  };
}

function withTokenLinks(page: Buffer, token: string): Buffer {
  return Buffer.from(page.toString('utf8').replace(/(href|src)="assets\/([^"?]+)"/g, `$1="assets/$2?token=${encodeURIComponent(token)}"`));
}

function intParam(url: URL, name: string, dflt: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return dflt;
  if (!/^\d{1,10}$/.test(raw)) throw new HttpError(400, `bad ${name} ${JSON.stringify(raw)}: expected a non-negative integer`, `e.g. ${name}=0`);
  return Number(raw);
}

function json(res: ServerResponse, body: unknown): void {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(toJson(body));
}
