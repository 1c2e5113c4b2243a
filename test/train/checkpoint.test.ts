// The checkpoint format: exact round trip, damage to its structure detected with a clear error, and the previous
// format (version 1, with its own CRC-32) still read. A flipped bit in the tensors is the store's to catch (its CRC-32:
// test/store/file-store.test.ts, postgres-store.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import {
  encodeCheckpoint,
  decodeCheckpoint,
  verifyCheckpoint,
  kernelsChange,
  kernelsInfo,
  CheckpointError,
  CHECKPOINT_VERSION,
} from '../../src/train/checkpoint.ts';
import { kernelsRef } from '../../src/engine/index.ts';

const ckpt = {
  runId: 'd1-b32-s0-deadbeef',
  step: 17,
  state: { t: 17, noise: { emaGradSq: 0.5, emaTrace: 3.25, count: 17 }, wallMs: 1234.5 },
  tensors: {
    params: Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 1e-3),
    m: new Float32Array(1001).fill(-0),
    v: Float32Array.from({ length: 1001 }, (_, i) => i * 1e-9),
  },
};

test('round trip is bit-exact, header state included', () => {
  const back = decodeCheckpoint(encodeCheckpoint(ckpt), 'mem');
  assert.equal(back.runId, ckpt.runId);
  assert.equal(back.step, 17);
  assert.deepEqual(back.state, ckpt.state);
  for (const name of Object.keys(ckpt.tensors) as (keyof typeof ckpt.tensors)[]) {
    assert.deepEqual(new Uint8Array(back.tensors[name].buffer), new Uint8Array(ckpt.tensors[name].buffer), name);
  }
});

test('subarray views are written from their own offset', () => {
  const slab = Float32Array.from({ length: 10 }, (_, i) => i);
  const back = decodeCheckpoint(encodeCheckpoint({ ...ckpt, tensors: { x: slab.subarray(3, 6) } }), 'mem');
  assert.deepEqual(Array.from(back.tensors.x), [3, 4, 5]);
});

/** The checkpoint as scaling-lab wrote it before 2026-11-29: format version 1, ending in a CRC-32 of all before it. */
function encodeVersion1(c: typeof ckpt): Buffer {
  const body = Buffer.from(encodeCheckpoint(c));
  const out = Buffer.alloc(body.length + 4);
  body.copy(out);
  out.writeUInt32LE(1, 8);
  out.writeUInt32LE(crc32(out.subarray(0, body.length)), body.length);
  return out;
}

test('bad magic, an unknown version and truncation are refused; no second checksum is written', () => {
  const good = Buffer.from(encodeCheckpoint(ckpt));
  assert.equal(CHECKPOINT_VERSION, 2);
  assert.equal(good.readUInt32LE(8), 2);
  const tensorBytes = 3 * 1001 * 4;
  const headerLength = good.readUInt32LE(12);
  assert.equal(good.length, 16 + Math.ceil(headerLength / 4) * 4 + tensorBytes, 'magic, version, header, tensors: nothing after them');
  assert.throws(() => decodeCheckpoint(Buffer.from('hello world, not a checkpoint'), 'a.bin'), /a\.bin: not a scaling-lab checkpoint/);
  const v3 = Buffer.from(good);
  v3.writeUInt32LE(CHECKPOINT_VERSION + 1, 8);
  assert.throws(() => decodeCheckpoint(v3, 'b.bin'), /version 3, expected 2 \(or 1\)/);
  assert.throws(() => decodeCheckpoint(good.subarray(0, good.length - 100), 'c.bin'), /tensor 'v' runs past the end/);
  assert.throws(() => decodeCheckpoint(Buffer.concat([good, Buffer.alloc(4)]), 'd.bin'), /tensor sizes do not add up/);
});

test('a version-1 checkpoint (the previous format) still reads, and its own CRC-32 is still checked', () => {
  const old = encodeVersion1(ckpt);
  const back = decodeCheckpoint(old, 'old.bin');
  assert.equal(back.step, 17);
  assert.deepEqual(back.state, ckpt.state);
  for (const name of Object.keys(ckpt.tensors) as (keyof typeof ckpt.tensors)[]) {
    assert.deepEqual(new Uint8Array(back.tensors[name].buffer), new Uint8Array(ckpt.tensors[name].buffer), name);
  }
  assert.throws(() => decodeCheckpoint(old.subarray(0, old.length - 100), 'c.bin'), /c\.bin: checksum mismatch/);
  const flipped = Buffer.from(old);
  flipped[flipped.length - 50] ^= 1;
  assert.throws(() => decodeCheckpoint(flipped, 'd.bin'), /d\.bin: checksum mismatch/);
});

/** A checkpoint with `header` as its JSON header and no tensor data. */
function withHeader(header: string): Buffer {
  const json = Buffer.from(header, 'utf8');
  const padded = Math.ceil(json.length / 4) * 4;
  const out = Buffer.alloc(16 + padded);
  out.write('SLCKPT\0\0', 0, 'latin1');
  out.writeUInt32LE(CHECKPOINT_VERSION, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, 16);
  return out;
}

test('a header that is not JSON, lacks fields, or sizes tensors past the end is a CheckpointError, not a TypeError', () => {
  const refused = (header: string, message: RegExp) =>
    assert.throws(
      () => decodeCheckpoint(withHeader(header), 'h.bin'),
      (err: unknown) => err instanceof CheckpointError && message.test(err.message) && /delete it/.test(err.hint),
    );
  refused('{"runId": oops', /h\.bin: the header is not valid JSON/);
  refused('{"runId": "r", "step": 1, "state": {}}', /lacks runId, step, state or a valid tensor table/);
  refused('{"runId": "r", "step": -1, "state": {}, "tensors": []}', /lacks runId/);
  refused('{"runId": "r", "step": 1, "state": {}, "tensors": [{"name": "params", "length": 1000000}]}', /tensor 'params' runs past the end/);
  assert.equal(decodeCheckpoint(withHeader('{"runId": "r", "step": 1, "state": {}, "tensors": []}'), 'h.bin').runId, 'r');
});

test('verifyCheckpoint refuses another run, another step, a missing or mis-sized tensor and missing state', () => {
  const expect = { runId: ckpt.runId, step: 17, tensors: { params: 1001, m: 1001, v: 1001 }, state: { t: 'number', noise: 'object' } as const };
  const refused = (c: typeof ckpt | Record<string, unknown>, e: typeof expect, message: RegExp) =>
    assert.throws(
      () => verifyCheckpoint(c as typeof ckpt, e, 'src'),
      (err: unknown) => err instanceof CheckpointError && message.test(err.message) && /restart run \S+ from step 0/.test(err.hint),
    );
  verifyCheckpoint(ckpt, expect, 'src');
  refused(ckpt, { ...expect, runId: 'd2-b32-s0-cafe' }, /src belongs to run 'd1-b32-s0-deadbeef', not 'd2-b32-s0-cafe'/);
  refused(ckpt, { ...expect, step: 18 }, /src says step 17, but the store filed it under step 18/);
  refused({ ...ckpt, tensors: { params: ckpt.tensors.params, v: ckpt.tensors.v } }, expect, /src has no 'm' tensor \(it holds: params, v\)/);
  refused(ckpt, { ...expect, tensors: { params: 1002, m: 1001, v: 1001 } }, /tensor 'params' has 1001 values, expected 1002/);
  refused({ ...ckpt, state: { ...ckpt.state, noise: null } }, expect, /state 'noise' is null, expected an object/);
});

test('kernelsChange: another backend or instruction set is worth a notice; another thread count is not', () => {
  assert.deepEqual(kernelsInfo(kernelsRef), { backend: 'ts', threads: 1 });
  const avx2 = { backend: 'native', threads: 2, isa: 'avx2' } as const;
  assert.equal(kernelsChange(avx2, { ...avx2, threads: 1 }), undefined, 'results are bit-identical across thread counts');
  assert.equal(kernelsChange({ backend: 'ts', threads: 1 }, { backend: 'ts', threads: 1 }), undefined);
  assert.match(
    kernelsChange(avx2, { ...avx2, isa: 'base' })!,
    /written by native \(avx2\) kernels and this resume uses native \(base\): the resumed steps will not be bit-identical/,
  );
  assert.match(kernelsChange(avx2, { backend: 'ts', threads: 1 })!, /this resume uses ts: .*not be bit-identical.*--backend native/);
  assert.match(kernelsChange(undefined, avx2)!, /does not record which kernels.*not native \(avx2\)/);
});
