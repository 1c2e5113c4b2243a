// The flags several commands share, each defined once here: its name, help text, parser and default, so `--threads`
// or `--bootstrap` reads and behaves the same in every command that takes it (test/cli/help.test.ts walks every
// command's help and checks). Also the old spellings kept for one release: they still work and print one line
// naming the new flag.
//
// The vocabulary:
//   --threads N          threads each run uses (native kernels); default: the cores shared among the runs at once
//   --workers N          runs at once on this machine, each in its own process; default: cores / --threads
//                        (with neither given: one run per core, one thread each; `train` and `bench` run one at a time)
//   --store DIR|URL      where runs are kept (default ./runs)
//   --seed S             the training seed (a run config key, `train` and sweep specs); --bootstrap-seed S is the
//                        seed of the bootstrap resampling in fit, bcrit, report and demo
//   --bootstrap K        resamples behind every confidence interval, one default everywhere
//   --n-params P         which parameter count of our own runs is N (kaplan | total)
//   --n-convention C     how an imported file's N column counts parameters (kaplan | total | unknown)
//   --corpus, --tokenizer, --test-fraction, --text-field, --chunk-chars, --cache-dir, --no-cache: how a corpus is read,
//                        the same defaults in every command that reads one
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import { DEFAULT_CHUNK_CHARS } from '../data/index.ts';
import { DEFAULT_QUEUE_NAME } from '../sweep/queue.ts';
import { RunConfigSchema } from '../train/config.ts';
import { fraction, int, minutesToMs, secondsToMs } from './helpers.ts';

/**
 * Resamples behind every confidence interval, in every command: a 95% percentile interval reads its ends from the
 * 2.5% tails, 25 resamples each at 1000 (5 at 200).
 */
const DEFAULT_BOOTSTRAP = 1000;
/** A run config's defaults (train/config.ts): what `train` reads without flags, and so what `tokenize` prepares. */
const RUN_DEFAULTS = {
  corpus: RunConfigSchema.shape.corpus.parse(undefined),
  tokenizer: RunConfigSchema.shape.tokenizer.parse(undefined),
  testFraction: RunConfigSchema.shape.testFraction.parse(undefined),
};

/** Each shared flag as a fresh commander Option (an Option belongs to one command). */
const SHARED = {
  // ---- execution: none of these changes what a run computes (the kernels are bit-identical across thread counts)
  threads: () =>
    new Option(
      '--threads <n>',
      'threads each run uses for the native kernels (results do not depend on it; default: the cores shared among the runs at once: all of them for one run, cores / --workers for several)',
    ).argParser(int('--threads', 1)),
  workers: () =>
    new Option('--workers <n>', 'runs at once on this machine, each in its own process (default: cores / --threads, at least 1)').argParser(
      int('--workers', 1),
    ),
  backend: () =>
    new Option('--backend <name>', 'kernels: native (C addon), ts (TypeScript reference), auto (native if built)')
      .choices(['auto', 'native', 'ts'])
      .default('auto'),
  store: () => new Option('--store <dir|url>', 'where runs are kept: a directory (file store) or a postgres:// URL').default('runs'),
  checkpointEvery: () =>
    new Option('--checkpoint-every <steps>', 'steps between checkpoints (and always at the end)').argParser(int('--checkpoint-every', 1)).default(50),
  queueName: () => new Option('--queue-name <name>', 'BullMQ queue name (a sweep and its workers must use the same)').default(DEFAULT_QUEUE_NAME),
  outageWindow: () =>
    new Option(
      '--outage-window <minutes>',
      'minutes to wait out a PostgreSQL or Redis outage (refused, reset, restart, timeout), retrying with backoff, before failing',
    )
      .argParser(minutesToMs('--outage-window'))
      .default(10 * 60_000, '10'),
  statementTimeout: () =>
    new Option('--statement-timeout <seconds>', 'seconds before PostgreSQL cancels a statement (a stuck query fails and is retried instead of hanging)')
      .argParser(secondsToMs('--statement-timeout'))
      .default(60_000, '60'),
  // ---- statistics
  bootstrap: () =>
    new Option('--bootstrap <k>', 'bootstrap resamples behind every confidence interval').argParser(int('--bootstrap', 0)).default(DEFAULT_BOOTSTRAP),
  bootstrapSeed: () =>
    new Option('--bootstrap-seed <s>', 'seed of the bootstrap resampling (not the training seed, which is a run config key)')
      .argParser(int('--bootstrap-seed', 0))
      .default(0),
  nParams: () =>
    new Option('--n-params <count>', 'which parameter count of our own runs is N in L(N, D): kaplan (non-embedding, matches the logged FLOPs) or total')
      .choices(['kaplan', 'total'])
      .default('kaplan'),
  nConvention: () =>
    new Option(
      '--n-convention <convention>',
      "how an imported file's N column counts parameters: kaplan (non-embedding), total (Chinchilla) or unknown; recorded in the result and the captions",
    )
      .choices(['kaplan', 'total', 'unknown'])
      .default('unknown'),
  strict: () =>
    new Option(
      '--strict',
      'exit with code 5 when any result carries a warning (poor fit, a parameter not identified, duplicates dropped, bootstrap failures, ...)',
    ),
  // ---- reading a corpus
  corpus: () =>
    new Option('--corpus <name|path>', 'packaged corpus (see `scaling-lab corpora`), or a .txt/.md file, a directory of them, or a .jsonl file').default(
      RUN_DEFAULTS.corpus,
    ),
  tokenizer: () =>
    new Option(
      '--tokenizer <spec>',
      "byte (V=256), bpe-<V> (byte-level BPE trained on the train split, V >= 256, e.g. bpe-4096), gpt2 (GPT-2's 50257 tokens), or a saved tokenizer .json",
    ).default(RUN_DEFAULTS.tokenizer),
  testFraction: () =>
    new Option('--test-fraction <f>', 'fraction of documents held out for test, chosen by a hash of their text')
      .argParser(fraction('--test-fraction'))
      .default(RUN_DEFAULTS.testFraction),
  textField: () => new Option('--text-field <field>', "for .jsonl corpora: the field that holds each document's text").default('text'),
  chunkChars: () =>
    new Option('--chunk-chars <n>', 'cut documents longer than this into sections at paragraph breaks before the split (0 = whole documents)')
      .argParser(int('--chunk-chars', 0))
      .default(DEFAULT_CHUNK_CHARS),
  cacheDir: () => new Option('--cache-dir <dir>', 'token and tokenizer cache (default: $SCALING_LAB_CACHE or ./.cache/scaling-lab)'),
  noCache: () => new Option('--no-cache', 'neither read nor write the disk cache of tokens and tokenizers'),
} as const;

export type SharedFlag = keyof typeof SHARED;

/** Every shared flag's long name, e.g. '--threads' (the help test checks each is shown the same everywhere). */
export const SHARED_FLAGS: string[] = Object.values(SHARED).map((make) => make().long!);

/** A shared flag as a commander Option, to adjust (e.g. .makeOptionMandatory) before adding it. */
export function sharedOption(name: SharedFlag): Option {
  return SHARED[name]();
}

/** Add these shared flags to a command, in this order. */
export function addShared(cmd: Command, ...names: SharedFlag[]): Command {
  for (const name of names) cmd.addOption(SHARED[name]());
  return cmd;
}

/** The corpus flags, for every command that reads a corpus. */
export const CORPUS_FLAGS: SharedFlag[] = ['corpus', 'tokenizer', 'testFraction', 'textField', 'chunkChars'];

/** --cache-dir and --no-cache as ExecOptions.cacheDir: a directory, null for --no-cache, undefined for the default. */
export function cacheDirOf(opts: Record<string, unknown>): string | null | undefined {
  return opts.cache === false ? null : (opts.cacheDir as string | undefined);
}

/**
 * An old spelling of a flag the command already has (`newFlag`, e.g. '--threads'), kept for one release: hidden from
 * --help, parsed like the new flag, its value stored as the new flag's (given on the command line), and one line on
 * stderr naming the new flag. Add it after the new flag.
 */
export function addDeprecatedAlias(cmd: Command, oldFlags: string, newFlag: string): Command {
  const target = cmd.options.find((o) => o.long === newFlag);
  if (!target) throw new Error(`${cmd.name()}: no ${newFlag} to alias ${oldFlags} to`);
  const old = new Option(oldFlags, `deprecated spelling of ${newFlag}`).hideHelp();
  if (target.parseArg) old.argParser(target.parseArg);
  if (target.argChoices) old.choices(target.argChoices);
  cmd.addOption(old);
  let warned = false;
  // commander stores the (parsed) value on its own listener, registered by addOption, so it runs before this one
  cmd.on(`option:${old.name()}`, () => {
    if (!warned) process.stderr.write(`warning: ${old.long} is deprecated and will be removed in the next release; use ${newFlag}\n`);
    warned = true;
    cmd.setOptionValueWithSource(target.attributeName(), cmd.getOptionValue(old.attributeName()), 'cli');
  });
  return cmd;
}

/**
 * Workers and threads per run from --workers and --threads (either may be absent): together they share the machine's
 * cores; with neither, one run per core with one thread each.
 */
export function parallelism(workers: number | undefined, threads: number | undefined, cores = availableParallelism()): { workers: number; threads: number } {
  if (workers !== undefined && threads !== undefined) return { workers, threads };
  if (threads !== undefined) return { workers: Math.max(1, Math.floor(cores / threads)), threads };
  if (workers !== undefined) return { workers, threads: Math.max(1, Math.floor(cores / workers)) };
  return { workers: Math.max(1, cores), threads: 1 };
}
