// The data layer's public surface: import from here. Corpora, split, tokenizers, token cache, sampler and
// prepareDataset, the trainer's one entry point; each module's header says what it owns.
export { prepareDataset, trainedTokenizerPath, DEFAULT_TOKENIZER, type Dataset, type DatasetOptions, type DatasetStats, type SplitStats } from './dataset.ts';
export { loadCorpus, listCorpora, registryName, DEFAULT_CORPUS, type Corpus, type CorpusInfo, type Document } from './corpora.ts';
export { splitCorpus, chunkDocuments, isTestDocument, DEFAULT_CHUNK_CHARS, DEFAULT_TEST_FRACTION, type Split, type SplitOptions } from './split.ts';
export {
  ByteTokenizer,
  Gpt2Tokenizer,
  parseTokenizerSpec,
  loadTokenizer,
  encodeDocuments,
  type Tokenizer,
  type TokenArray,
  type TokenizerSpec,
} from './tokenizer.ts';
export { BpeTokenizer, trainBpe, preTokenize, type BpeFile } from './bpe.ts';
export { defaultCacheDir, readTokenCache, writeTokenCache, tokenCachePath, cachedTokens } from './cache.ts';
export { BatchSampler, sampleBatch, evalBatches, evalOffsets, DEFAULT_EVAL_WINDOWS, type Batch } from './sampler.ts';
export { DataError, CorpusError, TokenizerError, CacheError, SamplerError } from './errors.ts';
export type { Progress, ProgressFn } from '../util/progress.ts';
