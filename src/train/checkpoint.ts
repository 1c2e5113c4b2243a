// The checkpoint file format: everything a run needs to continue bit for bit (parameters, AdamW
// moments and step, noise-probe EMAs, counters), as versioned binary with a checksum. Storage is store/'s.
import { crc32 } from 'node:zlib';

// Layout (little-endian), after llm.c's model files: magic and version first, then a JSON header that
// names and sizes the tensors, then the float32 data, then a CRC-32 of everything before it.
//   0   8 bytes  magic "SLCKPT\0\0"
//   8   u32      format version
//   12  u32      header length H (bytes of UTF-8 JSON)
//   16  H bytes  header JSON, zero-padded to a multiple of 4
//   ..  f32[]    tensors in header order
//   end u32      CRC-32 of all preceding bytes
const MAGIC = 'SLCKPT\0\0';
export const CHECKPOINT_VERSION = 1;

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
  constructor(message: string, readonly hint: string) {
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
  const out = Buffer.alloc(16 + headerPadded + dataBytes + 4);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(CHECKPOINT_VERSION, 8);
  out.writeUInt32LE(headerBytes.length, 12);
  headerBytes.copy(out, 16);
  let offset = 16 + headerPadded;
  for (const name of names) {
    const t = ckpt.tensors[name];
    out.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), offset);
    offset += t.byteLength;
  }
  out.writeUInt32LE(crc32(out.subarray(0, offset)), offset);
  return out;
}

/** Parse and verify a checkpoint; `source` names it in errors. Tensors are fresh, aligned copies. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hint = 'the checkpoint is unreadable; delete it to restart the run from step 0';
  if (buf.length < 20 || buf.toString('latin1', 0, 8) !== MAGIC) {
    throw new CheckpointError(`${source}: not a scaling-lab checkpoint (bad magic)`, hint);
  }
  const version = buf.readUInt32LE(8);
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(`${source}: checkpoint format version ${version}, expected ${CHECKPOINT_VERSION}`, 'it was written by another scaling-lab version; delete it to restart the run');
  }
  const stored = buf.readUInt32LE(buf.length - 4);
  if (crc32(buf.subarray(0, buf.length - 4)) !== stored) {
    throw new CheckpointError(`${source}: checksum mismatch (truncated or corrupted)`, hint);
  }
  const headerLength = buf.readUInt32LE(12);
  const header = JSON.parse(buf.toString('utf8', 16, 16 + headerLength)) as CheckpointHeader & { tensors: { name: string; length: number }[] };
  let offset = 16 + Math.ceil(headerLength / 4) * 4;
  const tensors: Record<string, Float32Array> = {};
  for (const { name, length } of header.tensors) {
    const t = new Float32Array(length);
    new Uint8Array(t.buffer).set(buf.subarray(offset, offset + 4 * length));
    tensors[name] = t;
    offset += 4 * length;
  }
  if (offset !== buf.length - 4) throw new CheckpointError(`${source}: tensor sizes do not add up to the file size`, hint);
  return { runId: header.runId, step: header.step, state: header.state, tensors };
}
