// The checkpoint format: everything a run needs to continue bit for bit (parameters, AdamW moments and step,
// noise-probe EMAs, counters), as versioned binary. Storing it is store/'s, and so is its integrity: the store frames
// the bytes it writes (file store: checkpoint.bin's header with the step, length and CRC-32; Postgres: the
// checkpoints row's size, chunk count and crc) and refuses bytes that do not match ('corrupt').
import { crc32 } from 'node:zlib';
import type { Kernels } from '../engine/index.ts';

// Layout (little-endian), after llm.c's model files: magic and version first, then a JSON header that
// names and sizes the tensors, then the float32 data.
//   0   8 bytes  magic "SLCKPT\0\0"
//   8   u32      format version
//   12  u32      header length H (bytes of UTF-8 JSON)
//   16  H bytes  header JSON, zero-padded to a multiple of 4
//   ..  f32[]    tensors in header order
// Version 1 (written before 2026-11-29) ended in a u32 CRC-32 of all preceding bytes, a second checksum over what the
// store already checks: version 2 drops it. Version 1 is still read (its CRC still verified), so old runs resume.
const MAGIC = 'SLCKPT\0\0';
export const CHECKPOINT_VERSION = 2;
/** the version with a trailing CRC-32, still read */
const CHECKPOINT_VERSION_CRC = 1;

export interface CheckpointHeader {
  /** the run this belongs to: a checkpoint never resumes another config */
  runId: string;
  /** optimiser steps completed */
  step: number;
  /** any JSON the trainer needs (AdamW t, noise EMA state, wall time, ...) */
  state: Record<string, unknown>;
}

export interface Checkpoint extends CheckpointHeader {
  tensors: Record<string, Float32Array>;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const names = Object.keys(ckpt.tensors);
  const header = JSON.stringify({
    runId: ckpt.runId,
    step: ckpt.step,
    state: ckpt.state,
    tensors: names.map((name) => ({ name, length: ckpt.tensors[name].length })),
  });
  const headerBytes = Buffer.from(header, 'utf8');
  const headerPadded = Math.ceil(headerBytes.length / 4) * 4;
  const dataBytes = names.reduce((n, name) => n + 4 * ckpt.tensors[name].length, 0);
  // every byte is written below (the header's padding with zeros), so no zero-filling pass over the tensors' space
  const out = Buffer.allocUnsafe(16 + headerPadded + dataBytes);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(CHECKPOINT_VERSION, 8);
  out.writeUInt32LE(headerBytes.length, 12);
  headerBytes.copy(out, 16);
  out.fill(0, 16 + headerBytes.length, 16 + headerPadded);
  let offset = 16 + headerPadded;
  for (const name of names) {
    const t = ckpt.tensors[name];
    out.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), offset);
    offset += t.byteLength;
  }
  return out;
}

/**
 * Parse a checkpoint whose bytes the store has verified (a version-1 checkpoint's own CRC-32 is checked as well);
 * `source` names it in errors. Tensors are fresh, aligned copies.
 */
export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hint = 'the checkpoint is unreadable; delete it to restart the run from step 0';
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) {
    throw new CheckpointError(`${source}: not a scaling-lab checkpoint (bad magic)`, hint);
  }
  const version = buf.readUInt32LE(8);
  if (version !== CHECKPOINT_VERSION && version !== CHECKPOINT_VERSION_CRC) {
    throw new CheckpointError(
      `${source}: checkpoint format version ${version}, expected ${CHECKPOINT_VERSION} (or ${CHECKPOINT_VERSION_CRC})`,
      'it was written by another scaling-lab version; delete it to restart the run',
    );
  }
  // where the tensors end: version 1 has its CRC-32 after them
  let end = buf.length;
  if (version === CHECKPOINT_VERSION_CRC) {
    end = buf.length - 4;
    if (end < 16 || crc32(buf.subarray(0, end)) !== buf.readUInt32LE(end)) {
      throw new CheckpointError(`${source}: checksum mismatch (truncated or corrupted)`, hint);
    }
  }
  const headerLength = buf.readUInt32LE(12);
  if (16 + headerLength > end) throw new CheckpointError(`${source}: header length ${headerLength} runs past the end of the file`, hint);
  let header: CheckpointHeader & { tensors: { name: string; length: number }[] };
  try {
    header = JSON.parse(buf.toString('utf8', 16, 16 + headerLength)) as typeof header;
  } catch {
    throw new CheckpointError(`${source}: the header is not valid JSON`, hint);
  }
  const wellFormed =
    typeof header === 'object' &&
    header !== null &&
    typeof header.runId === 'string' &&
    Number.isSafeInteger(header.step) &&
    header.step >= 0 &&
    typeof header.state === 'object' &&
    header.state !== null &&
    Array.isArray(header.tensors) &&
    header.tensors.every((t) => typeof t?.name === 'string' && Number.isSafeInteger(t.length) && t.length >= 0);
  if (!wellFormed) throw new CheckpointError(`${source}: the header lacks runId, step, state or a valid tensor table`, hint);
  let offset = 16 + Math.ceil(headerLength / 4) * 4;
  const tensors: Record<string, Float32Array> = {};
  for (const { name, length } of header.tensors) {
    if (offset + 4 * length > end) throw new CheckpointError(`${source}: tensor '${name}' runs past the end of the file`, hint);
    const t = new Float32Array(length);
    new Uint8Array(t.buffer).set(buf.subarray(offset, offset + 4 * length));
    tensors[name] = t;
    offset += 4 * length;
  }
  if (offset !== end) throw new CheckpointError(`${source}: tensor sizes do not add up to the file size`, hint);
  return { runId: header.runId, step: header.step, state: header.state, tensors };
}

// ---- what a resume checks: the checkpoint is this run's, at the step the store says, with every tensor whole

export interface CheckpointExpectation {
  runId: string;
  /** the step the store filed the checkpoint under */
  step: number;
  /** tensor name -> required length (e.g. params, m, v: the model's parameter count) */
  tensors: Record<string, number>;
  /** state fields and their JSON types (AdamW t: number, noise EMAs: object, ...) */
  state?: Record<string, 'number' | 'object'>;
}

/** Throws CheckpointError, naming `source` and what to do, unless `ckpt` is the one `expect` describes. */
export function verifyCheckpoint(ckpt: Checkpoint, expect: CheckpointExpectation, source: string): void {
  const restart = `delete it to restart run ${expect.runId} from step 0 (its metric rows are recomputed)`;
  if (ckpt.runId !== expect.runId) {
    throw new CheckpointError(
      `${source} belongs to run '${ckpt.runId}', not '${expect.runId}': a checkpoint never resumes another config`,
      `it was copied or the store was edited by hand; ${restart}`,
    );
  }
  if (ckpt.step !== expect.step) {
    throw new CheckpointError(
      `${source} says step ${ckpt.step}, but the store filed it under step ${expect.step}`,
      `the store or the file was edited or damaged; ${restart}`,
    );
  }
  for (const [name, length] of Object.entries(expect.tensors)) {
    const t = ckpt.tensors[name];
    if (t === undefined) {
      throw new CheckpointError(
        `${source} has no '${name}' tensor (it holds: ${Object.keys(ckpt.tensors).join(', ') || 'none'})`,
        `it is incomplete; ${restart}`,
      );
    }
    if (t.length !== length) {
      throw new CheckpointError(
        `${source}: tensor '${name}' has ${t.length} values, expected ${length} for this model`,
        `it was saved from a model of another size; ${restart}`,
      );
    }
  }
  for (const [key, type] of Object.entries(expect.state ?? {})) {
    const value = ckpt.state[key];
    if (typeof value !== type || value === null) {
      throw new CheckpointError(
        `${source}: state '${key}' is ${JSON.stringify(value) ?? 'missing'}, expected ${type === 'object' ? 'an' : 'a'} ${type}`,
        `it is incomplete; ${restart}`,
      );
    }
  }
}

// ---- the kernels that wrote a checkpoint: another backend or instruction set rounds differently

/** Recorded in the checkpoint state. Threads are kept for people: results are bit-identical across thread counts. */
export interface KernelsInfo {
  backend: 'ts' | 'native';
  threads: number;
  /** native only: 'avx2' or 'base' (the portable build) */
  isa?: string;
}

export function kernelsInfo(kernels: Kernels): KernelsInfo {
  const isa = (kernels as { isa?: unknown }).isa; // NativeKernels has it; the reference has none
  return { backend: kernels.backend, threads: kernels.threads, ...(typeof isa === 'string' && { isa }) };
}

const showKernels = (k: KernelsInfo) => (k.isa === undefined ? k.backend : `${k.backend} (${k.isa})`);

/**
 * A line for the user when a resume runs on other kernels than the checkpoint's (backend or instruction set; not
 * threads), or when the checkpoint does not say; undefined when they match. Not an error: moving a run is legitimate.
 */
export function kernelsChange(saved: unknown, now: KernelsInfo): string | undefined {
  const s = saved as Partial<KernelsInfo> | undefined;
  if (typeof s !== 'object' || s === null || typeof s.backend !== 'string') {
    return (
      `the checkpoint does not record which kernels wrote it (an older scaling-lab); if they were not ${showKernels(now)}, ` +
      'the resumed steps will not be bit-identical to an uninterrupted run'
    );
  }
  if (s.backend === now.backend && s.isa === now.isa) return undefined;
  return (
    `the checkpoint was written by ${showKernels(s as KernelsInfo)} kernels and this resume uses ${showKernels(now)}: ` +
    'the resumed steps will not be bit-identical to an uninterrupted run (still a valid run; for an exact repeat, ' +
    `resume with --backend ${s.backend} on a machine that has those kernels, or restart from step 0)`
  );
}
