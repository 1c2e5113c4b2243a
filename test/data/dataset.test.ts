// prepareDataset end to end on a small real corpus: sizes add up, tokens decode back to the split's text,
// the second call comes from the cache with the same id, and any change of text or tokenizer (or a
// damaged cache file) rebuilds instead of reusing stale tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { prepareDataset } from '../../src/data/dataset.ts';
import { ByteTokenizer, documentWithSeparator } from '../../src/data/tokenizer.ts';
import { loadCorpus } from '../../src/data/corpora.ts';
import { splitCorpus } from '../../src/data/split.ts';
import { aliceParagraphs, tempDir } from './helpers.ts';

function writeJsonl(dir: string, name: string, texts: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  return file;
}

test('byte dataset: sizes add up, tokens decode to the split, the second call is cached with the same id', async () => {
  const dir = tempDir();
  const corpus = writeJsonl(dir, 'alice.jsonl', aliceParagraphs().slice(0, 300));
  const cacheDir = join(dir, 'cache');
  const a = await prepareDataset({ corpus, tokenizer: 'byte', cacheDir, testFraction: 0.2 });
  assert.match(a.id, /^alice\.byte\.[0-9a-f]{12}$/);
  assert.equal(a.vocabSize, 256);
  assert.ok(a.train instanceof Uint16Array);
  const split = splitCorpus(loadCorpus(corpus), { testFraction: 0.2 });
  const byte = new ByteTokenizer();
  assert.equal(byte.decode(a.test), split.test.documents.map((d) => documentWithSeparator(d.text)).join(''));
  assert.equal(a.stats.train.documents + a.stats.test.documents, 300);
  assert.equal(a.stats.test.chars, split.test.chars);
  assert.equal(a.stats.train.tokens, a.train.length);
  assert.equal(a.stats.train.fromCache, false);
  const b = await prepareDataset({ corpus, tokenizer: 'byte', cacheDir, testFraction: 0.2 });
  assert.equal(b.id, a.id);
  assert.equal(b.stats.train.fromCache, true);
  assert.equal(b.stats.test.fromCache, true);
  assert.deepEqual(b.train, a.train);
  assert.deepEqual(b.notices, []);
});

test('bpe dataset: tokenizer trained once and cached; changing the text or tokenizer changes the id and rebuilds', async () => {
  const dir = tempDir();
  const paras = aliceParagraphs().slice(0, 300);
  const corpus = writeJsonl(dir, 'alice.jsonl', paras);
  const cacheDir = join(dir, 'cache');
  const opts = { corpus, tokenizer: 'bpe-300', cacheDir, testFraction: 0.2 };
  const a = await prepareDataset(opts);
  assert.equal(a.vocabSize, 300);
  assert.equal(a.stats.tokenizerFromCache, false);
  assert.ok(a.stats.train.charsPerToken > 1.3, `bpe-300 compresses: ${a.stats.train.charsPerToken}`);
  const b = await prepareDataset(opts);
  assert.equal(b.stats.tokenizerFromCache, true);
  assert.equal(b.tokenizer.hash, a.tokenizer.hash);
  assert.equal(b.id, a.id);
  assert.equal(b.stats.train.fromCache, true);

  // one changed word in the corpus: new split hash, new tokenizer, new id, nothing reused
  writeJsonl(dir, 'alice.jsonl', [paras[0].replace('Alice', 'Alicia'), ...paras.slice(1)]);
  const c = await prepareDataset(opts);
  assert.notEqual(c.id, a.id);
  assert.ok(c.key.trainHash !== a.key.trainHash || c.key.testHash !== a.key.testHash, 'a split hash changed');
  assert.equal(c.stats.train.fromCache && c.stats.test.fromCache, false);

  // another tokenizer on the same text: another id and cache file
  const d = await prepareDataset({ ...opts, corpus: writeJsonl(dir, 'alice.jsonl', paras), tokenizer: 'bpe-320' });
  assert.notEqual(d.id, a.id);
  assert.equal(d.stats.train.fromCache, false);
  assert.equal((await prepareDataset(opts)).id, a.id, 'the original text is still cached under its own id');
});

test('a damaged cache file is rebuilt with a notice, giving the same tokens', async () => {
  const dir = tempDir();
  const corpus = writeJsonl(dir, 'alice.jsonl', aliceParagraphs().slice(0, 100));
  const cacheDir = join(dir, 'cache');
  const a = await prepareDataset({ corpus, tokenizer: 'byte', cacheDir, testFraction: 0.3 });
  const files = readdirSync(join(cacheDir, 'tokens'));
  assert.equal(files.length, 2);
  for (const f of files) writeFileSync(join(cacheDir, 'tokens', f), 'SLTOKENS but then nonsense');
  const notices: string[] = [];
  const b = await prepareDataset({ corpus, tokenizer: 'byte', cacheDir, testFraction: 0.3, onNotice: (m) => notices.push(m) });
  assert.equal(notices.length, 2);
  for (const n of notices) assert.match(n, /token cache .* (is truncated|is not).*rebuilding/);
  assert.deepEqual(b.train, a.train);
  assert.deepEqual(b.test, a.test);
  assert.equal((await prepareDataset({ corpus, tokenizer: 'byte', cacheDir, testFraction: 0.3 })).stats.train.fromCache, true);
});

test('cacheDir null writes nothing; a Tokenizer instance is accepted', async () => {
  const dir = tempDir();
  const corpus = writeJsonl(dir, 'alice.jsonl', aliceParagraphs().slice(0, 60));
  const d = await prepareDataset({ corpus, tokenizer: new ByteTokenizer(), cacheDir: null, testFraction: 0.3 });
  assert.equal(d.tokenizer.name, 'byte');
  assert.ok(!existsSync(join(dir, 'cache')));
  assert.deepEqual(readdirSync(dir), ['alice.jsonl']);
});
