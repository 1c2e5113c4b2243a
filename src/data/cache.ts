// The on-disk token cache: a versioned binary file per (corpus split, tokenizer), keyed by both hashes,
// written crash-safe and checked on read (magic, version, size, hashes, payload SHA-256) so a stale,
// corrupt or foreign file is rebuilt, never trusted. Deciding what to encode is dataset.ts's job.
//
// Where: $SCALING_LAB_CACHE if set, else .cache/scaling-lab/ under the working directory (gitignored).
// Deleting the directory is always safe: everything in it is rebuilt on demand.
//
// File layout (little-endian), a 128-byte header then the tokens:
//   0  8  magic "SLTOKENS"            32 32  tokenizer hash (SHA-256)
//   8  4  format version (1)          64 32  corpus split hash (SHA-256)
//  12  4  header bytes (128)          96 32  SHA-256 of the token payload
//  16  4  bytes per token (2 | 4)    128 ..  tokens: uint16 when vocab <= 65536, else uint32
//  20  4  vocabulary size
//  24  8  token count (uint64)
import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CacheError } from './errors.ts';
import { replaceFileSync } from '../util/atomic.ts';
import type { TokenArray } from './tokenizer.ts';

const CACHE_MAGIC = 'SLTOKENS';
const CACHE_VERSION = 1;
export const HEADER_BYTES = 128;

export interface CacheKey {
  tokenizerHash: string;
  corpusHash: string;
  vocabSize: number;
}

/** $SCALING_LAB_CACHE, else <cwd>/.cache/scaling-lab. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return env.SCALING_LAB_CACHE ? resolve(env.SCALING_LAB_CACHE) : join(cwd, '.cache', 'scaling-lab');
}

/** The file for one cached split: readable prefix, then both hashes so a change of either picks a new file. */
export function tokenCachePath(dir: string, label: string, key: CacheKey): string {
  const safe = label.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return join(dir, 'tokens', `${safe}-${key.corpusHash.slice(0, 12)}-${key.tokenizerHash.slice(0, 12)}.tok`);
}

function checkLittleEndian(): void {
  if (endianness() !== 'LE')
    throw new CacheError('token cache files are little-endian and this machine is big-endian', 'run on a little-endian machine (x86-64, arm64)');
}

/** Write tokens with their key, crash-safe. */
export function writeTokenCache(file: string, key: CacheKey, tokens: TokenArray): void {
  checkLittleEndian();
  const bytesPerToken = key.vocabSize <= 65536 ? 2 : 4;
  if (tokens.BYTES_PER_ELEMENT !== bytesPerToken)
    throw new RangeError(`tokens are ${tokens.BYTES_PER_ELEMENT}-byte but vocab ${key.vocabSize} needs ${bytesPerToken}`);
  const payload = new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength);
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(CACHE_MAGIC, 0, 'latin1');
  header.writeUInt32LE(CACHE_VERSION, 8);
  header.writeUInt32LE(HEADER_BYTES, 12);
  header.writeUInt32LE(bytesPerToken, 16);
  header.writeUInt32LE(key.vocabSize, 20);
  header.writeBigUInt64LE(BigInt(tokens.length), 24);
  Buffer.from(key.tokenizerHash, 'hex').copy(header, 32);
  Buffer.from(key.corpusHash, 'hex').copy(header, 64);
  createHash('sha256').update(payload).digest().copy(header, 96);
  mkdirSync(dirname(file), { recursive: true });
  replaceFileSync(file, [header, payload]);
}

/**
 * Read a cache file and check everything: throws CacheError naming the file and what is wrong (not a cache
 * file, other version, truncated, keyed to another corpus or tokenizer, payload checksum mismatch).
 */
export function readTokenCache(file: string, key: CacheKey): TokenArray {
  checkLittleEndian();
  const bad = (what: string): never => {
    throw new CacheError(`token cache ${file} ${what}`, `delete it (or the whole cache directory); it is rebuilt on demand`);
  };
  const buf = readFileSync(file);
  if (buf.length < HEADER_BYTES) return bad(`is truncated (${buf.length} bytes, the header alone is ${HEADER_BYTES})`);
  if (buf.toString('latin1', 0, 8) !== CACHE_MAGIC) return bad(`is not a scaling-lab token cache (magic ${JSON.stringify(buf.toString('latin1', 0, 8))})`);
  const version = buf.readUInt32LE(8);
  if (version !== CACHE_VERSION) return bad(`has format version ${version}; this build reads version ${CACHE_VERSION}`);
  if (buf.readUInt32LE(12) !== HEADER_BYTES) return bad(`has a ${buf.readUInt32LE(12)}-byte header, expected ${HEADER_BYTES}`);
  const bytesPerToken = buf.readUInt32LE(16);
  const vocabSize = buf.readUInt32LE(20);
  const count = Number(buf.readBigUInt64LE(24));
  if (buf.toString('hex', 32, 64) !== key.tokenizerHash) return bad('was written by a different tokenizer');
  if (buf.toString('hex', 64, 96) !== key.corpusHash) return bad('was written for a different corpus or split');
  if (vocabSize !== key.vocabSize) return bad(`has vocabulary ${vocabSize}, expected ${key.vocabSize}`);
  if (bytesPerToken !== (vocabSize <= 65536 ? 2 : 4)) return bad(`has ${bytesPerToken} bytes per token, wrong for vocabulary ${vocabSize}`);
  if (buf.length !== HEADER_BYTES + count * bytesPerToken)
    return bad(`has ${buf.length - HEADER_BYTES} payload bytes, the header says ${count} tokens x ${bytesPerToken}`);
  const payload = buf.subarray(HEADER_BYTES);
  if (!createHash('sha256').update(payload).digest().equals(buf.subarray(96, 128))) return bad('fails its checksum (corrupt)');
  const tokens = bytesPerToken === 2 ? new Uint16Array(count) : new Uint32Array(count);
  new Uint8Array(tokens.buffer).set(payload);
  return tokens;
}

export interface CachedTokens {
  tokens: TokenArray;
  file: string;
  /** True when read from disk, false when built (and written) now. */
  fromCache: boolean;
}

/**
 * The cached tokens for `key`, or build them, write the cache and return them. A file that fails any check
 * is reported through `onNotice` and rebuilt; a cache that cannot be written is reported and skipped.
 */
export function cachedTokens(file: string, key: CacheKey, build: () => TokenArray, onNotice: (msg: string) => void = () => {}): CachedTokens {
  if (existsSync(file)) {
    try {
      return { tokens: readTokenCache(file, key), file, fromCache: true };
    } catch (err) {
      if (!(err instanceof CacheError)) throw err;
      onNotice(`${err.message}; rebuilding it`);
    }
  }
  const tokens = build();
  try {
    writeTokenCache(file, key, tokens);
  } catch (err) {
    onNotice(`could not write token cache ${file} (${(err as Error).message}); continuing without it`);
  }
  return { tokens, file, fromCache: false };
}
