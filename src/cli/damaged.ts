// What every command that reads a store says about runs it cannot read (a run directory without its spec.json):
// one warning line per run, naming the directory and what to do, on stderr, instead of leaving them out silently.
import { statSync } from 'node:fs';
import { openStore, storeKindOf, type Store } from '../store/store.ts';

/** Prints the store's damaged runs to stderr; returns how many. */
export async function warnDamaged(store: Store, log: (line: string) => void = (l) => console.error(l)): Promise<number> {
  const damaged = await store.listDamaged();
  for (const d of damaged) log(`warning: ${d.problem}\n  hint: ${d.hint}`);
  return damaged.length;
}

/** For a SOURCE that may be a store (a directory or a postgres:// URL): its damaged runs, printed; else nothing. */
export async function warnDamagedSource(source: string): Promise<void> {
  let kind: ReturnType<typeof storeKindOf>;
  try {
    kind = storeKindOf(source);
  } catch {
    return;
  }
  if (kind === 'file') {
    try {
      if (!statSync(source.replace(/^file:\/\//, '')).isDirectory()) return;
    } catch {
      return; // the command itself says that SOURCE does not exist
    }
  }
  const store = await openStore(source).catch(() => undefined);
  if (store === undefined) return; // the command's own open reports why
  try {
    await warnDamaged(store);
  } finally {
    await store.close();
  }
}
