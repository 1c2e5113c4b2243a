// Reader for the PyTorch golden file written by test/golden/make_golden.py (layout in that script's
// docstring): checks magic and version first and says what it expected and what came.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const GOLDEN_MAGIC = 20260417;
export const GOLDEN_VERSION = 1;
export const GOLDEN_PATH = fileURLToPath(new URL('./gpt2-tiny.bin', import.meta.url));

export class GoldenFormatError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'GoldenFormatError';
    this.hint = hint;
  }
}

export interface Golden {
  config: { nLayer: number; dModel: number; nHead: number; vocab: number; context: number };
  B: number;
  T: number;
  steps: number;
  hyper: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; clip: number };
  params: Float32Array;
  inputs: Int32Array;
  targets: Int32Array;
  logits: Float32Array;
  loss: number;
  grads: Float32Array;
  stepLosses: Float32Array;
  stepGradNorms: Float32Array;
}

const REGENERATE = 'regenerate it with `python3 test/golden/make_golden.py` (needs `apt-get install python3-torch`)';

export function readGoldenFile(path: string = GOLDEN_PATH): Golden {
  return parseGolden(readFileSync(path), path);
}

export function parseGolden(buf: Uint8Array, source = 'golden buffer'): Golden {
  const HEADER = 64 * 4 + 16 * 4;
  if (buf.byteLength < HEADER) {
    throw new GoldenFormatError(`${source}: ${buf.byteLength} bytes, expected at least a ${HEADER}-byte header`, `the file is truncated; ${REGENERATE}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const int = (i: number) => view.getInt32(i * 4, true);
  if (int(0) !== GOLDEN_MAGIC) {
    throw new GoldenFormatError(`${source}: bad magic number, expected ${GOLDEN_MAGIC}, got ${int(0)}`, `this is not a scaling-lab golden file; ${REGENERATE}`);
  }
  if (int(1) !== GOLDEN_VERSION) {
    throw new GoldenFormatError(
      `${source}: golden file version ${int(1)}, expected version ${GOLDEN_VERSION}`,
      `the file and the reader disagree on the layout; ${REGENERATE}, or update read-golden.ts with the script`,
    );
  }
  const [L, C, NH, V, maxT, B, T, S, P] = [2, 3, 4, 5, 6, 7, 8, 9, 10].map(int);
  const float = (i: number) => view.getFloat32(64 * 4 + i * 4, true);
  const hyper = { lr: float(0), beta1: float(1), beta2: float(2), eps: float(3), weightDecay: float(4), clip: float(5) };
  const BT = B * T;
  const expected = HEADER + 4 * (P + BT + BT + BT * V + 1 + P + S + S);
  if (buf.byteLength !== expected) {
    throw new GoldenFormatError(`${source}: ${buf.byteLength} bytes, expected ${expected} for the sizes in its header`, `the file is truncated or corrupt; ${REGENERATE}`);
  }
  // copy out (the Buffer's offset need not be 4-byte aligned)
  let off = HEADER;
  const f32 = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = view.getFloat32(off + 4 * i, true);
    off += 4 * n;
    return a;
  };
  const i32 = (n: number) => {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = view.getInt32(off + 4 * i, true);
    off += 4 * n;
    return a;
  };
  const params = f32(P);
  const inputs = i32(BT);
  const targets = i32(BT);
  const logits = f32(BT * V);
  const loss = f32(1)[0];
  const grads = f32(P);
  const stepLosses = f32(S);
  const stepGradNorms = f32(S);
  return {
    config: { nLayer: L, dModel: C, nHead: NH, vocab: V, context: maxT },
    B, T, steps: S, hyper, params, inputs, targets, logits, loss, grads, stepLosses, stepGradNorms,
  };
}
