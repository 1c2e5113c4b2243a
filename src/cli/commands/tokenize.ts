// `scaling-lab tokenize`: prepares a dataset the way training will (split, train or load the tokenizer,
// encode, fill the token cache), prints sizes, and can save the tokenizer. The work is src/data's prepareDataset.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { prepareDataset, BpeTokenizer, TokenizerError } from '../../data/index.ts';
import { phaseProgress } from '../progress.ts';
import { printTable } from '../helpers.ts';
import { CORPUS_FLAGS, addShared, cacheDirOf } from '../options.ts';
import { formatGrouped } from '../../util/format.ts';

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
  const cmd = program
    .command('tokenize')
    .description(
      'Prepare a corpus for training: split it by document, train (bpe-<V>) or load the tokenizer, encode train and test ' +
        'into the token cache, and print their sizes in characters and tokens. Training runs reuse the cache.',
    );
  addShared(cmd, ...CORPUS_FLAGS, 'cacheDir', 'noCache')
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
        cacheDir: cacheDirOf(opts as unknown as Record<string, unknown>),
        onProgress: opts.quiet ? undefined : phaseProgress(),
        onNotice: (m) => console.error(`notice: ${m}`),
      });
      if (opts.save) {
        if (!(data.tokenizer instanceof BpeTokenizer)) {
          throw new TokenizerError(
            `--save writes BPE tokenizers; ${data.tokenizer.name} needs no file`,
            `pass --tokenizer bpe-<V> with --save, or drop --save`,
          );
        }
        mkdirSync(dirname(opts.save), { recursive: true });
        data.tokenizer.save(opts.save);
      }
      if (opts.json) {
        console.log(JSON.stringify({ id: data.id, key: data.key, stats: data.stats, notices: data.notices, saved: opts.save ?? null }, null, 2));
        return;
      }
      const s = data.stats;
      console.log(
        `dataset ${data.id}  (${s.corpus}, ${s.tokenizer}, V=${s.vocabSize}, test fraction ${s.testFraction}, sections ${s.chunkChars || 'whole documents'})`,
      );
      printTable(
        (['train', 'test'] as const).map((k) => ({
          split: k,
          documents: String(s[k].documents),
          chars: formatGrouped(s[k].chars),
          tokens: formatGrouped(s[k].tokens),
          'chars/token': s[k].charsPerToken.toFixed(3),
          cached: s[k].fromCache ? 'yes' : 'built now',
        })),
      );
      console.log(
        `time: corpus ${s.seconds.corpus}s, tokenizer ${s.seconds.tokenizer}s${s.tokenizerFromCache ? ' (cached)' : ''}, encode ${s.seconds.encode}s`,
      );
      if (opts.save) console.log(`tokenizer saved to ${opts.save}`);
    });
}
