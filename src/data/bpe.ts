// Byte-level BPE in TypeScript: training with incremental pair counts over unique words, encoding with a
// per-word cache, decoding, and the JSON file format. The Tokenizer interface and spec parsing live in tokenizer.ts.
//
// Byte-level BPE as in GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners",
// section 2.2): the base vocabulary is the 256 byte values, so any UTF-8 text encodes with no unknown token,
// and merges are learned as in Sennrich, Haddow & Birch 2016 ("Neural Machine Translation of Rare Words
// with Subword Units", Algorithm 1): repeatedly merge the most frequent adjacent pair. Text is first split
// with GPT-2's regex so merges never cross word / punctuation / whitespace boundaries. Token ids: 0..255 are
// the bytes, merge i makes token 256 + i. (GPT-2's byte-to-unicode table only matters for a text vocab file;
// we store merges as id pairs.)
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { TokenizerError } from './errors.ts';
import { keyHash } from './text.ts';
import { replaceFileSync } from '../util/atomic.ts';
import type { ProgressFn } from '../util/progress.ts';
import type { Tokenizer } from './tokenizer.ts';

/** GPT-2's pre-tokenisation pattern (openai/gpt-2 src/encoder.py), with \p{L}/\p{N} in JS unicode mode. */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const BPE_FORMAT = 'scaling-lab/bpe';
const BPE_VERSION = 1;
/** Largest vocabulary we train: pair keys pack two ids below 2^20 into one safe integer. */
export const MAX_VOCAB = 1 << 20;

/** The saved form of a BPE tokenizer (JSON). */
export interface BpeFile {
  format: typeof BPE_FORMAT;
  version: number;
  pattern: 'gpt2';
  vocabSize: number;
  /** Flat list of merged pairs: merge i joins ids merges[2i], merges[2i+1] into id 256 + i. */
  merges: number[];
  /** Free-form provenance (corpus hash, chars, seconds); not part of the tokenizer's identity. */
  trainedOn?: Record<string, unknown>;
}

const pairKey = (a: number, b: number): number => a * MAX_VOCAB + b;

/** Split text into pre-tokens ("words") with the GPT-2 pattern; the pieces concatenate back to the text. */
export function preTokenize(text: string): string[] {
  return text.match(GPT2_PATTERN) ?? [];
}

/** Check a requested vocabulary size; below 256 cannot hold the bytes. */
export function checkVocabSize(vocabSize: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize > MAX_VOCAB) {
    throw new TokenizerError(
      `BPE vocabulary size must be an integer from 256 to ${MAX_VOCAB}, got ${vocabSize}`,
      'byte-level BPE always holds the 256 byte values; pick e.g. bpe-512 .. bpe-8192 (bpe-4096 is a good default), or use the byte tokenizer',
    );
  }
}

// ---- training

/** A max-heap of (count, pair key), ties broken by the smaller key so training is deterministic. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  private above(i: number, j: number): boolean {
    const c = this.counts;
    return c[i] > c[j] || (c[i] === c[j] && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    const c = this.counts;
    const k = this.keys;
    [c[i], c[j]] = [c[j], c[i]];
    [k[i], k[j]] = [k[j], k[i]];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** Remove the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    const n = this.keys.length;
    if (n > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.above(l, m)) m = l;
        if (r < n && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

export interface TrainOptions {
  onProgress?: ProgressFn;
  /** Extra provenance stored in the file (not part of the hash). */
  trainedOn?: Record<string, unknown>;
}

/**
 * Learn `vocabSize - 256` merges from texts. Words are counted once (unique pre-tokens with their
 * frequencies); pair counts are kept in a map and updated only for the words a merge touches, and the best
 * pair comes from a lazy max-heap: a pair's count only falls after the merge that created it, so a stale
 * heap entry is an overestimate and is re-pushed with its true count when it surfaces. Stops early (with
 * a smaller vocabulary) if the text runs out of pairs.
 */
export function trainBpe(texts: Iterable<string>, vocabSize: number, options: TrainOptions = {}): BpeTokenizer {
  checkVocabSize(vocabSize);
  const started = performance.now();
  // 1. unique words and their counts
  const wordCounts = new Map<string, number>();
  let chars = 0;
  for (const text of texts) {
    chars += text.length;
    const re = new RegExp(GPT2_PATTERN.source, 'gu');
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const w = m[0];
      wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
  }
  const encoder = new TextEncoder();
  const nWords = wordCounts.size;
  const syms: Int32Array[] = new Array(nWords);
  const lens = new Int32Array(nWords);
  const freq = new Float64Array(nWords);
  let w = 0;
  for (const [word, count] of wordCounts) {
    const bytes = encoder.encode(word);
    syms[w] = Int32Array.from(bytes);
    lens[w] = bytes.length;
    freq[w] = count;
    w++;
  }
  wordCounts.clear();

  // 2. initial pair counts and where each pair occurs
  const counts = new Map<number, number>();
  const where = new Map<number, number[]>();
  for (let i = 0; i < nWords; i++) {
    const s = syms[i];
    for (let j = 0; j + 1 < lens[i]; j++) {
      const k = pairKey(s[j], s[j + 1]);
      counts.set(k, (counts.get(k) ?? 0) + freq[i]);
      const list = where.get(k);
      if (list === undefined) where.set(k, [i]);
      else if (list[list.length - 1] !== i) list.push(i);
    }
  }
  options.onProgress?.({ phase: `train bpe-${vocabSize}`, done: 0, total: vocabSize - 256, unit: 'merges' });
  const heap = new PairHeap();
  for (const [k, c] of counts) heap.push(c, k);

  // 3. merges
  const nMerges = vocabSize - 256;
  const merges: number[] = [];
  const seen = new Int32Array(nWords).fill(-1); // last merge that visited each word, to skip duplicates
  const created = new Set<number>();
  const add = (k: number, delta: number): void => {
    const c = (counts.get(k) ?? 0) + delta;
    if (c <= 0) counts.delete(k);
    else counts.set(k, c);
  };
  while (merges.length / 2 < nMerges && heap.size > 0) {
    const [c, k] = heap.pop();
    const current = counts.get(k) ?? 0;
    if (current === 0) continue;
    if (current !== c) {
      heap.push(current, k); // stale: re-queue with the true (smaller) count
      continue;
    }
    const a = Math.floor(k / MAX_VOCAB);
    const b = k - a * MAX_VOCAB;
    const m = merges.length / 2;
    const z = 256 + m;
    merges.push(a, b);
    created.clear();
    for (const wi of where.get(k) ?? []) {
      if (seen[wi] === m) continue;
      seen[wi] = m;
      const s = syms[wi];
      const n = lens[wi];
      const f = freq[wi];
      let has = false;
      for (let j = 0; j + 1 < n; j++)
        if (s[j] === a && s[j + 1] === b) {
          has = true;
          break;
        }
      if (!has) continue; // a stale entry: an earlier merge already consumed this pair here
      for (let j = 0; j + 1 < n; j++) add(pairKey(s[j], s[j + 1]), -f);
      let out = 0;
      for (let j = 0; j < n;) {
        if (j + 1 < n && s[j] === a && s[j + 1] === b) {
          s[out++] = z;
          j += 2;
        } else s[out++] = s[j++];
      }
      lens[wi] = out;
      for (let j = 0; j + 1 < out; j++) {
        const pk = pairKey(s[j], s[j + 1]);
        add(pk, f);
        if (s[j] === z || s[j + 1] === z) {
          created.add(pk);
          const list = where.get(pk);
          if (list === undefined) where.set(pk, [wi]);
          else if (list[list.length - 1] !== wi) list.push(wi);
        }
      }
    }
    where.delete(k);
    counts.delete(k);
    for (const pk of created) {
      const pc = counts.get(pk);
      if (pc !== undefined) heap.push(pc, pk);
    }
    if (options.onProgress && ((m + 1) % 128 === 0 || m + 1 === nMerges)) {
      options.onProgress({ phase: `train bpe-${vocabSize}`, done: m + 1, total: nMerges, unit: 'merges' });
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return new BpeTokenizer(merges, { ...options.trainedOn, chars, uniqueWords: nWords, seconds: Number(seconds.toFixed(2)) });
}

// ---- the tokenizer

export class BpeTokenizer implements Tokenizer {
  readonly kind = 'bpe' as const;
  readonly vocabSize: number;
  readonly name: string;
  /** SHA-256 hex of the format version, pattern and merges: the tokenizer's identity in cache keys. */
  readonly hash: string;
  readonly merges: readonly number[];
  readonly trainedOn: Record<string, unknown>;
  private ranks = new Map<number, number>();
  private bytesOf: Uint8Array[];
  private cache = new Map<string, number[]>();
  private encoder = new TextEncoder();
  private decoder = new TextDecoder('utf-8');

  constructor(merges: number[], trainedOn: Record<string, unknown> = {}) {
    this.merges = merges;
    this.vocabSize = 256 + merges.length / 2;
    this.name = `bpe-${this.vocabSize}`;
    this.trainedOn = trainedOn;
    this.bytesOf = [];
    for (let i = 0; i < 256; i++) this.bytesOf.push(Uint8Array.of(i));
    for (let i = 0; i < merges.length; i += 2) {
      const x = this.bytesOf[merges[i]];
      const y = this.bytesOf[merges[i + 1]];
      const joined = new Uint8Array(x.length + y.length);
      joined.set(x);
      joined.set(y, x.length);
      this.bytesOf.push(joined);
      this.ranks.set(pairKey(merges[i], merges[i + 1]), i / 2);
    }
    this.hash = keyHash(BPE_FORMAT, BPE_VERSION, 'gpt2', merges.join(','));
  }

  /** Token ids of one pre-token: apply merges lowest rank first (GPT-2's bpe()), cached per word (do not mutate). */
  encodeWord(word: string): readonly number[] {
    const hit = this.cache.get(word);
    if (hit !== undefined) return hit;
    const s: number[] = Array.from(this.encoder.encode(word));
    const ranks = this.ranks;
    while (s.length > 1) {
      let best = Infinity;
      for (let j = 0; j + 1 < s.length; j++) {
        const r = ranks.get(pairKey(s[j], s[j + 1]));
        if (r !== undefined && r < best) best = r;
      }
      if (best === Infinity) break;
      const a = this.merges[2 * best];
      const b = this.merges[2 * best + 1];
      let out = 0;
      for (let j = 0; j < s.length;) {
        if (j + 1 < s.length && s[j] === a && s[j + 1] === b) {
          s[out++] = 256 + best;
          j += 2;
        } else s[out++] = s[j++];
      }
      s.length = out;
    }
    if (this.cache.size >= 1 << 20) this.cache.clear(); // bound memory on huge corpora
    this.cache.set(word, s);
    return s;
  }

  /** Append the ids of `text` to `out` (a plain array, or anything with push). */
  encodeTo(text: string, out: { push(...ids: number[]): unknown }): void {
    const re = new RegExp(GPT2_PATTERN.source, 'gu');
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const ids = this.encodeWord(m[0]);
      if (ids.length === 1) out.push(ids[0]);
      else if (ids.length <= 4096) out.push(...ids);
      else for (let i = 0; i < ids.length; i += 4096) out.push(...ids.slice(i, i + 4096)); // a huge run, e.g. of spaces: keep the spread small
    }
  }

  encode(text: string): number[] {
    const out: number[] = [];
    this.encodeTo(text, out);
    return out;
  }

  /** Bytes of one token id. */
  tokenBytes(id: number): Uint8Array {
    const b = this.bytesOf[id];
    if (b === undefined) throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
    return b;
  }

  decode(ids: ArrayLike<number>): string {
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.tokenBytes(ids[i]).length;
    const buf = new Uint8Array(n);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf[ids[i]];
      buf.set(b, o);
      o += b.length;
    }
    return this.decoder.decode(buf);
  }

  toJSON(): BpeFile {
    return { format: BPE_FORMAT, version: BPE_VERSION, pattern: 'gpt2', vocabSize: this.vocabSize, merges: [...this.merges], trainedOn: this.trainedOn };
  }

  /** Write the tokenizer as JSON, crash-safe (temp file + fsync + rename), making its directory if needed. */
  save(file: string): void {
    mkdirSync(dirname(file), { recursive: true });
    replaceFileSync(file, JSON.stringify(this.toJSON()));
  }

  /** Parse and validate a saved tokenizer; `file` names the source in errors. */
  static fromJSON(obj: unknown, file = '(json)'): BpeTokenizer {
    const bad = (what: string): never => {
      throw new TokenizerError(
        `${file} is not a scaling-lab BPE tokenizer: ${what}`,
        'train one with `scaling-lab tokenize --tokenizer bpe-4096 --save <file>`, or pass byte / gpt2 / bpe-<V>',
      );
    };
    if (obj === null || typeof obj !== 'object') return bad('not a JSON object');
    const o = obj as Partial<BpeFile>;
    if (o.format !== BPE_FORMAT) return bad(`format is ${JSON.stringify(o.format)}, expected "${BPE_FORMAT}"`);
    if (o.version !== BPE_VERSION) return bad(`version ${o.version}, this build reads version ${BPE_VERSION}`);
    if (o.pattern !== 'gpt2') return bad(`pre-tokeniser pattern ${JSON.stringify(o.pattern)}, expected "gpt2"`);
    const merges = o.merges;
    if (!Array.isArray(merges) || merges.length % 2 !== 0) return bad('merges must be a flat array of id pairs');
    for (let i = 0; i < merges.length; i++) {
      const id = merges[i];
      if (!Number.isInteger(id) || id < 0 || id >= 256 + Math.floor(i / 2)) return bad(`merge ${Math.floor(i / 2)} refers to id ${id}, not yet defined`);
    }
    if (o.vocabSize !== 256 + merges.length / 2) return bad(`vocabSize ${o.vocabSize} but ${merges.length / 2} merges (expected ${256 + merges.length / 2})`);
    return new BpeTokenizer(merges, (o.trainedOn ?? {}) as Record<string, unknown>);
  }

  static load(file: string): BpeTokenizer {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TokenizerError(`cannot read tokenizer file ${file}: ${(err as Error).message}`, 'check the path, or pass byte / gpt2 / bpe-<V>');
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      throw new TokenizerError(
        `${file} is not valid JSON (${(err as Error).message})`,
        'the file is corrupt: delete it and train again (`scaling-lab tokenize --tokenizer bpe-<V> --save <file>`)',
      );
    }
    return BpeTokenizer.fromJSON(obj, file);
  }
}
