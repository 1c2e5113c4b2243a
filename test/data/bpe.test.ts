// Byte-level BPE: training equals a naive recount-every-merge reference, encode/decode round-trips any
// UTF-8, merges stay within pre-tokens, save/load is exact, and bad vocab sizes or files fail with a hint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainBpe, BpeTokenizer, preTokenize, MAX_VOCAB, checkVocabSize } from '../../src/data/bpe.ts';
import { TokenizerError } from '../../src/data/errors.ts';
import { Rng } from '../../src/util/random.ts';
import { aliceParagraphs, randomText, tempDir } from './helpers.ts';

/** The textbook algorithm (Sennrich et al. 2016, Alg. 1): recount every pair before every merge. */
function naiveMerges(texts: string[], vocabSize: number): number[] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of preTokenize(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts].map(([w, c]) => ({ s: Array.from(new TextEncoder().encode(w)), c }));
  const merges: number[] = [];
  for (let z = 256; z < vocabSize; z++) {
    const pairs = new Map<number, number>();
    for (const { s, c } of words)
      for (let j = 0; j + 1 < s.length; j++) pairs.set(s[j] * MAX_VOCAB + s[j + 1], (pairs.get(s[j] * MAX_VOCAB + s[j + 1]) ?? 0) + c);
    let best = -1;
    let bestCount = 0;
    for (const [k, c] of pairs) if (c > bestCount || (c === bestCount && k < best)) [best, bestCount] = [k, c];
    if (best < 0) break;
    const a = Math.floor(best / MAX_VOCAB);
    const b = best % MAX_VOCAB;
    merges.push(a, b);
    for (const w of words) {
      const out: number[] = [];
      for (let j = 0; j < w.s.length;) {
        if (j + 1 < w.s.length && w.s[j] === a && w.s[j + 1] === b) {
          out.push(z);
          j += 2;
        } else out.push(w.s[j++]);
      }
      w.s = out;
    }
  }
  return merges;
}

const sample = aliceParagraphs().slice(0, 120);

test('incremental training learns exactly the merges of the naive reference', () => {
  const fast = trainBpe(sample, 600);
  assert.equal(fast.vocabSize, 600);
  assert.deepEqual([...fast.merges], naiveMerges(sample, 600));
  // and is deterministic
  assert.equal(trainBpe(sample, 600).hash, fast.hash);
});

test('encode/decode round-trips random Unicode exactly and never emits an unknown id', () => {
  const bpe = trainBpe(aliceParagraphs(), 1024);
  const rng = Rng.keyed(7);
  for (let i = 0; i < 300; i++) {
    const s = randomText(rng);
    const ids = bpe.encode(s);
    for (const id of ids) assert.ok(id >= 0 && id < bpe.vocabSize);
    assert.equal(bpe.decode(ids), s, JSON.stringify(s));
  }
  const text = aliceParagraphs().slice(200, 260).join('\n\n');
  const ids = bpe.encode(text);
  assert.equal(bpe.decode(ids), text);
  assert.ok(ids.length < text.length / 2.5, `compression ${text.length / ids.length} chars/token on trained text`);
});

test('pre-tokens cover the text and merges never cross them', () => {
  const rng = Rng.keyed(11);
  const bpe = trainBpe(sample, 800);
  for (let i = 0; i < 100; i++) {
    const s = randomText(rng) + " it's a dog's life, 2024!  ok\n\n";
    assert.equal(preTokenize(s).join(''), s);
    assert.deepEqual(
      bpe.encode(s),
      preTokenize(s).flatMap((w) => bpe.encode(w)),
    );
  }
});

test('save and load give the same tokenizer; a foreign or corrupt file is an error with a hint', () => {
  const dir = tempDir();
  const bpe = trainBpe(sample, 400);
  const file = join(dir, 'tok.json');
  bpe.save(file);
  const back = BpeTokenizer.load(file);
  assert.equal(back.hash, bpe.hash);
  assert.equal(back.vocabSize, 400);
  assert.deepEqual(back.encode(sample[3]), bpe.encode(sample[3]));

  const isTokErr = (re: RegExp) => (e: unknown) => e instanceof TokenizerError && re.test(e.message) && e.hint.length > 0;
  writeFileSync(join(dir, 'cut.json'), readFileSync(file, 'utf8').slice(0, 50));
  assert.throws(() => BpeTokenizer.load(join(dir, 'cut.json')), isTokErr(/cut\.json is not valid JSON/));
  writeFileSync(join(dir, 'foreign.json'), JSON.stringify({ model: { type: 'BPE' } }));
  assert.throws(() => BpeTokenizer.load(join(dir, 'foreign.json')), isTokErr(/foreign\.json is not a scaling-lab BPE tokenizer/));
  const forward = { ...bpe.toJSON(), merges: [300, 1, ...bpe.toJSON().merges.slice(2)] };
  writeFileSync(join(dir, 'forward.json'), JSON.stringify(forward));
  assert.throws(() => BpeTokenizer.load(join(dir, 'forward.json')), isTokErr(/merge 0 refers to id 300/));
  assert.throws(() => BpeTokenizer.load(join(dir, 'absent.json')), isTokErr(/cannot read tokenizer file/));
});

test('a vocabulary below 256 is refused with a hint; a text that runs out of pairs stops early', () => {
  for (const v of [0, 255, 100.5]) {
    assert.throws(
      () => checkVocabSize(v),
      (e: unknown) => e instanceof TokenizerError && /from 256/.test(e.message) && /256 byte values/.test(e.hint),
    );
  }
  assert.throws(() => trainBpe(['abc'], 200), TokenizerError);
  assert.equal(trainBpe(['ab ab'], 256).vocabSize, 256, 'V = 256 is bytes only');
  const tiny = trainBpe(['abcd'], 1000);
  assert.equal(tiny.vocabSize, 259, 'abcd has three merges to learn');
  assert.deepEqual(tiny.encode('abcd'), [258]);
});
