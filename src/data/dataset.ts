// The trainer's entry point: corpus -> deterministic split -> tokenizer (trained and cached for bpe-<V>) ->
// cached token arrays for train and test, with sizes and a stable id for run specs. Batching is sampler.ts's.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadCorpus, registryName, DEFAULT_CORPUS } from './corpora.ts';
import { splitCorpus, DEFAULT_CHUNK_CHARS, DEFAULT_TEST_FRACTION, type Split } from './split.ts';
import { BpeTokenizer, trainBpe } from './bpe.ts';
import { TokenizerError } from './errors.ts';
import { parseTokenizerSpec, loadTokenizer, encodeDocuments, type Tokenizer, type TokenArray } from './tokenizer.ts';
import { cachedTokens, defaultCacheDir, tokenCachePath } from './cache.ts';
import { keyHash } from './text.ts';
import type { ProgressFn } from '../util/progress.ts';

export const DEFAULT_TOKENIZER = 'bpe-4096';

export interface DatasetOptions {
  /** Registry name ('gutenberg', 'sotu', 'brown', 'imdb', 'reuters') or a path (file, directory, .jsonl). Default 'gutenberg'. */
  corpus?: string;
  /** JSONL corpora: the field holding the text (default 'text'). */
  textField?: string;
  /** 'byte' | 'gpt2' | 'bpe-<V>' (trained on the train split, cached) | path to a saved BPE .json | a Tokenizer. Default 'bpe-4096'. */
  tokenizer?: string | Tokenizer;
  /** Held-out fraction of documents (sections), default 0.1. */
  testFraction?: number;
  /** Section size for the split (split.ts), default 16384 characters; 0 = whole documents. */
  chunkChars?: number;
  /** Cache directory; default $SCALING_LAB_CACHE or ./.cache/scaling-lab; null disables the disk cache. */
  cacheDir?: string | null;
  onProgress?: ProgressFn;
  /** Told about things worth a line (a corrupt cache rebuilt, a BPE that ran out of pairs). */
  onNotice?: (message: string) => void;
}

export interface SplitStats {
  documents: number;
  chars: number;
  tokens: number;
  /** chars / tokens: the tokenizer's compression on this text. */
  charsPerToken: number;
  fromCache: boolean;
}

export interface DatasetStats {
  corpus: string;
  tokenizer: string;
  vocabSize: number;
  testFraction: number;
  chunkChars: number;
  train: SplitStats;
  test: SplitStats;
  /** Whether the tokenizer came from disk (bpe-<V>); null for byte/gpt2/file/instance. */
  tokenizerFromCache: boolean | null;
  seconds: { corpus: number; tokenizer: number; encode: number };
}

export interface Dataset {
  /** Stable, readable id of (corpus text, split, tokenizer), e.g. 'gutenberg.bpe-4096.1a2b3c4d5e6f'. Put it in run specs. */
  id: string;
  /** The full hashes behind the id. */
  key: { corpus: string; trainHash: string; testHash: string; tokenizer: string; tokenizerHash: string };
  tokenizer: Tokenizer;
  vocabSize: number;
  /** Train and test tokens: Uint16Array when vocabSize <= 65536, else Uint32Array. */
  train: TokenArray;
  test: TokenArray;
  stats: DatasetStats;
  /** Every notice given through onNotice, also kept here. */
  notices: string[];
}

const seconds = (t0: number): number => Number(((performance.now() - t0) / 1000).toFixed(3));

function corpusLabel(corpus: string): string {
  return registryName(corpus) ?? basename(corpus).replace(/\.[^.]*$/, '');
}

/**
 * Get (train, test) tokens for a corpus and tokenizer, using and filling the disk cache. Deterministic:
 * the same corpus text, split options and tokenizer always give the same tokens and the same id.
 */
export async function prepareDataset(options: DatasetOptions = {}): Promise<Dataset> {
  const notices: string[] = [];
  const notice = (m: string): void => {
    notices.push(m);
    options.onNotice?.(m);
  };
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const corpusSpec = options.corpus ?? DEFAULT_CORPUS;
  const label = corpusLabel(corpusSpec);

  let t0 = performance.now();
  const corpus = loadCorpus(corpusSpec, { textField: options.textField });
  const split = splitCorpus(corpus, {
    testFraction: options.testFraction ?? DEFAULT_TEST_FRACTION,
    chunkChars: options.chunkChars ?? DEFAULT_CHUNK_CHARS,
  });
  const corpusSeconds = seconds(t0);

  t0 = performance.now();
  const { tokenizer, fromCache: tokenizerFromCache } = await resolveTokenizer(
    options.tokenizer ?? DEFAULT_TOKENIZER,
    split,
    label,
    cacheDir,
    options.onProgress,
    notice,
  );
  const tokenizerSeconds = seconds(t0);

  t0 = performance.now();
  const sides = (['train', 'test'] as const).map((name) => {
    const side = split[name];
    const build = (): TokenArray => encodeDocuments(tokenizer, side.documents, { onProgress: options.onProgress, phase: `encode ${name} (${tokenizer.name})` });
    if (cacheDir === null) return { tokens: build(), fromCache: false };
    const key = { tokenizerHash: tokenizer.hash, corpusHash: side.hash, vocabSize: tokenizer.vocabSize };
    return cachedTokens(tokenCachePath(cacheDir, `${label}-${tokenizer.name}-${name}`, key), key, build, notice);
  });
  const encodeSeconds = seconds(t0);
  const [train, test] = sides;

  const splitStats = (name: 'train' | 'test', tokens: TokenArray, fromCache: boolean): SplitStats => ({
    documents: split[name].documents.length,
    chars: split[name].chars,
    tokens: tokens.length,
    charsPerToken: Number((split[name].chars / Math.max(1, tokens.length)).toFixed(4)),
    fromCache,
  });
  const key = { corpus: label, trainHash: split.train.hash, testHash: split.test.hash, tokenizer: tokenizer.name, tokenizerHash: tokenizer.hash };
  return {
    id: `${label}.${tokenizer.name}.${keyHash(key.trainHash, key.testHash, key.tokenizerHash).slice(0, 12)}`,
    key,
    tokenizer,
    vocabSize: tokenizer.vocabSize,
    train: train.tokens,
    test: test.tokens,
    stats: {
      corpus: label,
      tokenizer: tokenizer.name,
      vocabSize: tokenizer.vocabSize,
      testFraction: split.testFraction,
      chunkChars: split.chunkChars,
      train: splitStats('train', train.tokens, train.fromCache),
      test: splitStats('test', test.tokens, test.fromCache),
      tokenizerFromCache,
      seconds: { corpus: corpusSeconds, tokenizer: tokenizerSeconds, encode: encodeSeconds },
    },
    notices,
  };
}

/** Path of the cached BPE trained on this split's train side. */
export function trainedTokenizerPath(cacheDir: string, label: string, vocabSize: number, trainHash: string): string {
  return join(cacheDir, 'tokenizers', `${label.replace(/[^A-Za-z0-9._-]+/g, '_')}-bpe-${vocabSize}-${trainHash.slice(0, 12)}.json`);
}

async function resolveTokenizer(
  spec: string | Tokenizer,
  split: Split,
  label: string,
  cacheDir: string | null,
  onProgress: ProgressFn | undefined,
  notice: (m: string) => void,
): Promise<{ tokenizer: Tokenizer; fromCache: boolean | null }> {
  if (typeof spec !== 'string') return { tokenizer: spec, fromCache: null };
  const parsed = parseTokenizerSpec(spec);
  if (parsed.kind !== 'bpe') return { tokenizer: await loadTokenizer(parsed), fromCache: null };
  const file = cacheDir === null ? null : trainedTokenizerPath(cacheDir, label, parsed.vocabSize, split.train.hash);
  if (file !== null && existsSync(file)) {
    try {
      const bpe = BpeTokenizer.load(file);
      if (bpe.trainedOn.trainHash === split.train.hash && bpe.trainedOn.requestedVocab === parsed.vocabSize) return { tokenizer: bpe, fromCache: true };
      notice(`cached tokenizer ${file} was trained on other text; retraining it`);
    } catch (err) {
      if (!(err instanceof TokenizerError)) throw err;
      notice(`${err.message}; retraining it`);
    }
  }
  const bpe = trainBpe(
    split.train.documents.map((d) => d.text),
    parsed.vocabSize,
    { onProgress, trainedOn: { corpus: label, trainHash: split.train.hash, requestedVocab: parsed.vocabSize } },
  );
  if (bpe.vocabSize < parsed.vocabSize) notice(`the ${label} train split ran out of pairs to merge: ${bpe.name} instead of bpe-${parsed.vocabSize}`);
  if (file !== null) {
    try {
      bpe.save(file);
    } catch (err) {
      notice(`could not save tokenizer ${file} (${(err as Error).message}); continuing without it`);
    }
  }
  return { tokenizer: bpe, fromCache: false };
}
