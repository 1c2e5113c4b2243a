// Typed errors for bad data input: every one says what was expected, what came, and (in `hint`) what to
// do about it (docs/ARCHITECTURE.md 5.1). The CLI prints message + hint; the library never prints.

/** Base class for every data-layer error caused by the user's input (not by a bug). */
export class DataError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** A corpus is missing, empty, not installed, not UTF-8, or too small. */
export class CorpusError extends DataError {}

/** A tokenizer spec or file is invalid (vocab below 256, foreign or corrupt JSON, ...). */
export class TokenizerError extends DataError {}

/** A token cache file is corrupt or foreign (only surfaced when asked to read one strictly). */
export class CacheError extends DataError {}

/** Batch sampling was asked for more than the tokens can give (corpus smaller than one window). */
export class SamplerError extends DataError {}
