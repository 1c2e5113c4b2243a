// Tokenizer kinds and specs: byte and gpt2 round-trip, specs parse or fail with a hint, and corpus
// encoding joins documents with a blank line and picks uint16 or uint32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteTokenizer, parseTokenizerSpec, loadTokenizer, encodeDocuments, documentWithSeparator } from '../../src/data/tokenizer.ts';
import { TokenizerError } from '../../src/data/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { randomText } from './helpers.ts';

test('byte and gpt2 tokenizers round-trip random Unicode', async () => {
  const rng = Rng.keyed(3);
  const byte = new ByteTokenizer();
  const gpt2 = await loadTokenizer('gpt2');
  assert.equal(gpt2.vocabSize, 50257);
  for (let i = 0; i < 200; i++) {
    const s = randomText(rng);
    assert.equal(byte.decode(byte.encode(s)), s);
    assert.equal(byte.encode(s).length, Buffer.byteLength(s));
    assert.equal(gpt2.decode(gpt2.encode(s)), s);
  }
  // GPT-2's special token in text is just text (no throw)
  assert.equal(gpt2.decode(gpt2.encode('a <|endoftext|> b')), 'a <|endoftext|> b');
});

test('tokenizer specs parse, and bad ones say what is accepted', () => {
  assert.deepEqual(parseTokenizerSpec('byte'), { kind: 'byte' });
  assert.deepEqual(parseTokenizerSpec('gpt2'), { kind: 'gpt2' });
  assert.deepEqual(parseTokenizerSpec('bpe-4096'), { kind: 'bpe', vocabSize: 4096 });
  assert.deepEqual(parseTokenizerSpec('bpe512'), { kind: 'bpe', vocabSize: 512 });
  assert.deepEqual(parseTokenizerSpec('my/tok.json'), { kind: 'file', path: 'my/tok.json' });
  assert.throws(
    () => parseTokenizerSpec('bpe-100'),
    (e: unknown) => e instanceof TokenizerError && /got 100/.test(e.message),
  );
  assert.throws(() => parseTokenizerSpec('bpe-abc'), TokenizerError);
  assert.throws(
    () => parseTokenizerSpec('sentencepiece'),
    (e: unknown) => e instanceof TokenizerError && /byte, gpt2, bpe-<V>/.test(e.hint),
  );
});

test('documents are joined with a blank line; ids are uint16 for V <= 65536 and uint32 above', async () => {
  assert.equal(documentWithSeparator('a'), 'a\n\n');
  assert.equal(documentWithSeparator('a\n'), 'a\n\n');
  assert.equal(documentWithSeparator('a\n\n'), 'a\n\n');
  const byte = new ByteTokenizer();
  const docs = [
    { id: '1', text: 'one' },
    { id: '2', text: 'two\n' },
  ];
  const tokens = encodeDocuments(byte, docs);
  assert.ok(tokens instanceof Uint16Array);
  assert.equal(byte.decode(tokens), 'one\n\ntwo\n\n');
  // a tokenizer whose ids may exceed 16 bits gets 32-bit storage
  const big = Object.assign(Object.create(byte) as ByteTokenizer, { vocabSize: 70000 });
  assert.ok(encodeDocuments(big, docs) instanceof Uint32Array);
});
