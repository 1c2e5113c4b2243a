// Builds the native C kernels (native/, binding.gyp) into build/Release/scaling_lab_native.node with node-gyp.
// Run by `npm install`; does not fail the install: when it cannot build, it says so in one line and the
// TypeScript kernels run instead -- unless SCALING_LAB_REQUIRE names `native` (or `all`; `.ci/run` sets it), where
// it exits 1 saying why, so CI cannot pass without the kernels it tests.
// Usage: node scripts/build-native.mjs   (SCALING_LAB_SKIP_NATIVE=1 skips)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const logPath = join(root, 'build', 'native-build.log');
const addonPath = join(root, 'build', 'Release', 'scaling_lab_native.node');

const required = (process.env.SCALING_LAB_REQUIRE ?? '')
  .split(',')
  .map((s) => s.trim().toLowerCase())
  .some((s) => s === 'native' || s === 'all');

function giveUp(reason) {
  if (required) {
    console.error(
      `scaling-lab: native kernels not built (${reason}), and SCALING_LAB_REQUIRE=${process.env.SCALING_LAB_REQUIRE} requires them. ` +
        'Fix: install the Debian packages build-essential and python3 (node-gyp needs make, g++ and python3), then run: node scripts/build-native.mjs',
    );
    process.exit(1);
  }
  console.log(`scaling-lab: native kernels not built (${reason}); the TypeScript kernels will run (slower). ` + 'Retry with: node scripts/build-native.mjs');
  process.exit(0);
}

if (process.env.SCALING_LAB_SKIP_NATIVE === '1') giveUp('SCALING_LAB_SKIP_NATIVE=1');

// node-gyp: the one npm points lifecycle scripts at, else npm's bundled copy next to this node, else a local one
const prefix = resolve(dirname(process.execPath), '..');
const candidates = [
  process.env.npm_config_node_gyp,
  join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
];
try {
  candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
} catch {
  // not installed locally
}
const nodeGyp = candidates.find((p) => p && existsSync(p));
if (!nodeGyp) giveUp('node-gyp not found');

// headers: a system node ships them under <prefix>/include/node; pointing node-gyp there keeps it offline
const args = [nodeGyp, 'rebuild'];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: process.env });
mkdirSync(dirname(logPath), { recursive: true });
writeFileSync(logPath, `$ node ${args.join(' ')}\n${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`);
if (run.status !== 0 || !existsSync(addonPath)) giveUp(`node-gyp failed; see ${logPath}`);

// it built: check that it loads and say which instruction set it will use
try {
  const addon = createRequire(import.meta.url)(addonPath);
  const info = addon.info();
  console.log(`scaling-lab: native kernels built (${info.best === 'avx2' ? 'AVX2/FMA' : 'portable'} build in use on this CPU): ${addonPath}`);
} catch (err) {
  giveUp(`the built addon does not load: ${err.message}`);
}
