// Every exported value (function, const, class) of src/ is used somewhere else in the repository (src/, test/, bench/,
// scripts/, bin/): an export nobody imports is dead code or a half-finished refactor, and it widens what the next
// engineer must keep working. Types and interfaces are exempt: they name the shapes of exported functions' arguments
// and results, which a caller may want to spell even when no file in the repository does yet.
// The package has no library entry point (only the CLI in bin/), so there is no public API to exempt. The check is
// textual (a word match in another file), deliberately simple: it can miss a dead export whose name is a common
// word, but it never flags a used one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name.startsWith('.')) return [];
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mts|js|mjs)$/.test(name) ? [p] : [];
  });
}

/** Values a module exports: `export function|const|let|class|enum X` and `export { a, b as c }` (not `export type`). */
export function exportedNames(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(
    /^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|const|let|var|class|enum)\s+([A-Za-z_$][\w$]*)/gm,
  ))
    names.push(m[1]);
  for (const m of text.matchAll(/^export\s+\{([^}]*)\}(?!\s*from)/gm)) {
    for (const part of m[1].split(',')) {
      if (/^\s*type\s/.test(part)) continue;
      const name = part
        .trim()
        .split(/\s+as\s+/)
        .pop()!;
      if (name) names.push(name);
    }
  }
  return names;
}

test('exportedNames finds each export form', () => {
  const text = [
    'export function f() {}',
    'export const c = 1;',
    'export async function g() {}',
    'export interface I {}',
    'export type T = 1;',
    'export class K {}',
    'export { a, b as d, type U };',
    'export type { V };',
    "export { x } from './y.ts';",
    'const notExported = 1;',
  ].join('\n');
  assert.deepEqual(exportedNames(text).sort(), ['K', 'a', 'c', 'd', 'f', 'g'].sort());
});

test('no export in src/ is unused by every other file of the repository', () => {
  const all = ['src', 'test', 'bench', 'scripts', 'bin'].flatMap((d) => files(join(ROOT, d)));
  const texts = new Map(all.map((f) => [f, readFileSync(f, 'utf8')]));
  const unused: string[] = [];
  for (const [file, text] of texts) {
    if (!relative(ROOT, file).startsWith('src/')) continue;
    for (const name of exportedNames(text)) {
      const word = new RegExp(`\\b${name.replace(/\$/g, '\\$')}\\b`);
      let used = false;
      for (const [other, otherText] of texts) {
        if (other !== file && word.test(otherText)) {
          used = true;
          break;
        }
      }
      if (!used) unused.push(`${relative(ROOT, file)}: ${name}`);
    }
  }
  assert.deepEqual(unused, [], `exported but used by no other file (remove the export, or the code):\n${unused.join('\n')}`);
});
