// A sweep's own record next to its runs: name, purpose, spec, run ids and a hash of what it trains, kept in
// <dir>/.sweeps/<name>.json (file store) or a `sweeps` table (Postgres, same schema). Runs themselves are the store's.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { StoreError, storeKindOf } from '../store/store.ts';
import { createFileExclusive } from '../util/atomic.ts';
import { redactUrl } from '../util/redact.ts';
import { runId, type RunConfig } from '../train/config.ts';
import { SweepSpecError, sweepHash, type SweepSpec } from './spec.ts';

export interface SweepManifest {
  name: string;
  purpose: string;
  /** sweepHash(spec): a different hash under the same name is a changed spec */
  hash: string;
  spec: SweepSpec;
  /** in expansion order */
  runIds: string[];
  createdAt: string;
}

export function makeManifest(spec: SweepSpec, configs: RunConfig[]): SweepManifest {
  return { name: spec.name, purpose: spec.purpose, hash: sweepHash(spec, configs), spec, runIds: configs.map(runId), createdAt: new Date().toISOString() };
}

/**
 * Records the sweep in the store at `location`, or checks it against the one recorded there. A sweep name is bound
 * to one hash: a spec that would train other runs under an existing name is REFUSED (not treated as a new sweep),
 * since its runs, reports and status would mix two experiments. Returns whether it was newly recorded.
 */
export async function recordSweep(location: string, manifest: SweepManifest): Promise<{ created: boolean; stored: SweepManifest }> {
  const kind = storeKindOf(location);
  let created: boolean;
  let stored: SweepManifest | undefined;
  switch (kind) {
    case 'file': {
      const dir = join(location.replace(/^file:\/\//, ''), '.sweeps');
      await mkdir(dir, { recursive: true });
      created = await createFileExclusive(join(dir, `${manifest.name}.json`), JSON.stringify(manifest, null, 2) + '\n');
      stored = await readSweep(location, manifest.name);
      break;
    }
    case 'postgres':
      created = await withPg(location, async (client, s) => {
        const r = await client.query(`INSERT INTO ${s}.sweeps (name, hash, manifest) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, [manifest.name, manifest.hash, JSON.stringify(manifest)]);
        return r.rowCount === 1;
      });
      stored = await readSweep(location, manifest.name);
      break;
    default:
      throw new Error(`unhandled store kind ${kind satisfies never}`);
  }
  if (stored === undefined) throw new Error(`sweep ${manifest.name} was recorded but cannot be read back from ${location}`);
  if (stored.hash !== manifest.hash) {
    const added = manifest.runIds.filter((id) => !stored!.runIds.includes(id)).length;
    const removed = stored.runIds.filter((id) => !manifest.runIds.includes(id)).length;
    throw new SweepSpecError(
      `sweep '${manifest.name}' in this store was recorded with a different spec (hash ${stored.hash}, ${stored.runIds.length} runs; this spec: hash ${manifest.hash}, ${added} runs added, ${removed} removed): refused`,
      `a changed spec is a new sweep: give it a new name (runs with identical configs are shared, not re-trained), or use another --store`,
    );
  }
  return { created, stored };
}

export async function readSweep(location: string, name: string): Promise<SweepManifest | undefined> {
  const kind = storeKindOf(location);
  switch (kind) {
    case 'file': {
      const path = join(location.replace(/^file:\/\//, ''), '.sweeps', `${name}.json`);
      try {
        return JSON.parse(await readFile(path, 'utf8')) as SweepManifest;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    }
    case 'postgres':
      return withPg(location, async (client, s) => {
        const r = await client.query<{ manifest: SweepManifest }>(`SELECT manifest FROM ${s}.sweeps WHERE name = $1`, [name]);
        return r.rows[0]?.manifest;
      });
    default:
      throw new Error(`unhandled store kind ${kind satisfies never}`);
  }
}

/** Every sweep recorded in the store, oldest first. */
export async function listSweeps(location: string): Promise<SweepManifest[]> {
  const kind = storeKindOf(location);
  switch (kind) {
    case 'file': {
      const dir = join(location.replace(/^file:\/\//, ''), '.sweeps');
      const names = await readdir(dir).catch(() => [] as string[]);
      const all = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readSweep(location, n.slice(0, -5))));
      return all.filter((m): m is SweepManifest => m !== undefined).sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
    }
    case 'postgres':
      return withPg(location, async (client, s) => (await client.query<{ manifest: SweepManifest }>(`SELECT manifest FROM ${s}.sweeps ORDER BY created_at, name`)).rows.map((r) => r.manifest));
    default:
      throw new Error(`unhandled store kind ${kind satisfies never}`);
  }
}

// ---- Postgres: the store's schema (?schema=NAME, default scaling_lab), which openStore has already created

async function withPg<T>(location: string, fn: (client: pg.Client, schema: string) => Promise<T>): Promise<T> {
  const url = new URL(location);
  const schema = url.searchParams.get('schema') ?? 'scaling_lab';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new SweepSpecError(`bad Postgres schema name '${schema}'`, 'use lower-case letters, digits and _');
  url.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: url.href, connectionTimeoutMillis: 5000 });
  client.on('error', () => {}); // a dropped connection surfaces as the failed query
  try {
    await client.connect();
  } catch (err) {
    // runSweep's first contact with the store: fail within seconds, with what to do (as openStore does)
    const where = redactUrl(location);
    throw new StoreError('unreachable', `cannot reach the Postgres store ${where}: ${(err as Error).message}`, 'check that PostgreSQL is running and the URL is right (postgres://user@host:port/database)', { cause: err });
  }
  try {
    const s = `"${schema}"`;
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.sweeps (name text PRIMARY KEY, hash text NOT NULL, manifest jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
    return await fn(client, s);
  } finally {
    await client.end();
  }
}
