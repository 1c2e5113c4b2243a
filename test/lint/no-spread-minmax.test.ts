// src/ never spreads an array into Math.min / Math.max: each element becomes a call argument, and past ~120k
// elements V8 throws RangeError, which a paper-scale import or store (millions of rows) reaches. Use minOf/maxOf
// from src/analysis/extent.ts. Also bans Math.min.apply / Math.max.apply, the same thing spelled differently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SRC = new URL('../../src/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mts|js|mjs)$/.test(name) ? [p] : [];
  });
}

/** Math.min(...x), Math.max( ...x), Math.min(a, ...x), Math.min.apply(...), Reflect.apply(Math.max, ...) */
export const SPREAD_MINMAX = /Math\s*\.\s*(min|max)\s*(\([^()]*\.\.\.|\.\s*(apply|call)\b)|Reflect\s*\.\s*apply\s*\(\s*Math\s*\.\s*(min|max)/;

test('the pattern catches every spelling of a spread into Math.min/max and nothing else', () => {
  for (const bad of [
    'Math.min(...xs)',
    'Math.max( ...a.map((p) => p.c))',
    'Math.min(1, ...xs)',
    'Math . max(...xs)',
    'Math.max.apply(null, xs)',
    'Math.min(\n  ...xs)',
    'Reflect.apply(Math.min, null, xs)',
  ])
    assert.match(bad, SPREAD_MINMAX, bad);
  for (const ok of ['Math.min(a, b)', 'Math.max(0, x - 1)', 'minOf(xs)', 'Math.min(maxOf(xs), 3)', 'f(...xs); Math.min(a, b)'])
    assert.doesNotMatch(ok, SPREAD_MINMAX, ok);
});

test('no spread-argument Math.min/Math.max anywhere in src/ (RangeError past ~120k elements)', () => {
  const hits: string[] = [];
  for (const f of files(SRC)) {
    // the whole text, so a spread on the next line (Math.min(\n  ...xs)) is caught too
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(new RegExp(SPREAD_MINMAX.source, 'g'))) {
      const line = text.slice(0, m.index).split('\n').length;
      hits.push(`${f.slice(SRC.length - 4)}:${line}: ${text.split('\n')[line - 1].trim()}`);
    }
  }
  assert.deepEqual(hits, [], `use minOf/maxOf from src/analysis/extent.ts instead:\n${hits.join('\n')}`);
});
