// Issue 15's command-line cases, one test each: warnings printed and in --json, --strict's exit code, ordinary
// file-system and size problems as one line and a hint (exit 2, no Node stack), --out checked before any fitting and
// replaced whole, --version, status listing runs outside sweeps, and every hint naming a flag the command has.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.ts';
import { EXIT_WARNINGS } from '../../src/cli/helpers.ts';
import { describeSystemError } from '../../src/report/output.ts';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin/scaling-lab.js');
const fixture = (name: string) => join(root, 'test/fixtures/bad-input', name);
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000 });

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scaling-lab-errors-'));
  temps.push(dir);
  return dir;
}
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** One line of error and one of hint, exit 2, no stack. */
function oneLine(r: ReturnType<typeof cli>, re: RegExp): void {
  assert.equal(r.status, 2, r.stderr + r.stdout);
  assert.match(r.stderr, re);
  assert.match(r.stderr, /^hint: /m);
  assert.doesNotMatch(r.stderr, /\n\s+at |node:internal/);
}

test('fit: warnings printed as "warning [code]: ...", in --json as {code, message}; --strict exits EXIT_WARNINGS (5), documented in --help', () => {
  const plain = cli('fit', fixture('duplicated-rows.csv'), '--bootstrap', '10');
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /warning \[duplicate-rows\]: 20 exact duplicate rows dropped before fitting/);
  assert.match(plain.stdout, /data: 20 runs, 5 model sizes, 4 token counts/);
  const strict = cli('fit', fixture('duplicated-rows.csv'), '--bootstrap', '10', '--strict', '--json');
  assert.equal(strict.status, EXIT_WARNINGS, strict.stderr);
  assert.equal(EXIT_WARNINGS, 5);
  const j = JSON.parse(strict.stdout);
  assert.deepEqual(
    j.warnings.map((w: { code: string }) => w.code),
    ['duplicate-rows'],
  );
  assert.equal(j.counts.duplicatesDropped, 20);
  assert.equal(j.import.rows, 40);
  const clean = cli('fit', fixture('lnd-grid.csv'), '--bootstrap', '10', '--strict');
  assert.equal(clean.status, 0, clean.stderr);
  assert.doesNotMatch(clean.stdout, /warning/);
  assert.match(cli('fit', '--help').stdout, /5 with --strict: a result carries warnings/);
});

test('fit: pooled experiments flagged as a poor fit; --group fits each experiment without a warning', () => {
  const pooled = cli('fit', fixture('pooled-experiments.csv'), '--bootstrap', '0', '--strict');
  assert.equal(pooled.status, EXIT_WARNINGS, pooled.stderr);
  assert.match(pooled.stdout, /warning \[poor-fit\]: poor fit: rmse of log loss 0\.\d+/);
  const grouped = cli('fit', fixture('pooled-experiments.csv'), '--bootstrap', '0', '--group', 'experiment', '--strict', '--json');
  assert.equal(grouped.status, 0, grouped.stderr);
  assert.deepEqual(
    JSON.parse(grouped.stdout).groups.map((g: { warnings: unknown[] }) => g.warnings.length),
    [0, 0],
  );
});

test('fit: degenerate inputs refused with the reason (constant loss, two sizes), exit 2', () => {
  oneLine(cli('fit', fixture('constant-loss.csv'), '--bootstrap', '0'), /the loss is 3 in all 20 runs/);
  oneLine(cli('fit', fixture('two-sizes.csv'), '--bootstrap', '0'), /2 distinct model sizes .* needs at least 3 sizes/);
  oneLine(cli('fit', fixture('two-sizes.csv'), '--law', 'kaplan', '--bootstrap', '0'), /2 distinct model sizes/);
});

test('fit: E at its bound and an exponent at its limit are named not identified', () => {
  const e = cli('fit', fixture('e-at-bound.csv'), '--bootstrap', '0', '--json');
  assert.equal(e.status, 0, e.stderr);
  const j = JSON.parse(e.stdout);
  assert.deepEqual(j.notIdentified, ['E']);
  assert.match(j.warnings.find((w: { code: string }) => w.code === 'not-identified').message, /E \(the irreducible loss\) is .* not identified/);
});

test('the wrong kind of file: binary, JSON array, semicolons: one line naming the file and what to do', () => {
  oneLine(cli('fit', fixture('random-bytes.csv')), /random-bytes\.csv: binary data/);
  oneLine(cli('fit', fixture('array.json')), /array\.json: a JSON array, not CSV or JSON Lines/);
  const semi = cli('report', fixture('semicolon.csv'), '--out', join(tempDir(), 'r'));
  oneLine(semi, /semicolon\.csv: the header "N;D;loss" is separated by semicolons/);
  assert.match(semi.stderr, /hint: save it as comma-separated CSV/);
});

test('bcrit: B_crit falling with loss flagged, intervals withheld when most resamples fail; --strict exits 5', () => {
  const falls = cli('bcrit', fixture('bcrit-falls.csv'), '--bootstrap', '50', '--strict', '--json');
  assert.equal(falls.status, EXIT_WARNINGS, falls.stderr);
  assert.ok(JSON.parse(falls.stdout).warnings.some((w: { code: string }) => w.code === 'bcrit-falls'));
  const three = cli('bcrit', fixture('bcrit-three-batches.csv'), '--bootstrap', '100');
  assert.equal(three.status, 0, three.stderr);
  assert.match(three.stdout, /warning \[intervals-withheld\]: \d+ of 100 bootstrap resamples failed/);
  assert.match(three.stdout, /alpha_B = [\d.]+ - /);
});

test('report: --out naming a file or a folder it cannot write in: refused before any fitting', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'file'), 'x');
  const file = cli('report', fixture('lnd-grid.csv'), '--out', join(dir, 'file'));
  oneLine(file, /--out .*file: a file is there, not a folder/);
  assert.doesNotMatch(file.stderr, /report: (fitting|comparing)/);
  oneLine(cli('report', fixture('lnd-grid.csv'), '--out', '/proc/no/such/report'), /--out \/proc\/no\/such\/report: cannot write in \/proc/);
});

test('report: an earlier report is replaced (no stale charts; other files kept), nothing partial is left beside it; fit warnings printed, --strict exits 5', () => {
  const dir = tempDir();
  const out = join(dir, 'reports');
  mkdirSync(join(out, 'demo'), { recursive: true });
  writeFileSync(join(out, 'batch-scan.svg'), '<svg>stale</svg>');
  writeFileSync(join(out, 'batch-scan.png'), 'stale');
  writeFileSync(join(out, 'notes.txt'), 'mine');
  const r = cli('report', fixture('e-at-bound.csv'), '--out', out, '--bootstrap', '5', '--format', 'svg,html', '--strict', '--quiet');
  assert.equal(r.status, EXIT_WARNINGS, r.stderr);
  assert.match(r.stdout, /warning: \[not-identified\] L\(N, D\) Chinchilla form on e-at-bound\.csv: E \(the irreducible loss\)/);
  assert.ok(!existsSync(join(out, 'batch-scan.svg')) && !existsSync(join(out, 'batch-scan.png')), 'the stale chart of an earlier report is gone');
  assert.ok(existsSync(join(out, 'report.html')) && existsSync(join(out, 'lnd-vs-n.svg')));
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
  assert.ok(existsSync(join(out, 'demo')));
  assert.deepEqual(readdirSync(dir), ['reports'], 'no partial or old folder left beside it');
});

test('report: Ctrl-C during the fits leaves no folder and no partial one', async () => {
  const dir = tempDir();
  const out = join(dir, 'reports');
  const child = spawn(process.execPath, [bin, 'report', fixture('pooled-experiments.csv'), '--out', out, '--bootstrap', '1000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/report: comparing/.test(stderr)) child.kill('SIGINT');
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 130 : null)));
  });
  assert.notEqual(code, 0, stderr);
  assert.deepEqual(readdirSync(dir), [], 'nothing written: no report folder, no partial one');
});

test('file-system and allocation errors become one line and a hint', () => {
  const errno = (code: string, syscall: string, path: string) => Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });
  assert.deepEqual(describeSystemError(errno('EPERM', 'open', '/runs/x/spec.json')), {
    message: '/runs/x/spec.json: operation not permitted (EPERM in open)',
    hint: 'check the permissions, or choose a path you can write to',
  });
  assert.match(describeSystemError(errno('EEXIST', 'mkdir', '/tmp/out'))!.message, /^\/tmp\/out: a file is already there \(EEXIST in mkdir\)$/);
  assert.match(describeSystemError(errno('EROFS', 'mkdir', '/ro'))!.hint, /writable disk/);
  assert.match(describeSystemError(new RangeError('Invalid typed array length: 196608000000000'))!.message, /a size is too large to allocate/);
  assert.equal(describeSystemError(new Error('a bug')), null);
});

test('train --depth 1000: the parameter count and the limit, before allocating (was RangeError: Invalid typed array length)', () => {
  const r = cli('train', '--depth', '1000', '--tokens', '100000', '--store', join(tempDir(), 'runs'), '--quiet');
  oneLine(r, /error: the model has 4\.92e\+13 parameters \(n_layer 1000, d_model 64000\), above the limit of 2\.15e\+9/);
  assert.match(r.stderr, /hint: the largest depth at vocab 256 and context 64 is \d+/);
});

test("--version prints package.json's version", () => {
  const r = cli('--version');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
});

test('status lists runs trained with train (outside any sweep) with their state', () => {
  const store = join(tempDir(), 'runs');
  const t = cli('train', '--depth', '1', '--batch', '4', '--context', '16', '--tokens', '640', '--store', store, '--quiet');
  assert.equal(t.status, 0, t.stderr);
  const r = cli('status', '--store', store);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /runs outside any sweep in .* \(1; e\.g\. trained with `scaling-lab train`\)/);
  assert.match(r.stdout, /d1-b4-s0-t640-\w+ +d1-b4-s0-t640 +done +10\/10 +\d\.\d{4} +\d\.\d{4}/);
  const j = JSON.parse(cli('status', '--store', store, '--json').stdout);
  assert.deepEqual(
    j.map((s: { name: string | null; done: number }) => [s.name, s.done]),
    [[null, 1]],
  );
});

// ---- every hint names a flag the command that can raise it has

/** Every command's long flags (deprecated aliases included: they still parse). */
function flagsByCommand(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const walk = (cmd: Command, prefix: string) => {
    for (const c of cmd.commands) {
      const name = prefix ? `${prefix} ${c.name()}` : c.name();
      out.set(name, new Set([...c.options.map((o) => o.long!).filter(Boolean), '--help']));
      walk(c, name);
    }
  };
  walk(buildProgram(), '');
  return out;
}

/**
 * Which commands can raise the messages of each file: a command's own module, and the library files whose errors reach
 * users of several commands. Data (corpus) errors: the commands that read a corpus from flags (sweep and demo read it
 * from a spec). importers.ts: curve imports (importLossCurves onwards) reach bcrit and report, the rest fit and report.
 */
function raisers(file: string, line: number, text: string, commands: string[]): string[] {
  const cmd = /^src\/cli\/commands\/([a-z-]+)\.ts$/.exec(file)?.[1];
  // `corpora` lists corpora for the commands that read one: its --corpus and --text-field are theirs
  if (cmd === 'corpora') return commands.filter((c) => flagsByCommand().get(c)!.has('--corpus'));
  if (cmd) return commands.filter((c) => c === cmd || c.startsWith(`${cmd} `));
  if (file === 'src/analysis/importers.ts') {
    const curves = text.split('\n').findIndex((l) => /^export (const CURVE_NAMES|function importLossCurves)/.test(l));
    return curves >= 0 && line > curves ? ['bcrit', 'report'] : ['fit', 'report'];
  }
  if (file === 'src/analysis/bcrit.ts') return ['bcrit', 'report'];
  if (/^src\/report\/(source|output|build|checks)\.ts$/.test(file)) return ['report'];
  if (file.startsWith('src/data/')) return commands.filter((c) => flagsByCommand().get(c)!.has('--corpus'));
  return [];
}

test('every --flag in a hint or message names a flag of each command that can raise it (or of the command it names)', () => {
  const flags = flagsByCommand();
  const commands = [...flags.keys()];
  const files = spawnSync('git', ['ls-files', 'src'], { cwd: root, encoding: 'utf8' })
    .stdout.split('\n')
    .filter((f) => f.endsWith('.ts'));
  for (const f of readdirSync(join(root, 'src/report')).filter((x) => x.endsWith('.ts'))) if (!files.includes(`src/report/${f}`)) files.push(`src/report/${f}`);
  const bad: string[] = [];
  let checked = 0;
  for (const file of files) {
    if (!existsSync(join(root, file))) continue;
    const text = readFileSync(join(root, file), 'utf8');
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line.startsWith('//') || line.startsWith('*') || line.startsWith('/*')) return;
      // string and template literals only (not code), each flag with the word before it
      for (const lit of line.match(/'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*"/g) ?? []) {
        // a literal that starts with the flag defines or names it (.option('--out <dir>'), requireColumn(.., '--exclude-column'))
        if (/^.-/.test(lit)) continue;
        for (const m of lit.matchAll(/--[a-z][a-z0-9-]*/g)) {
          const flag = m[0];
          // a command named just before the flag in the same clause scopes it: "fit --d-column", "bcrit also takes --warmup-steps W"
          const before = lit
            .slice(Math.max(0, m.index - 60), m.index)
            .split(/[;.()]/)
            .pop()!;
          const word = [...before.matchAll(/\b([a-z]+)\b/g)]
            .map((w) => w[1])
            .reverse()
            .find((w) => commands.includes(w));
          const by = raisers(file, i, text, commands);
          const named = word ? [word] : by;
          if (named.length === 0) continue;
          checked++;
          // a command module defines the command and its subcommands: one of them must have it; a library's hint reaches all
          const ok = file.startsWith('src/cli/commands/') && !word ? named.some((c) => flags.get(c)!.has(flag)) : named.every((c) => flags.get(c)!.has(flag));
          if (!ok) bad.push(`${file}:${i + 1}: ${flag} (${named.join(', ')}): ${lit.slice(0, 100)}`);
        }
      }
    });
  }
  assert.ok(checked > 50, `checked ${checked} flag mentions`);
  assert.deepEqual(bad, []);
});
