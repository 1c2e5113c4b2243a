// The token cache: exact round-trips in both dtypes, every kind of damage detected (never trusted), a
// changed key never reuses a file, rebuilds come with a notice, and writes leave no temp files behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeTokenCache, readTokenCache, cachedTokens, tokenCachePath, defaultCacheDir, HEADER_BYTES } from '../../src/data/cache.ts';
import { CacheError } from '../../src/data/errors.ts';
import { keyHash } from '../../src/data/text.ts';
import { tempDir } from './helpers.ts';

const key = { tokenizerHash: keyHash('tok'), corpusHash: keyHash('corpus'), vocabSize: 4096 };

test('uint16 and uint32 token files round-trip exactly', () => {
  const dir = tempDir();
  const small = Uint16Array.from({ length: 1000 }, (_, i) => (i * 37) % 4096);
  writeTokenCache(join(dir, 'a.tok'), key, small);
  assert.deepEqual(readTokenCache(join(dir, 'a.tok'), key), small);
  const bigKey = { ...key, vocabSize: 100000 };
  const big = Uint32Array.from({ length: 999 }, (_, i) => (i * 7919) % 100000);
  writeTokenCache(join(dir, 'b.tok'), bigKey, big);
  const back = readTokenCache(join(dir, 'b.tok'), bigKey);
  assert.ok(back instanceof Uint32Array);
  assert.deepEqual(back, big);
  assert.equal(readFileSync(join(dir, 'a.tok')).length, HEADER_BYTES + 2000);
  assert.deepEqual(readdirSync(dir).sort(), ['a.tok', 'b.tok'], 'no temp files left');
});

test('corrupt, truncated, foreign and mis-keyed files are detected, naming the file', () => {
  const dir = tempDir();
  const file = join(dir, 'c.tok');
  const tokens = Uint16Array.from({ length: 500 }, (_, i) => i);
  writeTokenCache(file, key, tokens);
  const good = readFileSync(file);
  const damaged = (edit: (b: Buffer) => Buffer, re: RegExp) => {
    writeFileSync(file, edit(Buffer.from(good)));
    assert.throws(
      () => readTokenCache(file, key),
      (e: unknown) => e instanceof CacheError && e.message.includes(file) && re.test(e.message) && /rebuilt/.test(e.hint),
    );
  };
  damaged((b) => ((b[HEADER_BYTES + 10] ^= 1), b), /checksum/);
  damaged((b) => b.subarray(0, b.length - 2), /payload bytes/);
  damaged((b) => b.subarray(0, 40), /truncated/);
  damaged((b) => (b.write('GIF89a..', 0, 'latin1'), b), /not a scaling-lab token cache/);
  damaged((b) => (b.writeUInt32LE(99, 8), b), /format version 99/);
  writeFileSync(file, good);
  assert.throws(() => readTokenCache(file, { ...key, tokenizerHash: keyHash('other') }), /different tokenizer/);
  assert.throws(() => readTokenCache(file, { ...key, corpusHash: keyHash('other') }), /different corpus/);
});

test('cachedTokens reuses a good file, rebuilds a bad one with a notice, and keys the path by both hashes', () => {
  const dir = tempDir();
  const file = tokenCachePath(dir, 'gutenberg-byte-train', key);
  assert.notEqual(file, tokenCachePath(dir, 'gutenberg-byte-train', { ...key, corpusHash: keyHash('changed') }));
  assert.notEqual(file, tokenCachePath(dir, 'gutenberg-byte-train', { ...key, tokenizerHash: keyHash('changed') }));
  let builds = 0;
  const build = () => (builds++, Uint16Array.of(1, 2, 3));
  const notices: string[] = [];
  assert.equal(cachedTokens(file, key, build, (m) => notices.push(m)).fromCache, false);
  assert.equal(cachedTokens(file, key, build, (m) => notices.push(m)).fromCache, true);
  assert.equal(builds, 1);
  assert.equal(notices.length, 0);
  writeFileSync(file, 'garbage, not a cache');
  const rebuilt = cachedTokens(file, key, build, (m) => notices.push(m));
  assert.equal(rebuilt.fromCache, false);
  assert.deepEqual(rebuilt.tokens, Uint16Array.of(1, 2, 3));
  assert.equal(builds, 2);
  assert.equal(notices.length, 1);
  assert.match(notices[0], /truncated|not a scaling-lab token cache/);
  assert.match(notices[0], /rebuilding/);
  assert.equal(readTokenCache(file, key).length, 3, 'rewritten good');
});

test('the cache directory is $SCALING_LAB_CACHE or .cache/scaling-lab under the cwd', () => {
  assert.equal(defaultCacheDir({}, '/work/x'), '/work/x/.cache/scaling-lab');
  assert.equal(defaultCacheDir({ SCALING_LAB_CACHE: '/tmp/slc' }, '/work/x'), '/tmp/slc');
  assert.ok(!existsSync('/work/x'));
});
