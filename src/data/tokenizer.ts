// The Tokenizer interface and its three kinds: byte-level (V = 256), our byte-level BPE (bpe.ts), and GPT-2's
// encoding through gpt-tokenizer; spec strings ('byte', 'bpe-4096', 'gpt2', a .json path); corpus encoding.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { TokenizerError } from './errors.ts';
import { keyHash } from './text.ts';
import { BpeTokenizer, checkVocabSize } from './bpe.ts';
import type { Document } from './corpora.ts';
import type { ProgressFn } from '../util/progress.ts';

export interface Tokenizer {
  readonly kind: 'byte' | 'bpe' | 'gpt2';
  /** Short name for run names and tables: 'byte', 'bpe-4096', 'gpt2'. */
  readonly name: string;
  readonly vocabSize: number;
  /** SHA-256 hex of everything that decides the mapping: equal hashes encode identically. */
  readonly hash: string;
  encode(text: string): number[];
  /** Append the ids of `text` to `out`; the fast path for whole corpora. */
  encodeTo(text: string, out: { push(...ids: number[]): unknown }): void;
  /** Inverse of encode for any UTF-8 text; a sequence cut inside a character decodes that piece as U+FFFD. */
  decode(ids: ArrayLike<number>): string;
}

/** Tokens of a corpus split: uint16 when every id fits (V <= 65536), else uint32. */
export type TokenArray = Uint16Array | Uint32Array;

// ---- byte level

export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte' as const;
  readonly name = 'byte';
  readonly vocabSize = 256;
  readonly hash = keyHash('scaling-lab/byte', 1);
  private encoder = new TextEncoder();
  private decoder = new TextDecoder('utf-8');
  encode(text: string): number[] {
    return Array.from(this.encoder.encode(text));
  }
  encodeTo(text: string, out: { push(...ids: number[]): unknown }): void {
    const bytes = this.encoder.encode(text);
    for (let i = 0; i < bytes.length; i += 8192) out.push(...bytes.subarray(i, i + 8192));
  }
  decode(ids: ArrayLike<number>): string {
    return this.decoder.decode(Uint8Array.from(ids as ArrayLike<number>));
  }
}

// ---- GPT-2 (r50k_base) through gpt-tokenizer

/** GPT-2's own encoding (vocab 50257), for comparison with published runs. '<|endoftext|>' in text is plain text. */
export class Gpt2Tokenizer implements Tokenizer {
  readonly kind = 'gpt2' as const;
  readonly name = 'gpt2';
  readonly vocabSize: number;
  readonly hash: string;
  private constructor(
    private api: { encode(t: string, o?: object): number[]; decode(ids: Iterable<number>): string; vocabularySize: number },
    version: string,
  ) {
    this.vocabSize = api.vocabularySize;
    this.hash = keyHash('gpt-tokenizer/r50k_base', version);
  }
  static async load(): Promise<Gpt2Tokenizer> {
    let api;
    let version = 'unknown';
    try {
      api = await import('gpt-tokenizer/encoding/r50k_base');
      version = (createRequire(import.meta.url)('gpt-tokenizer/package.json') as { version: string }).version;
    } catch (err) {
      throw new TokenizerError(
        `the gpt2 tokenizer needs the npm package gpt-tokenizer (${(err as Error).message})`,
        'npm install gpt-tokenizer to use tokenizer gpt2',
      );
    }
    return new Gpt2Tokenizer(api, version);
  }
  private static readonly opts = { disallowedSpecial: new Set<string>() };
  encode(text: string): number[] {
    return this.api.encode(text, Gpt2Tokenizer.opts);
  }
  encodeTo(text: string, out: { push(...ids: number[]): unknown }): void {
    const ids = this.encode(text);
    for (let i = 0; i < ids.length; i += 8192) out.push(...ids.slice(i, i + 8192));
  }
  decode(ids: ArrayLike<number>): string {
    return this.api.decode(Array.from(ids));
  }
}

// ---- specs

export type TokenizerSpec =
  | { kind: 'byte' }
  | { kind: 'gpt2' }
  /** Train a BPE of this size on the corpus's train split (cached per corpus). */
  | { kind: 'bpe'; vocabSize: number }
  /** Load a saved BPE from a JSON file. */
  | { kind: 'file'; path: string };

/** 'byte' | 'gpt2' | 'bpe-<V>' (also 'bpe<V>', 'bpe:<V>') | a path to a saved tokenizer .json. */
export function parseTokenizerSpec(spec: string): TokenizerSpec {
  const s = spec.trim();
  if (s === 'byte' || s === 'bytes') return { kind: 'byte' };
  if (s === 'gpt2' || s === 'gpt-2' || s === 'r50k_base') return { kind: 'gpt2' };
  const m = /^bpe[-:]?(\d+)$/i.exec(s);
  if (m) {
    const vocabSize = Number(m[1]);
    checkVocabSize(vocabSize);
    return { kind: 'bpe', vocabSize };
  }
  if (/^bpe/i.test(s)) checkVocabSize(Number(s.replace(/^bpe[-:]?/i, '')));
  if (s.endsWith('.json') || existsSync(s)) return { kind: 'file', path: s };
  throw new TokenizerError(
    `unknown tokenizer '${spec}'`,
    'use byte, gpt2, bpe-<V> (e.g. bpe-4096) or a path to a tokenizer .json saved by `scaling-lab tokenize --save`',
  );
}

/** A tokenizer that needs no corpus (byte, gpt2, a saved file). bpe-<V> needs training: see prepareDataset. */
export async function loadTokenizer(spec: string | TokenizerSpec): Promise<Tokenizer> {
  const s = typeof spec === 'string' ? parseTokenizerSpec(spec) : spec;
  switch (s.kind) {
    case 'byte':
      return new ByteTokenizer();
    case 'gpt2':
      return Gpt2Tokenizer.load();
    case 'file':
      return BpeTokenizer.load(s.path);
    case 'bpe':
      throw new TokenizerError(
        `bpe-${s.vocabSize} must be trained on a corpus first`,
        'use prepareDataset({ tokenizer: "bpe-N" }) or `scaling-lab tokenize`, which train and cache it',
      );
    default:
      return s satisfies never;
  }
}

// ---- encoding a corpus

/** A growable uint32 buffer with a push(...ids) that the tokenizers append to. */
class TokenBuffer {
  private buf = new Uint32Array(1 << 16);
  length = 0;
  push(...ids: number[]): void {
    if (this.length + ids.length > this.buf.length) {
      const grown = new Uint32Array(Math.max(this.buf.length * 2, this.length + ids.length));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    for (let i = 0; i < ids.length; i++) this.buf[this.length++] = ids[i];
  }
  /** A compact copy: Uint16Array when every id is below 65536 (vocabSize <= 65536), else Uint32Array. */
  toTokens(vocabSize: number): TokenArray {
    return vocabSize <= 65536 ? Uint16Array.from(this.buf.subarray(0, this.length)) : this.buf.slice(0, this.length);
  }
}

/**
 * Documents are joined so that each ends with a blank line: text ending in "\n\n" gets nothing, "\n" one
 * more, anything else two. (No special end-of-text token: V stays exactly 256 for bytes.)
 */
export function documentWithSeparator(text: string): string {
  if (text.endsWith('\n\n')) return text;
  return text.endsWith('\n') ? `${text}\n` : `${text}\n\n`;
}

/** Encode documents in order into one token array, reporting progress by characters. */
export function encodeDocuments(tokenizer: Tokenizer, documents: Document[], options: { onProgress?: ProgressFn; phase?: string } = {}): TokenArray {
  const total = documents.reduce((n, d) => n + d.text.length, 0);
  const phase = options.phase ?? `encode ${tokenizer.name}`;
  const out = new TokenBuffer();
  let done = 0;
  let reported = 0;
  for (const d of documents) {
    tokenizer.encodeTo(documentWithSeparator(d.text), out);
    done += d.text.length;
    if (options.onProgress && (done - reported > 1 << 20 || done === total)) {
      reported = done;
      options.onProgress({ phase, done, total, unit: 'chars' });
    }
  }
  return out.toTokens(tokenizer.vocabSize);
}
