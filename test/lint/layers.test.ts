// The layer rule of docs/ARCHITECTURE.md 2.1, checked on every import in src/: a module imports from its own layer
// and from layers below it, never from a layer above; analysis/ imports nothing of ours but util/; util/ imports
// nothing of ours; nothing in src/ imports bench/, test/ or dev/ (test/util/layer.test.ts checks util/ alone). server/
// (the dashboard) sits between cli/ and report/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const SRC = join(ROOT, 'src');
/** top to bottom: a layer may import those after it */
const LAYERS = ['cli', 'server', 'report', 'sweep', 'train', 'store', 'analysis', 'data', 'engine', 'util'];
/** narrower than the order alone allows */
const ONLY: Record<string, string[]> = { analysis: ['analysis', 'util'], util: ['util'], engine: ['engine', 'util'] };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mts)$/.test(name) ? [p] : [];
  });
}

/** The relative module specifiers a file imports or re-exports (static and dynamic). */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"](\.[^'"]+)['"]/g,
  )) {
    out.push(m[1] ?? m[2] ?? m[3]);
  }
  return out;
}

/** Which imports of one file break the rule, as 'from -> to' lines. */
function violations(file: string, text: string): string[] {
  const from = relative(SRC, file).split('/')[0];
  const rank = LAYERS.indexOf(from);
  const bad: string[] = [];
  for (const spec of importsOf(text)) {
    const target = resolve(dirname(file), spec);
    const rel = relative(SRC, target);
    const where = `${relative(ROOT, file)} -> ${relative(ROOT, target)}`;
    if (rel.startsWith('..')) {
      bad.push(`${where} (outside src/)`);
      continue;
    }
    const to = rel.split('/')[0];
    const allowed = ONLY[from] ?? LAYERS.slice(rank);
    if (!allowed.includes(to)) bad.push(`${where} (${from}/ may import ${allowed.join(', ')})`);
  }
  return bad;
}

test('importsOf and violations read every import form and judge the direction', () => {
  const text =
    "import { a } from '../store/store.ts';\nimport type { B } from './b.ts';\nexport { c } from '../util/json.ts';\nconst m = await import('../cli/main.ts');\nimport '../report/x.ts';\nimport { z } from 'zod';";
  assert.deepEqual(importsOf(text), ['../store/store.ts', './b.ts', '../util/json.ts', '../cli/main.ts', '../report/x.ts']);
  const bad = violations(join(SRC, 'train/run.ts'), text);
  assert.equal(bad.length, 2, bad.join('\n'));
  assert.match(bad[0], /train\/run\.ts -> src\/cli\/main\.ts/);
  assert.match(bad[1], /-> src\/report\/x\.ts/);
  assert.equal(violations(join(SRC, 'analysis/x.ts'), "import { g } from '../engine/gpt.ts';").length, 1, 'analysis/ may not import engine/');
  assert.equal(violations(join(SRC, 'cli/x.ts'), "import { g } from '../../bench/train.ts';").length, 1, 'src/ may not import bench/');
});

test('command modules never import each other: what two commands share lives in src/cli/helpers.ts or options.ts', () => {
  const dir = join(SRC, 'cli', 'commands');
  const bad = files(dir).flatMap((f) =>
    importsOf(readFileSync(f, 'utf8'))
      .filter((spec) => resolve(dirname(f), spec).startsWith(dir + '/'))
      .map((spec) => `${relative(ROOT, f)} -> ${spec}`),
  );
  assert.deepEqual(bad, [], bad.join('\n'));
});

test('every import in src/ points down the layers (docs/ARCHITECTURE.md 2.1)', () => {
  const all = files(SRC);
  assert.ok(all.length > 50, `${all.length} files`);
  for (const f of all) assert.ok(LAYERS.includes(relative(SRC, f).split('/')[0]), `${relative(ROOT, f)}: not in a layer of docs/ARCHITECTURE.md 2.1`);
  const bad = all.flatMap((f) => violations(f, readFileSync(f, 'utf8')));
  assert.deepEqual(bad, [], `imports that point up (move the type or function down a layer):\n${bad.join('\n')}`);
});
