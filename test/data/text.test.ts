// Decoding and hashing: UTF-8 validation finds the first bad byte, Latin-1 fallback, line endings, hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { firstInvalidUtf8, decodeText, normaliseText, fnv1a32, keyHash } from '../../src/data/text.ts';
import { CorpusError } from '../../src/data/errors.ts';
import { fixtures } from './helpers.ts';

test('firstInvalidUtf8 finds the offset of the first bad byte and accepts valid text', () => {
  const enc = new TextEncoder();
  assert.equal(firstInvalidUtf8(enc.encode('plain ascii, café, 中文, 😀')), -1);
  const cases: [number[], number][] = [
    [[0x61, 0xe9, 0x62], 1], // Latin-1 é
    [[0x61, 0x62, 0xc3], 2], // truncated 2-byte sequence at the end
    [[0xc0, 0xaf], 0], // overlong '/'
    [[0x61, 0xed, 0xa0, 0x80], 1], // UTF-16 surrogate encoded in UTF-8
    [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
    [[0x61, 0x80], 1], // stray continuation byte
  ];
  for (const [bytes, offset] of cases) assert.equal(firstInvalidUtf8(Uint8Array.from(bytes)), offset, bytes.join(','));
});

test('a non-UTF-8 user file is an error naming the file and the byte offset; known corpora fall back to Latin-1', () => {
  const file = `${fixtures}latin1.txt`;
  const bytes = readFileSync(file);
  assert.throws(
    () => decodeText(bytes, file),
    (err: unknown) => err instanceof CorpusError && err.message.includes(file) && /byte offset 3\b/.test(err.message) && /UTF-8/.test(err.hint),
  );
  assert.equal(decodeText(bytes, file, true), 'Café au lait, naïve résumé.\n');
});

test('normaliseText turns CRLF and CR into LF and drops a BOM', () => {
  assert.equal(normaliseText('\ufeffa\r\nb\rc\n'), 'a\nb\nc\n');
  assert.equal(decodeText(new TextEncoder().encode('x\r\ny'), 'f'), 'x\ny');
});

test('hashes are stable and length-prefixed', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('hello'), fnv1a32('hello'));
  assert.notEqual(fnv1a32('hello'), fnv1a32('hellp'));
  assert.notEqual(keyHash('ab', 'c'), keyHash('a', 'bc'));
  assert.match(keyHash('x'), /^[0-9a-f]{64}$/);
});
