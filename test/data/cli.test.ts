// The data commands: `scaling-lab corpora` lists the registry (table and --json), and the tokenize command
// prepares a dataset, saves a tokenizer and turns bad flags into errors with hints; `train` reads a corpus with the
// same flags and defaults (--text-field, --chunk-chars, --cache-dir).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerTokenize } from '../../src/cli/commands/tokenize.ts';
import { BpeTokenizer } from '../../src/data/bpe.ts';
import { DataError } from '../../src/data/errors.ts';
import { parseRunConfig, runId } from '../../src/train/config.ts';
import { aliceParagraphs, tempDir } from './helpers.ts';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;

test('scaling-lab corpora lists every corpus, installed or not, with licences (table and --json)', () => {
  const table = spawnSync(process.execPath, [bin, 'corpora'], { encoding: 'utf8' });
  assert.equal(table.status, 0, table.stderr);
  for (const name of ['gutenberg', 'sotu', 'brown', 'imdb', 'reuters']) assert.match(table.stdout, new RegExp(`^${name}`, 'm'));
  assert.match(table.stdout, /CC0/);
  assert.match(table.stdout, /research use only/);
  const json = spawnSync(process.execPath, [bin, 'corpora', '--json'], { encoding: 'utf8' });
  const rows = JSON.parse(json.stdout) as { name: string; installed: boolean; licence: string; sizeMB: number }[];
  assert.equal(rows.length, 5);
  assert.equal(rows[0].name, 'gutenberg');
  assert.equal(rows[0].installed, true);
});

async function runTokenize(args: string[]): Promise<string> {
  const program = new Command('scaling-lab').exitOverride();
  registerTokenize(program);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    await program.parseAsync(['node', 'scaling-lab', 'tokenize', ...args]);
  } finally {
    console.log = log;
  }
  return lines.join('\n');
}

test('tokenize prepares a dataset, prints sizes as JSON and saves the tokenizer', async () => {
  const dir = tempDir();
  const corpus = join(dir, 'alice.jsonl');
  writeFileSync(
    corpus,
    aliceParagraphs()
      .slice(0, 150)
      .map((text) => JSON.stringify({ text }))
      .join('\n'),
  );
  const save = join(dir, 'out', 'tok.json');
  const out = await runTokenize([
    '--corpus',
    corpus,
    '--tokenizer',
    'bpe-280',
    '--test-fraction',
    '0.2',
    '--cache-dir',
    join(dir, 'cache'),
    '--save',
    save,
    '--json',
    '--quiet',
  ]);
  const report = JSON.parse(out) as { id: string; stats: { vocabSize: number; train: { tokens: number }; test: { tokens: number } } };
  assert.match(report.id, /^alice\.bpe-280\./);
  assert.equal(report.stats.vocabSize, 280);
  assert.ok(report.stats.train.tokens > 0 && report.stats.test.tokens > 0);
  assert.ok(existsSync(save));
  assert.equal(BpeTokenizer.load(save).vocabSize, 280);
  // the saved file is a tokenizer spec in its own right, and gives the same id
  const again = JSON.parse(await runTokenize(['--corpus', corpus, '--tokenizer', save, '--test-fraction', '0.2', '--no-cache', '--json', '--quiet'])) as {
    id: string;
  };
  assert.equal(again.id, report.id);
  const table = await runTokenize(['--corpus', corpus, '--tokenizer', 'byte', '--test-fraction', '0.2', '--no-cache', '--quiet']);
  assert.match(table, /^dataset alice\.byte\./);
  assert.match(table, /^train\s+\d+/m);
});

test('tokenize: bad input is a DataError with a hint (vocab < 256, missing corpus)', async () => {
  await assert.rejects(
    runTokenize(['--tokenizer', 'bpe-100', '--no-cache', '--quiet']),
    (e: unknown) => e instanceof DataError && /256/.test(e.message) && e.hint.length > 0,
  );
  await assert.rejects(
    runTokenize(['--corpus', '/no/such/dir', '--no-cache', '--quiet']),
    (e: unknown) => e instanceof DataError && /no\/such\/dir/.test(e.message),
  );
});

test('tokenize prepares what train reads by default: the same tokenizer (byte), corpus and split', async () => {
  const dir = tempDir();
  const corpus = join(dir, 'alice.jsonl');
  writeFileSync(
    corpus,
    aliceParagraphs()
      .slice(0, 60)
      .map((text) => JSON.stringify({ text }))
      .join('\n'),
  );
  const report = JSON.parse(await runTokenize(['--corpus', corpus, '--no-cache', '--json', '--quiet'])) as {
    id: string;
    stats: { tokenizer: string; testFraction: number };
  };
  const config = parseRunConfig({ depth: 1, steps: 1 });
  assert.equal(report.stats.tokenizer, config.tokenizer);
  assert.equal(report.stats.testFraction, config.testFraction);
  assert.match(report.id, /^alice\.byte\./);
});

test('a run config leaves the corpus defaults out, so giving them is the same run; other values are a new run', () => {
  const base = runId(parseRunConfig({ depth: 1, steps: 10 }));
  assert.equal(runId(parseRunConfig({ depth: 1, steps: 10, textField: 'text', chunkChars: 16384 })), base);
  assert.notEqual(runId(parseRunConfig({ depth: 1, steps: 10, textField: 'body' })), base);
  assert.notEqual(runId(parseRunConfig({ depth: 1, steps: 10, chunkChars: 0 })), base);
});

test('train reads a corpus with the corpus flags: --text-field, --chunk-chars, --cache-dir', () => {
  const dir = tempDir();
  const corpus = join(dir, 'alice.jsonl');
  writeFileSync(
    corpus,
    aliceParagraphs()
      .slice(0, 60)
      .map((body) => JSON.stringify({ body }))
      .join('\n'),
  );
  const cache = join(dir, 'cache');
  const store = join(dir, 'runs');
  const r = spawnSync(
    process.execPath,
    [
      bin,
      'train',
      '--corpus',
      corpus,
      '--text-field',
      'body',
      '--chunk-chars',
      '0',
      '--cache-dir',
      cache,
      '--depth',
      '1',
      '--context',
      '8',
      '--batch',
      '2',
      '--steps',
      '2',
      '--eval-windows',
      '2',
      '--threads',
      '1',
      '--store',
      store,
      '--quiet',
    ],
    { encoding: 'utf8', env: { ...process.env, SCALING_LAB_CACHE: join(dir, 'elsewhere') } },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done at step 2\/2/);
  // the tokens were cached where --cache-dir says, not in $SCALING_LAB_CACHE
  assert.ok(existsSync(cache) && readdirSync(cache).length > 0, 'nothing in --cache-dir');
  assert.equal(existsSync(join(dir, 'elsewhere')), false);
  // the run's config records how its corpus was read
  const [id] = readdirSync(store).filter((f) => existsSync(join(store, f, 'spec.json')));
  const spec = readFileSync(join(store, id, 'spec.json'), 'utf8');
  assert.match(spec, /"textField": ?"body"/);
  assert.match(spec, /"chunkChars": ?0/);
  // without --text-field the documents have no text field: an error, not an empty corpus
  const bad = spawnSync(
    process.execPath,
    [
      bin,
      'train',
      '--corpus',
      corpus,
      '--no-cache',
      '--depth',
      '1',
      '--context',
      '8',
      '--batch',
      '2',
      '--steps',
      '2',
      '--threads',
      '1',
      '--store',
      store,
      '--quiet',
    ],
    { encoding: 'utf8' },
  );
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /text/);
});
