// src/util/ is the bottom layer: every other layer may import it, and it imports nothing of ours (only Node's
// built-ins and its own files), so no layer rule can be broken by using it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const UTIL = new URL('../../src/util/', import.meta.url).pathname;

test('src/util imports only node: built-ins and its own modules', () => {
  const files = readdirSync(UTIL).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 5, `util modules: ${files.join(', ')}`);
  for (const file of files) {
    const text = readFileSync(join(UTIL, file), 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gms)) {
      const spec = m[1];
      assert.ok(spec.startsWith('node:') || /^\.\/[\w-]+\.ts$/.test(spec), `${file} imports '${spec}'`);
    }
  }
});
