// The CLI's vocabulary: every command (found by walking the commander program, subcommands too) prints its --help,
// and each flag options.ts shares is shown identically (name, description, default) wherever it appears. Old
// spellings still work for one release, each printing one line that names the new flag. Plus the basics: the
// top-level help lists the commands, an unknown command fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CommanderError, type Command, type Option } from 'commander';
import { buildProgram } from '../../src/cli/program.ts';
import { SHARED_FLAGS, parallelism } from '../../src/cli/options.ts';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;

/** Every command under `cmd`, with the words that reach it: [['train'], ['bench'], ['bench', 'train'], ...]. */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

/** The command at `path` in `program`. */
function find(program: Command, path: string[]): Command {
  let cmd = program;
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name)!;
  return cmd;
}

/** Make every command throw instead of exiting, and write its output into `out`. */
function captureAll(cmd: Command, out: { text: string }): void {
  cmd.exitOverride().configureOutput({ writeOut: (s) => (out.text += s), writeErr: (s) => (out.text += s) });
  for (const c of cmd.commands) captureAll(c, out);
}

/** What `scaling-lab <path> --help` prints, through commander's own --help handling. */
async function helpOf(path: string[]): Promise<string> {
  const program = buildProgram();
  const out = { text: '' };
  captureAll(program, out);
  await assert.rejects(
    program.parseAsync(['node', 'scaling-lab', ...path, '--help']),
    (e: unknown) => e instanceof CommanderError && e.code === 'commander.helpDisplayed',
  );
  return out.text;
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

test('every command prints --help, and each shared flag reads the same (name, description, default) everywhere', async () => {
  const program = buildProgram();
  const paths = commandPaths(program);
  assert.ok(paths.length >= 10, `found only ${paths.length} commands`);
  // flag -> how it is shown -> the commands showing it so
  const shown = new Map<string, Map<string, string[]>>();
  for (const path of paths) {
    const cmd = find(program, path);
    const text = squash(await helpOf(path));
    assert.match(text, new RegExp(`^Usage: scaling-lab ${path.join(' ')}\\b`), `${path.join(' ')} --help`);
    const help = cmd.createHelp();
    for (const opt of help.visibleOptions(cmd)) {
      const line = squash(`${help.optionTerm(opt)} ${help.optionDescription(opt)}`);
      assert.ok(text.includes(line), `${path.join(' ')} --help does not show "${line}"`);
      if (!opt.long || !SHARED_FLAGS.includes(opt.long)) continue;
      const byLine = shown.get(opt.long) ?? new Map<string, string[]>();
      byLine.set(line, [...(byLine.get(line) ?? []), path.join(' ')]);
      shown.set(opt.long, byLine);
    }
  }
  for (const [flag, byLine] of shown) {
    const variants = [...byLine].map(([line, cmds]) => `  ${cmds.join(', ')}: ${line}`).join('\n');
    assert.equal(byLine.size, 1, `${flag} is shown differently:\n${variants}`);
  }
  // each shared flag is shared: at least two commands take it
  for (const flag of SHARED_FLAGS) {
    const cmds = [...(shown.get(flag)?.values() ?? [])].flat();
    assert.ok(cmds.length >= 2, `${flag} is in options.ts but only ${cmds.join(', ') || 'no command'} takes it`);
  }
  // the ones the vocabulary is about are where they should be (at least there: a new command may take them too)
  const takes = (flag: string) => [...(shown.get(flag)?.values() ?? [])].flat();
  const expected: Record<string, string[]> = {
    '--threads': ['bench gemm', 'bench kernels', 'bench train', 'demo', 'sweep', 'train', 'worker'],
    '--workers': ['demo', 'sweep', 'worker'],
    '--bootstrap': ['bcrit', 'demo', 'fit', 'report'],
    '--bootstrap-seed': ['bcrit', 'demo', 'fit', 'report'],
    '--tokenizer': ['tokenize', 'train'],
    '--cache-dir': ['demo', 'sweep', 'tokenize', 'train', 'worker'],
    '--no-cache': ['demo', 'sweep', 'tokenize', 'train', 'worker'],
    '--store': ['demo', 'status', 'sweep', 'train', 'worker'],
  };
  for (const [flag, cmds] of Object.entries(expected)) {
    for (const c of cmds) assert.ok(takes(flag).includes(c), `${c} does not take the shared ${flag} (taken by: ${takes(flag).join(', ')})`);
  }
});

/** Every deprecated spelling in the program: the hidden options options.ts's addDeprecatedAlias adds. */
function deprecatedSpellings(program: Command): { path: string[]; old: Option; target: Option }[] {
  const out: { path: string[]; old: Option; target: Option }[] = [];
  for (const path of commandPaths(program)) {
    const cmd = find(program, path);
    for (const old of cmd.options) {
      const m = /^deprecated spelling of (--[\w-]+)$/.exec(old.description);
      if (!m) continue;
      assert.ok(old.hidden, `${path.join(' ')} ${old.long} is shown in --help`);
      out.push({ path, old, target: cmd.options.find((o) => o.long === m[1])! });
    }
  }
  return out;
}

test('old spellings still work for one release: the value reaches the new flag and one line names it', async (t) => {
  const found = deprecatedSpellings(buildProgram());
  const names = found.map((d) => `${d.path.join(' ')} ${d.old.long}`).sort();
  for (const expected of [
    'sweep --threads-per-worker',
    'demo --threads-per-worker',
    'worker --concurrency',
    'fit --seed',
    'bcrit --seed',
    'report --seed',
    'demo --seed',
    'report --n-count',
    'fit --n',
  ]) {
    assert.ok(names.includes(expected), `no deprecated ${expected} (found: ${names.join(', ')})`);
  }
  for (const { path, old, target } of found) {
    const program = buildProgram();
    captureAll(program, { text: '' });
    const cmd = find(program, path);
    let seen: Record<string, unknown> | undefined;
    cmd.action(function (this: Command) {
      seen = this.opts();
    });
    // a value other than the default: the first other choice, or 7 (an integer >= 1 and a column name alike)
    const raw = target.argChoices?.find((c) => c !== target.defaultValue) ?? '7';
    const args = [
      ...path,
      ...cmd.registeredArguments.filter((a) => a.required).map(() => 'x'),
      ...cmd.options.filter((o) => o.mandatory).flatMap((o) => [o.long!, 'x']),
    ];
    const writes: string[] = [];
    const write = t.mock.method(process.stderr, 'write', (chunk: string | Uint8Array) => (writes.push(String(chunk)), true));
    try {
      // given twice: still one line
      await program.parseAsync(['node', 'scaling-lab', ...args, old.long!, raw, old.long!, raw]);
    } finally {
      write.mock.restore();
    }
    const what = `${path.join(' ')} ${old.long} ${raw}`;
    const expected = target.parseArg ? target.parseArg(raw, undefined) : raw;
    assert.deepEqual(seen?.[target.attributeName()], expected, what);
    assert.equal(cmd.getOptionValueSource(target.attributeName()), 'cli', what);
    assert.deepEqual(writes, [`warning: ${old.long} is deprecated and will be removed in the next release; use ${target.long}\n`], what);
  }
});

test('an old spelling end to end: sweep --dry-run --threads-per-worker prints its line and plans as --threads would', () => {
  const spec = new URL('../../examples/batch-scan-small.yaml', import.meta.url).pathname;
  const store = `/tmp/scaling-lab-help-test-${process.pid}`;
  const r = spawnSync(process.execPath, [bin, 'sweep', spec, '--dry-run', '--store', store, '--workers', '2', '--threads-per-worker', '1'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.match(/deprecated/g)?.length, 1, r.stderr);
  assert.match(r.stderr, /^warning: --threads-per-worker is deprecated and will be removed in the next release; use --threads$/m);
  assert.match(r.stdout, /dry run: nothing trained/);
});

test('--workers and --threads share the cores: either one sets the other, neither gives one run per core', () => {
  assert.deepEqual(parallelism(undefined, undefined, 8), { workers: 8, threads: 1 });
  assert.deepEqual(parallelism(undefined, 4, 8), { workers: 2, threads: 4 });
  assert.deepEqual(parallelism(2, undefined, 8), { workers: 2, threads: 4 });
  assert.deepEqual(parallelism(3, 5, 8), { workers: 3, threads: 5 });
  assert.deepEqual(parallelism(undefined, 16, 8), { workers: 1, threads: 16 });
  assert.deepEqual(parallelism(16, undefined, 8), { workers: 16, threads: 1 });
});

test('--help lists the commands', () => {
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const path of commandPaths(buildProgram()).filter((p) => p.length === 1)) assert.match(r.stdout, new RegExp(`\\b${path[0]}\\b`));
});

test('an unknown command exits non-zero and says so', () => {
  const r = spawnSync(process.execPath, [bin, 'no-such-command'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown command 'no-such-command'/);
});

test('demo rejects a non-integer --bootstrap-seed (and its old spelling --seed) before training anything', () => {
  for (const flag of ['--bootstrap-seed', '--seed']) {
    const r = spawnSync(process.execPath, [bin, 'demo', flag, 'abc'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`--bootstrap-seed must be an integer >= 0, got "abc"`));
  }
});
