// Real PostgreSQL and Redis servers for tests: each on a free loopback port in its own temp directory, stopped by stop()
// or when the test process exits. Where the binaries are missing (or SCALING_LAB_NO_SERVICES is set) they
// return { skip: reason, component } and tests call skipOrFail(t, it) (require.ts).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Why a service could not be started here; tests pass it to skipOrFail() (require.ts: skips, or fails under SCALING_LAB_REQUIRE). */
export interface Skip {
  skip: string;
  /** the missing component, for SCALING_LAB_REQUIRE */
  component?: 'postgres' | 'redis';
}

export function isSkip<T extends object>(value: T | Skip): value is Skip {
  return 'skip' in value;
}

/** A port nothing listens on right now (the OS picks it; another process could take it before we bind, so callers retry). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Stops what a test started even if the test process ends without calling stop() (a failed assertion, an exit). */
const cleanups = new Set<() => void>();
process.on('exit', () => {
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort at exit
    }
  }
});

// ---- PostgreSQL

export interface PostgresServer {
  /** postgresql://postgres@127.0.0.1:PORT/scaling_lab_test */
  url: string;
  port: number;
  /** Creates another empty database on this server and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /**
   * Stops the server (mode 'fast': clients get 57P01 admin shutdown; 'immediate': a crash), waits downMs, starts it
   * again on the same port and data. Resolves when it accepts connections again, with the measured down time.
   */
  restart(downMs?: number, mode?: 'fast' | 'immediate'): Promise<{ downMs: number }>;
  /** SIGSTOPs the postmaster and every backend: connections stay open, nothing answers (thaw() or stop() ends it) */
  freeze(): Promise<void>;
  thaw(): void;
  stop(): Promise<void>;
}

/** Debian keeps one directory per major version: /usr/lib/postgresql/15/bin. The newest wins; then PATH. */
async function findPostgresBin(): Promise<string | undefined> {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? (await readdir(root)).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  const initdb = onPath('initdb');
  return initdb !== undefined && onPath('pg_ctl') !== undefined ? join(initdb, '..') : undefined;
}

/** initdb and postgres refuse to run as root: as root, run them as the `postgres` OS user that Debian's package creates. */
async function postgresUser(): Promise<{ uid: number; gid: number } | undefined | Skip> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  if (line === undefined)
    return { component: 'postgres', skip: "running as root and there is no 'postgres' OS user to run PostgreSQL as (install the Debian package postgresql)" };
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Starts a throwaway PostgreSQL: initdb in a temp dir (trust auth, no fsync: speed over durability, it is
 * deleted at the end), listening on 127.0.0.1 on a free port with its socket in the temp dir, plus a database.
 */
export async function startPostgres(): Promise<PostgresServer | Skip> {
  if (process.env.SCALING_LAB_NO_SERVICES) return { component: 'postgres', skip: 'SCALING_LAB_NO_SERVICES is set: not starting PostgreSQL' };
  const bin = await findPostgresBin();
  if (bin === undefined)
    return { component: 'postgres', skip: 'PostgreSQL binaries not found (no /usr/lib/postgresql/*/bin/initdb; install the Debian package postgresql)' };
  const user = await postgresUser();
  if (user !== undefined && isSkip(user)) return user;
  const as = user === undefined ? {} : { uid: user.uid, gid: user.gid };

  const dir = await mkdtemp(join(tmpdir(), 'scaling-lab-pg-'));
  const data = join(dir, 'data');
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  cleanups.add(removeDir);
  if (user !== undefined) await chown(dir, user.uid, user.gid);
  const opts = { ...as, cwd: dir, env: { ...process.env, LC_ALL: 'C' } };
  await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'], opts);

  const pgCtl = join(bin, 'pg_ctl');
  const stopNow = () => spawnSync(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], { ...opts, stdio: 'ignore' });
  let port = 0;
  let serverOptions = '';
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    serverOptions = [
      `-p ${port}`,
      '-c listen_addresses=127.0.0.1',
      `-k ${dir}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=40',
    ].join(' ');
    try {
      await run(pgCtl, ['-D', data, '-l', join(dir, 'server.log'), '-o', serverOptions, '-w', '-t', '60', 'start'], opts);
      break;
    } catch (err) {
      const log = await readFile(join(dir, 'server.log'), 'utf8').catch(() => '');
      if (attempt >= 3) throw new Error(`PostgreSQL did not start (3 tries): ${(err as Error).message}\n${log}`);
    }
  }
  // frozen processes (freeze()) are let go before anything else, or stopping them would wait for ever
  let frozen: number[] = [];
  const thaw = () => {
    for (const pid of frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    frozen = [];
  };
  const stopAtExit = () => {
    thaw();
    stopNow();
    removeDir();
  };
  cleanups.add(stopAtExit);
  const serverProcesses = async (): Promise<number[]> => {
    const postmaster = Number((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const children: number[] = [];
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(join('/proc', entry, 'stat'), 'utf8').catch(() => '');
      // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) children.push(Number(entry));
    }
    return [postmaster, ...children];
  };

  const base = `postgresql://postgres@127.0.0.1:${port}`;
  const createDatabase = async (name: string): Promise<string> => {
    const client = new pg.Client({ connectionString: `${base}/postgres`, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
    } finally {
      await client.end();
    }
    return `${base}/${name}`;
  };
  const url = await createDatabase('scaling_lab_test');
  return {
    url,
    port,
    createDatabase,
    restart: async (downMs = 0, mode = 'fast') => {
      thaw();
      const t0 = Date.now();
      await run(pgCtl, ['-D', data, '-m', mode, '-w', 'stop'], opts);
      await new Promise((r) => setTimeout(r, Math.max(0, downMs - (Date.now() - t0))));
      await run(pgCtl, ['-D', data, '-l', join(dir, 'server.log'), '-o', serverOptions, '-w', '-t', '60', 'start'], opts);
      return { downMs: Date.now() - t0 };
    },
    freeze: async () => {
      const pids = await serverProcesses();
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      frozen.push(...pids);
    },
    thaw,
    stop: async () => {
      thaw();
      cleanups.delete(stopAtExit);
      await run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop'], opts).catch(() => stopNow());
      cleanups.delete(removeDir);
      removeDir();
    },
  };
}

// ---- Redis

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  /**
   * Stops the server (SIGTERM, or SIGKILL with kill), waits downMs, starts it again on the same port from its
   * append-only file (every write fsynced, so jobs, locks and counters survive even a SIGKILL). Resolves when it
   * accepts connections again, with the measured down time.
   */
  restart(downMs?: number, options?: { kill?: boolean }): Promise<{ downMs: number }>;
  stop(): Promise<void>;
}

/**
 * Starts redis-server on 127.0.0.1 on a free port, waiting until it accepts connections. It keeps an append-only file
 * (fsync on every write) in its temp dir, so restart() loses nothing; no RDB snapshots.
 */
export async function startRedis(): Promise<RedisServer | Skip> {
  if (process.env.SCALING_LAB_NO_SERVICES) return { component: 'redis', skip: 'SCALING_LAB_NO_SERVICES is set: not starting Redis' };
  const binary = onPath('redis-server') ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined);
  if (binary === undefined) return { component: 'redis', skip: 'redis-server not found (install the Debian package redis-server)' };
  const dir = await mkdtemp(join(tmpdir(), 'scaling-lab-redis-'));
  await mkdir(dir, { recursive: true });
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  cleanups.add(removeDir);
  let child: ChildProcess | undefined;
  const killAtExit = () => child?.kill('SIGKILL');
  cleanups.add(killAtExit);
  const launch = async (port: number): Promise<true | string> => {
    child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--daemonize', 'no'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const ready = await waitForLine(child, /Ready to accept connections/, 15_000);
    if (ready === true) {
      child.stdout?.resume();
      child.stderr?.resume();
    } else child.kill('SIGKILL');
    return ready;
  };
  const halt = async (signal: NodeJS.Signals) => {
    const c = child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill(signal);
    await exited;
  };
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const ready = await launch(port);
    if (ready === true) {
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        restart: async (downMs = 0, options = {}) => {
          const t0 = Date.now();
          await halt(options.kill ? 'SIGKILL' : 'SIGTERM');
          await new Promise((r) => setTimeout(r, Math.max(0, downMs - (Date.now() - t0))));
          const again = await launch(port);
          if (again !== true) throw new Error(`redis-server did not start again on port ${port}: ${again}`);
          return { downMs: Date.now() - t0 };
        },
        stop: async () => {
          await halt('SIGTERM');
          cleanups.delete(killAtExit);
          cleanups.delete(removeDir);
          removeDir();
        },
      };
    }
    if (attempt >= 3) {
      removeDir();
      throw new Error(`redis-server did not start (3 tries): ${ready}`);
    }
  }
}

/** Resolves true once the child prints a line matching `pattern`, or with its output so far if it exits or times out. */
function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<true | string> {
  return new Promise((resolve) => {
    let output = '';
    const done = (result: true | string) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) done(true);
    };
    const onExit = (code: number | null) => done(`exited with ${code}: ${output}`);
    const timer = setTimeout(() => done(`no ready line within ${timeoutMs} ms: ${output}`), timeoutMs);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
