// Runs every test/**/*.test.ts with node:test through tsx (Node 20's --test takes no globs).
// Usage: node scripts/run-tests.mjs [substring ...]  -- only files whose path contains a substring.
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = find('test')
  .sort()
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ') || 'test/**/*.test.ts'}`);
  process.exit(1);
}
// The usual reporter on stdout, plus TAP into build/test-results.tap, read back to list every skipped test with its
// reason at the end (SCALING_LAB_REQUIRE turns the skips for a missing component into failures: test/helpers/require.ts).
const tapPath = join('build', 'test-results.tap');
mkdirSync('build', { recursive: true });
const reporters = [
  '--test-reporter',
  process.stdout.isTTY ? 'spec' : 'tap',
  '--test-reporter-destination',
  'stdout',
  '--test-reporter',
  'tap',
  '--test-reporter-destination',
  tapPath,
];
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...reporters, ...files], { stdio: 'inherit' });

let tap = '';
try {
  tap = readFileSync(tapPath, 'utf8');
} catch {
  // no TAP written: the run itself failed to start, which its status says
}
// a skipped test: `ok N - name # SKIP reason` at any nesting depth
const skipped = tap
  .split('\n')
  .filter((l) => /^\s*ok \d+ - .* # SKIP/.test(l))
  .map((l) => l.trim().replace(/^ok \d+ - /, ''));
const require = process.env.SCALING_LAB_REQUIRE ? ` (SCALING_LAB_REQUIRE=${process.env.SCALING_LAB_REQUIRE})` : '';
if (skipped.length === 0) console.log(`run-tests: no test skipped${require}`);
else console.log(`run-tests: ${skipped.length} skipped${require}:\n${skipped.map((s) => `  - ${s}`).join('\n')}`);
process.exit(result.status ?? 1);
