// The split: sections concatenate back to their documents, the split is a pure function of the text, the
// test fraction is roughly met, gutenberg's test set samples many books, and empty splits fail with a hint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkDocuments, splitCorpus, isTestDocument } from '../../src/data/split.ts';
import { loadCorpus } from '../../src/data/corpora.ts';
import { CorpusError } from '../../src/data/errors.ts';

test('sections end at paragraph breaks and concatenate back to the document', () => {
  const corpus = loadCorpus('gutenberg');
  const sections = chunkDocuments(corpus.documents, 16384);
  for (const doc of corpus.documents) {
    const parts = sections.filter((s) => s.id === doc.id || s.id.startsWith(`${doc.id}#`));
    assert.equal(parts.map((p) => p.text).join(''), doc.text, doc.id);
    for (const p of parts.slice(0, -1)) {
      assert.ok(p.text.length >= 16384 && p.text.length <= 4 * 16384 + 2, `${p.id}: ${p.text.length} chars`);
      assert.ok(p.text.endsWith('\n'), `${p.id} ends mid-line`);
    }
  }
  // a text with no newline at all is cut hard, never inside a surrogate pair
  const emoji = '😀'.repeat(100);
  const cut = chunkDocuments([{ id: 'e', text: emoji }], 7);
  assert.equal(cut.map((c) => c.text).join(''), emoji);
  for (const c of cut) assert.ok(!/[\ud800-\udbff]$/.test(c.text), 'lone high surrogate at a cut');
  assert.deepEqual(chunkDocuments(corpus.documents, 0), corpus.documents, 'chunkChars 0 keeps documents whole');
});

test('the split is deterministic, by text, near the requested fraction, and touches many books', () => {
  const corpus = loadCorpus('gutenberg');
  const a = splitCorpus(corpus, { testFraction: 0.1 });
  const b = splitCorpus(loadCorpus('gutenberg'), { testFraction: 0.1 });
  assert.equal(a.train.hash, b.train.hash);
  assert.equal(a.test.hash, b.test.hash);
  const frac = a.test.documents.length / (a.test.documents.length + a.train.documents.length);
  assert.ok(frac > 0.06 && frac < 0.14, `test fraction of sections ${frac}`);
  const books = new Set(a.test.documents.map((d) => d.id.split('#')[0]));
  assert.ok(books.size >= 10, `test set draws from ${books.size} of 18 books`);
  for (const d of a.test.documents) assert.ok(isTestDocument(d.text, 0.1));
  // a different fraction moves documents; a larger fraction keeps every earlier test document (monotone)
  const c = splitCorpus(corpus, { testFraction: 0.2 });
  const bigger = new Set(c.test.documents.map((d) => d.id));
  for (const d of a.test.documents) assert.ok(bigger.has(d.id));
});

test('an empty side or a bad fraction fails with a hint', () => {
  const tiny = { name: 'tiny', source: 'memory', documents: [{ id: 'only', text: 'just one short document' }] };
  assert.throws(
    () => splitCorpus(tiny),
    (e: unknown) => e instanceof CorpusError && /empty (test|train) split/.test(e.message) && /--chunk-chars|more text/.test(e.hint),
  );
  assert.throws(
    () => splitCorpus(tiny, { testFraction: 1.5 }),
    (e: unknown) => e instanceof CorpusError && /test fraction/.test(e.message),
  );
});
