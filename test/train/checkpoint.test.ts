// The checkpoint format: exact round trip, and every kind of damage detected with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCheckpoint, decodeCheckpoint, CHECKPOINT_VERSION } from '../../src/train/checkpoint.ts';

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

test('bad magic, wrong version, truncation and a flipped bit are all refused', () => {
  const good = encodeCheckpoint(ckpt);
  assert.throws(() => decodeCheckpoint(Buffer.from('hello world, not a checkpoint'), 'a.bin'), /a\.bin: not a scaling-lab checkpoint/);
  const v2 = Buffer.from(good);
  v2.writeUInt32LE(CHECKPOINT_VERSION + 1, 8);
  assert.throws(() => decodeCheckpoint(v2, 'b.bin'), /version 2, expected 1/);
  assert.throws(() => decodeCheckpoint(good.subarray(0, good.length - 100), 'c.bin'), /checksum mismatch/);
  const flipped = Buffer.from(good);
  flipped[flipped.length - 50] ^= 1;
  assert.throws(() => decodeCheckpoint(flipped, 'd.bin'), /checksum mismatch/);
});
