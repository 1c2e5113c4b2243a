// Sweep manifests, a sweep's own record next to its runs: what both stores keep (file: <dir>/.sweeps/<name>.json;
// Postgres: the sweeps table) and the checks they share. What a manifest says is sweep/'s (spec.ts makes them); the
// store keeps them create-if-absent under their name and gives them back.
import { StoreError } from './store.ts';

/** A sweep as recorded: `Spec` is the sweep layer's spec type (the store keeps it as JSON). */
export interface SweepManifest<Spec = unknown> {
  name: string;
  purpose: string;
  /** a hash of what the sweep trains: a different hash under the same name is a changed sweep */
  hash: string;
  spec: Spec;
  /** in expansion order */
  runIds: string[];
  /** ISO 8601, set by whoever made the manifest */
  createdAt: string;
}

/** What putSweep returns: whether this call recorded it, and the manifest the store holds under the name now. */
export interface RecordedSweep<Spec = unknown> {
  created: boolean;
  stored: SweepManifest<Spec>;
}

/** A sweep name is a file name in the file store: letters, digits, '.', '_' and '-', starting with a letter or digit. */
const SWEEP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export const isSweepName = (name: unknown): name is string => typeof name === 'string' && SWEEP_NAME.test(name);

export function checkSweepName(name: unknown): string {
  if (!isSweepName(name)) {
    throw new StoreError(
      'bad-input',
      `bad sweep name ${JSON.stringify(name)}`,
      'a sweep name is letters, digits, . _ - (at most 100), starting with a letter or digit',
    );
  }
  return name;
}

/** Checks a manifest before it is stored: the fields readers rely on, and JSON all through. */
export function checkManifest(manifest: SweepManifest): SweepManifest {
  checkSweepName(manifest?.name);
  const bad = (what: string) => new StoreError('bad-input', `sweep manifest '${manifest.name}': ${what}`, 'make manifests with sweep/spec.ts makeManifest');
  if (typeof manifest.hash !== 'string' || manifest.hash === '') throw bad('no hash');
  if (typeof manifest.purpose !== 'string') throw bad('no purpose');
  if (!Array.isArray(manifest.runIds) || !manifest.runIds.every((id) => typeof id === 'string')) throw bad('runIds is not a list of run ids');
  if (typeof manifest.createdAt !== 'string' || Number.isNaN(Date.parse(manifest.createdAt))) throw bad('createdAt is not an ISO 8601 time');
  return manifest;
}

/** A manifest read back from `where`: refused as 'corrupt' unless it has the fields readers rely on. */
export function readManifest(value: unknown, where: string): SweepManifest {
  const m = value as Partial<SweepManifest> | null;
  const ok =
    typeof m === 'object' &&
    m !== null &&
    typeof m.name === 'string' &&
    typeof m.hash === 'string' &&
    typeof m.createdAt === 'string' &&
    Array.isArray(m.runIds);
  if (!ok) {
    throw new StoreError(
      'corrupt',
      `${where} is not a sweep manifest (it lacks name, hash, createdAt or runIds)`,
      'it was edited or damaged: restore it, or delete it and run the sweep again (its runs are kept and not re-trained)',
    );
  }
  return m as SweepManifest;
}
