// `scaling-lab tokenize`: prepares a dataset the way training will (split, train or load the tokenizer,
// encode, fill the token cache), prints sizes, and can save the tokenizer. The work is src/data's prepareDataset.
import { Command, InvalidArgumentError } from 'commander';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  prepareDataset,
  defaultCacheDir,
  BpeTokenizer,
  DEFAULT_CORPUS,
  DEFAULT_TOKENIZER,
  DEFAULT_TEST_FRACTION,
  DEFAULT_CHUNK_CHARS,
  TokenizerError,
} from '../../data/index.ts';
import { printTable } from './corpora.ts';
import { phaseProgress } from '../progress.ts';

function fraction(v: string): number {
  const x = Number(v);
  if (!(x > 0 && x < 1)) throw new InvalidArgumentError('expected a number between 0 and 1 (exclusive), e.g. 0.1');
  return x;
}

function nonNegativeInt(v: string): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return x;
}

interface Opts {
  corpus: string;
  textField: string;
  tokenizer: string;
  testFraction: number;
  chunkChars: number;
  cacheDir?: string;
  cache: boolean;
  save?: string;
  json?: boolean;
  quiet?: boolean;
}

export function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description(
      'Prepare a corpus for training: split it by document, train (bpe-<V>) or load the tokenizer, encode train and test ' +
        'into the token cache, and print their sizes in characters and tokens. Training runs reuse the cache.',
    )
    .option('--corpus <name|path>', 'packaged corpus (see `scaling-lab corpora`), or a .txt/.md file, a directory of them, or a .jsonl file', DEFAULT_CORPUS)
    .option('--text-field <field>', 'for .jsonl corpora: the field that holds each document\'s text', 'text')
    .option('--tokenizer <spec>', 'byte (V=256), bpe-<V> (byte-level BPE trained on the train split, V >= 256, e.g. bpe-4096), gpt2 (GPT-2\'s 50257 tokens), or a saved tokenizer .json', DEFAULT_TOKENIZER)
    .option('--test-fraction <f>', 'fraction of documents held out for test, chosen by a hash of their text', fraction, DEFAULT_TEST_FRACTION)
    .option('--chunk-chars <n>', 'cut documents longer than this into sections at paragraph breaks before the split (0 = whole documents)', nonNegativeInt, DEFAULT_CHUNK_CHARS)
    .option('--cache-dir <dir>', `token and tokenizer cache (default: $SCALING_LAB_CACHE or ./.cache/scaling-lab; now ${defaultCacheDir()})`)
    .option('--no-cache', 'neither read nor write the disk cache')
    .option('--save <file.json>', 'also write the (BPE) tokenizer to this file, to pass later as --tokenizer <file.json>')
    .option('--json', 'print the dataset id and stats as JSON')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (opts: Opts) => {
      const data = await prepareDataset({
        corpus: opts.corpus,
        textField: opts.textField,
        tokenizer: opts.tokenizer,
        testFraction: opts.testFraction,
        chunkChars: opts.chunkChars,
        cacheDir: opts.cache ? (opts.cacheDir ?? defaultCacheDir()) : null,
        onProgress: opts.quiet ? undefined : phaseProgress(),
        onNotice: (m) => console.error(`notice: ${m}`),
      });
      if (opts.save) {
        if (!(data.tokenizer instanceof BpeTokenizer)) {
          throw new TokenizerError(`--save writes BPE tokenizers; ${data.tokenizer.name} needs no file`, `pass --tokenizer bpe-<V> with --save, or drop --save`);
        }
        mkdirSync(dirname(opts.save), { recursive: true });
        data.tokenizer.save(opts.save);
      }
      if (opts.json) {
        console.log(JSON.stringify({ id: data.id, key: data.key, stats: data.stats, notices: data.notices, saved: opts.save ?? null }, null, 2));
        return;
      }
      const s = data.stats;
      console.log(`dataset ${data.id}  (${s.corpus}, ${s.tokenizer}, V=${s.vocabSize}, test fraction ${s.testFraction}, sections ${s.chunkChars || 'whole documents'})`);
      printTable(
        (['train', 'test'] as const).map((k) => ({
          split: k,
          documents: String(s[k].documents),
          chars: s[k].chars.toLocaleString('en-US'),
          tokens: s[k].tokens.toLocaleString('en-US'),
          'chars/token': s[k].charsPerToken.toFixed(3),
          cached: s[k].fromCache ? 'yes' : 'built now',
        })),
      );
      console.log(`time: corpus ${s.seconds.corpus}s, tokenizer ${s.seconds.tokenizer}s${s.tokenizerFromCache ? ' (cached)' : ''}, encode ${s.seconds.encode}s`);
      if (opts.save) console.log(`tokenizer saved to ${opts.save}`);
    });
}
