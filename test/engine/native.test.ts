// The native C kernels against the TypeScript reference (kernels-ref.ts), kernel by kernel, on random inputs
// of awkward sizes; plus accumulation, subarray views, bit-identical repeats and argument checks.
// Skipped with the reason when the addon is not built; the reference itself is tested in kernels-ref.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelsRef } from '../../src/engine/kernels-ref.ts';
import type { Kernels } from '../../src/engine/kernels.ts';
import { createNativeKernels, nativeStatus, type NativeKernels } from '../../src/engine/native.ts';
import { loadKernels } from '../../src/engine/backend.ts';
import { Rng } from '../../src/util/random.ts';
import { assertClose, type Tolerance } from '../helpers/assert-close.ts';
import { missing } from '../helpers/require.ts';

// ---- tolerances (the reference sums in float64, the C kernels in float32 with FMA and other orders)
// Elementwise maps (residual, scale, encoder, dlogits): one or two float32 roundings on either side.
const EXACTISH: Tolerance = { rtol: 1e-6, atol: 1e-7 };
// Dot products of length K ~ 300 over values ~1: float32 accumulation error grows ~sqrt(K) * 2^-24 * sum|a*b|,
// ~1e-5 absolute on outputs of size ~10; the GEMM also splits k into 256-blocks.
const GEMM_TOL: Tolerance = { rtol: 2e-5, atol: 2e-5 };
// LayerNorm: float32 mean and variance over C, then a division by the standard deviation.
const LN_TOL: Tolerance = { rtol: 1e-5, atol: 1e-5 };
// Attention: two chained float32 GEMMs around a softmax whose exp is a polynomial (~2 ulp).
const ATTN_TOL: Tolerance = { rtol: 5e-5, atol: 2e-5 };
// GELU and softmax use our own vector exp/tanh (~2 ulp relative; tanh near 0 good to ~1e-7 absolute).
const TRANSC_TOL: Tolerance = { rtol: 1e-5, atol: 1e-6 };
// AdamW in float32 vs float64: m, v exact-ish; the update divides by sqrt(vhat) + eps, ~1e-6 relative of lr.
const ADAMW_TOL: Tolerance = { rtol: 1e-5, atol: 1e-7 };

const status = nativeStatus();
const SKIP = status.available ? undefined : `native addon not built: ${status.reason}`;

// Every test runs on each build this CPU can run: the AVX2/FMA one and the portable one.
const ISAS: ('avx2' | 'base')[] = status.available ? (status.isa === 'avx2' ? ['avx2', 'base'] : ['base']) : [];
let isa: 'avx2' | 'base' = 'base';

function native(threads = 2): NativeKernels {
  return createNativeKernels(threads, { isa });
}

function eachIsa(name: string, body: () => void): void {
  if (SKIP) {
    test(name, (t) => missing(t, 'native', SKIP));
    return;
  }
  for (const which of ISAS) {
    test(`${name} [${which}]`, () => {
      isa = which;
      body();
    });
  }
}

// ---- random inputs and running both implementations

type Arg = Float32Array | Int32Array | number | null;

function randn(rng: Rng, n: number, std = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal() * std;
  return x;
}

function ints(rng: Rng, n: number, below: number): Int32Array {
  const x = new Int32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.int(below);
  return x;
}

const PAD = 5; // floats before and after each view: odd byte offsets of the data, and a guard against overruns
const SENTINEL = -12345; // an integer, so Int32Array views hold it too

// A copy of x living inside a larger buffer at an unaligned offset, to exercise subarray views.
function asView<A extends Float32Array | Int32Array>(x: A): A {
  const Ctor = x.constructor as new (n: number) => A;
  const big = new Ctor(x.length + 2 * PAD);
  big.fill(SENTINEL as never);
  big.set(x as never, PAD);
  return big.subarray(PAD, PAD + x.length) as A;
}

function guardIntact(label: string, x: Float32Array | Int32Array): void {
  const whole = new (x.constructor as Float32ArrayConstructor)(x.buffer, 0, x.length + 2 * PAD);
  for (let i = 0; i < PAD; i++) {
    assert.equal(whole[i], SENTINEL, `${label}: wrote before the view`);
    assert.equal(whole[PAD + x.length + i], SENTINEL, `${label}: wrote past the view`);
  }
}

function clone(args: Arg[], views: boolean): Arg[] {
  return args.map((a) => (a === null || typeof a === 'number' ? a : views ? asView(a) : a.slice()));
}

/** Runs `call` on the reference and on the native kernels (inputs as unaligned subarray views); returns both arg lists. */
function runBoth(k: Kernels, args: Arg[], call: (k: Kernels, a: Arg[]) => unknown): { ref: Arg[]; nat: Arg[]; refOut: unknown; natOut: unknown } {
  const ref = clone(args, false);
  const nat = clone(args, true);
  const refOut = call(kernelsRef, ref);
  const natOut = call(k, nat);
  nat.forEach((a, i) => {
    if (a instanceof Float32Array || a instanceof Int32Array) guardIntact(`arg ${i}`, a);
  });
  return { ref, nat, refOut, natOut };
}

function expectClose(label: string, r: { ref: Arg[]; nat: Arg[] }, indices: number[], tol: Tolerance): void {
  for (const i of indices) assertClose(`${label} arg ${i}`, r.nat[i] as Float32Array, r.ref[i] as Float32Array, tol);
}

const f = (a: Arg): Float32Array => a as Float32Array;
const n32 = (a: Arg): Int32Array => a as Int32Array;
const num = (a: Arg): number => a as number;

// shapes: small and odd; B=1,T=1; and ones that cross the GEMM blocks (MC 96, NC 256, KC 256) and chunk sizes
const SHAPES = [
  { B: 2, T: 7, C: 37, OC: 53 },
  { B: 1, T: 1, C: 5, OC: 3 },
  { B: 2, T: 67, C: 300, OC: 270 },
];

// ---- tests

eachIsa('native: loadKernels chooses native when built, ts on request', () => {
  assert.equal(loadKernels({ backend: 'native', threads: 2 }).backend, 'native');
  assert.equal(loadKernels({ backend: 'native', threads: 3 }).threads, 3);
  assert.equal(loadKernels({ backend: 'ts' }).backend, 'ts');
  assert.equal(loadKernels({ backend: 'auto' }).backend, 'native');
  assert.throws(() => loadKernels({ backend: 'native', threads: 0 }), /threads must be an integer/);
});

eachIsa('native: matmul forward and backward (with and without bias) match the reference', () => {
  const k = native();
  const rng = new Rng(1);
  for (const { B, T, C, OC } of SHAPES) {
    for (const withBias of [true, false]) {
      const label = `B${B} T${T} C${C} OC${OC} bias ${withBias}`;
      const inp = randn(rng, B * T * C),
        w = randn(rng, OC * C),
        bias = withBias ? randn(rng, OC) : null;
      const fwd = runBoth(k, [randn(rng, B * T * OC), inp, w, bias], (kk, a) =>
        kk.matmulForward(f(a[0]), f(a[1]), f(a[2]), a[3] as Float32Array | null, B, T, C, OC),
      );
      expectClose(`matmulForward ${label}`, fwd, [0], GEMM_TOL);
      // gradients start non-zero: backward kernels accumulate
      const bwd = runBoth(k, [randn(rng, B * T * C), randn(rng, OC * C), withBias ? randn(rng, OC) : null, randn(rng, B * T * OC), inp, w], (kk, a) =>
        kk.matmulBackward(f(a[0]), f(a[1]), a[2] as Float32Array | null, f(a[3]), f(a[4]), f(a[5]), B, T, C, OC),
      );
      expectClose(`matmulBackward ${label}`, bwd, withBias ? [0, 1, 2] : [0, 1], GEMM_TOL);
    }
  }
});

eachIsa('native: raw GEMM in all three layouts, k = 0 and blocks crossed', () => {
  const k = native(3);
  const rng = new Rng(2);
  for (const [m, n, kk] of [
    [1, 1, 1],
    [100, 270, 300],
    [7, 17, 0],
    [13, 300, 513],
  ]) {
    // C (m,n) += A (m,k) @ B (k,n) in float64, for the three stride patterns the model uses
    for (const [aT, bT] of [
      [false, true],
      [false, false],
      [true, false],
    ]) {
      const a = randn(rng, m * kk),
        b = randn(rng, kk * n),
        c = randn(rng, m * n);
      const ars = aT ? 1 : kk,
        acs = aT ? m : 1,
        brs = bT ? 1 : n,
        bcs = bT ? kk : 1;
      const want = Float64Array.from(c);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < kk; p++) s += a[i * ars + p * acs] * b[p * brs + j * bcs];
          want[i * n + j] += s;
        }
      const got = asView(c);
      k.gemm(got, n, asView(a), ars, acs, asView(b), brs, bcs, m, n, kk);
      guardIntact('gemm c', got);
      assertClose(`gemm m${m} n${n} k${kk} aT ${aT} bT ${bT}`, got, want, GEMM_TOL);
    }
  }
});

eachIsa('native: attention forward and backward match the reference', () => {
  const k = native();
  const rng = new Rng(3);
  for (const { B, T, C, NH } of [
    { B: 2, T: 7, C: 36, NH: 3 },
    { B: 1, T: 1, C: 8, NH: 2 },
    { B: 2, T: 67, C: 96, NH: 3 },
    { B: 1, T: 130, C: 128, NH: 2 },
  ]) {
    const label = `B${B} T${T} C${C} NH${NH}`;
    const inp = randn(rng, B * T * 3 * C);
    const NT = B * NH * T * T;
    const fwd = runBoth(k, [randn(rng, B * T * C), randn(rng, NT), randn(rng, NT), inp], (kk, a) =>
      kk.attentionForward(f(a[0]), f(a[1]), f(a[2]), f(a[3]), B, T, C, NH),
    );
    expectClose(`attentionForward ${label}`, fwd, [0, 1, 2], ATTN_TOL);
    const att = f(fwd.ref[2]);
    const bwd = runBoth(k, [randn(rng, B * T * 3 * C), randn(rng, NT), randn(rng, NT), randn(rng, B * T * C), inp, att], (kk, a) =>
      kk.attentionBackward(f(a[0]), f(a[1]), f(a[2]), f(a[3]), f(a[4]), f(a[5]), B, T, C, NH),
    );
    expectClose(`attentionBackward ${label}`, bwd, [0], ATTN_TOL);
  }
});

eachIsa('native: layernorm, encoder, residual match the reference', () => {
  const k = native();
  const rng = new Rng(4);
  for (const { B, T, C } of SHAPES) {
    const label = `B${B} T${T} C${C}`;
    const N = B * T * C;
    const inp = randn(rng, N, 2),
      w = randn(rng, C),
      bias = randn(rng, C);
    const fwd = runBoth(k, [randn(rng, N), randn(rng, B * T), randn(rng, B * T), inp, w, bias], (kk, a) =>
      kk.layernormForward(f(a[0]), f(a[1]), f(a[2]), f(a[3]), f(a[4]), f(a[5]), B, T, C),
    );
    expectClose(`layernormForward ${label}`, fwd, [0, 1, 2], LN_TOL);
    const bwd = runBoth(k, [randn(rng, N), randn(rng, C), randn(rng, C), randn(rng, N), inp, w, fwd.ref[1], fwd.ref[2]], (kk, a) =>
      kk.layernormBackward(f(a[0]), f(a[1]), f(a[2]), f(a[3]), f(a[4]), f(a[5]), f(a[6]), f(a[7]), B, T, C),
    );
    expectClose(`layernormBackward ${label}`, bwd, [0, 1, 2], LN_TOL);

    const V = 11;
    const tok = ints(rng, B * T, V);
    tok[0] = V - 1; // the last row of wte is reachable
    const enc = runBoth(k, [randn(rng, N), tok, randn(rng, V * C), randn(rng, T * C)], (kk, a) =>
      kk.encoderForward(f(a[0]), n32(a[1]), f(a[2]), f(a[3]), B, T, C),
    );
    expectClose(`encoderForward ${label}`, enc, [0], EXACTISH);
    const encB = runBoth(k, [randn(rng, V * C), randn(rng, T * C), randn(rng, N), tok], (kk, a) =>
      kk.encoderBackward(f(a[0]), f(a[1]), f(a[2]), n32(a[3]), B, T, C),
    );
    // token collisions: B*T additions into few rows, float32 sums of up to ~134 terms of size ~1
    expectClose(`encoderBackward ${label}`, encB, [0, 1], LN_TOL);

    const res = runBoth(k, [randn(rng, N), randn(rng, N), randn(rng, N), N], (kk, a) => kk.residualForward(f(a[0]), f(a[1]), f(a[2]), num(a[3])));
    expectClose(`residualForward ${label}`, res, [0], EXACTISH);
    const resB = runBoth(k, [randn(rng, N), randn(rng, N), randn(rng, N), N], (kk, a) => kk.residualBackward(f(a[0]), f(a[1]), f(a[2]), num(a[3])));
    expectClose(`residualBackward ${label}`, resB, [0, 1], EXACTISH);
  }
});

eachIsa('native: GELU, softmax cross-entropy, AdamW, sumSquares, scale match the reference', () => {
  const k = native();
  const rng = new Rng(5);
  for (const N of [1, 13, 2 * 16384 + 13]) {
    const x = randn(rng, N, 3);
    x[0] = 12; // saturated tanh
    const g = runBoth(k, [randn(rng, N), x, N], (kk, a) => kk.geluForward(f(a[0]), f(a[1]), num(a[2])));
    expectClose(`geluForward N${N}`, g, [0], TRANSC_TOL);
    const gb = runBoth(k, [randn(rng, N), x, randn(rng, N), N], (kk, a) => kk.geluBackward(f(a[0]), f(a[1]), f(a[2]), num(a[3])));
    expectClose(`geluBackward N${N}`, gb, [0], TRANSC_TOL);

    const p = randn(rng, N),
      grad = randn(rng, N),
      m = randn(rng, N, 0.1),
      v = Float32Array.from(randn(rng, N, 0.1), (y) => y * y);
    for (const t of [1, 7]) {
      const ad = runBoth(k, [p, grad, m, v, N, 1e-3, 0.9, 0.95, 1e-8, 0.1], (kk, a) =>
        kk.adamw(f(a[0]), f(a[1]), f(a[2]), f(a[3]), num(a[4]), num(a[5]), num(a[6]), num(a[7]), num(a[8]), num(a[9]), t),
      );
      expectClose(`adamw N${N} t${t}`, ad, [0, 2, 3], ADAMW_TOL);
    }
    const sc = runBoth(k, [randn(rng, N), 0.37, N], (kk, a) => kk.scale(f(a[0]), num(a[1]), num(a[2])));
    expectClose(`scale N${N}`, sc, [0], EXACTISH);
  }
  for (const N of [0, 1, 9, 70 * 16384 + 5]) {
    const x = randn(rng, N);
    const r = runBoth(k, [x, N], (kk, a) => kk.sumSquares(f(a[0]), num(a[1])));
    // float64 sums of float32 squares in another order: relative 1e-12 is generous
    assertClose(`sumSquares N${N}`, r.natOut as number, r.refOut as number, { rtol: 1e-12, atol: 0 });
  }
  for (const { B, T, V } of [
    { B: 2, T: 7, V: 37 },
    { B: 1, T: 1, V: 1 },
    { B: 3, T: 5, V: 1000 },
  ]) {
    const logits = randn(rng, B * T * V, 4);
    const targets = ints(rng, B * T, V);
    const sx = runBoth(k, [randn(rng, B * T), randn(rng, B * T * V), logits, targets], (kk, a) =>
      kk.softmaxCrossEntropyForward(f(a[0]), f(a[1]), f(a[2]), n32(a[3]), B, T, V),
    );
    expectClose(`softmaxCrossEntropyForward B${B} T${T} V${V}`, sx, [0, 1], TRANSC_TOL);
    const sb = runBoth(k, [randn(rng, B * T * V), sx.ref[1], targets, 1 / (B * T)], (kk, a) =>
      kk.softmaxCrossEntropyBackward(f(a[0]), f(a[1]), n32(a[2]), num(a[3]), B, T, V),
    );
    expectClose(`softmaxCrossEntropyBackward B${B} T${T} V${V}`, sb, [0], EXACTISH);
  }
});

eachIsa('native: bit-identical across repeats and across thread counts', () => {
  const rng = new Rng(6);
  const B = 3,
    T = 45,
    C = 96,
    NH = 3,
    OC = 130,
    V = 257;
  const inp = randn(rng, B * T * C),
    w = randn(rng, OC * C),
    dout = randn(rng, B * T * OC),
    qkv = randn(rng, B * T * 3 * C);
  const datt = randn(rng, B * T * C),
    logits = randn(rng, B * T * V),
    tok = ints(rng, B * T, V),
    big = randn(rng, 3 * 16384 + 7);
  const outputs = (k: Kernels): Float32Array[] => {
    const y = new Float32Array(B * T * OC),
      dinp = new Float32Array(B * T * C),
      dw = new Float32Array(OC * C),
      db = new Float32Array(OC);
    k.matmulForward(y, inp, w, db, B, T, C, OC);
    k.matmulBackward(dinp, dw, db, dout, inp, w, B, T, C, OC);
    const o = new Float32Array(B * T * C),
      pre = new Float32Array(B * NH * T * T),
      att = new Float32Array(B * NH * T * T);
    k.attentionForward(o, pre, att, qkv, B, T, C, NH);
    const dq = new Float32Array(B * T * 3 * C);
    k.attentionBackward(dq, pre.slice(), att.slice().fill(0), datt, qkv, att, B, T, C, NH);
    const ln = new Float32Array(B * T * C),
      mean = new Float32Array(B * T),
      rstd = new Float32Array(B * T);
    const dln = new Float32Array(B * T * C),
      dlw = new Float32Array(C),
      dlb = new Float32Array(C);
    k.layernormForward(ln, mean, rstd, inp, w.subarray(0, C), w.subarray(C, 2 * C), B, T, C);
    k.layernormBackward(dln, dlw, dlb, datt, inp, w.subarray(0, C), mean, rstd, B, T, C);
    const losses = new Float32Array(B * T),
      probs = new Float32Array(B * T * V);
    k.softmaxCrossEntropyForward(losses, probs, logits, tok, B, T, V);
    const ss = new Float32Array([k.sumSquares(big, big.length)]);
    return [y, dinp, dw, db, o, att, dq, ln, dln, dlw, dlb, losses, probs, ss];
  };
  const bits = (xs: Float32Array[]): Buffer[] => xs.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const first = bits(outputs(native(2)));
  const again = bits(outputs(native(2)));
  const one = bits(outputs(native(1)));
  const three = bits(outputs(native(3)));
  first.forEach((b, i) => {
    assert.ok(b.equals(again[i]), `output ${i} differs between two runs with 2 threads`);
    assert.ok(b.equals(one[i]), `output ${i} differs between 1 and 2 threads`);
    assert.ok(b.equals(three[i]), `output ${i} differs between 3 and 2 threads`);
  });
});

eachIsa('native: bad arguments are errors, not memory corruption', () => {
  const k = native();
  const small = new Float32Array(10);
  assert.throws(() => k.matmulForward(small, small, small, null, 2, 3, 4, 5), /has 10 elements, needs at least/);
  assert.throws(() => k.geluForward(small, new Float64Array(10) as unknown as Float32Array, 10), /must be a Float32Array/);
  assert.throws(() => k.residualForward(small, small, small, 2.5), /must be an integer/);
  assert.throws(() => k.attentionForward(small, small, small, small, 1, 1, 3, 2), /divisible by NH/);
  const tok = new Int32Array([0, 3]);
  assert.throws(() => k.softmaxCrossEntropyForward(new Float32Array(2), new Float32Array(6), new Float32Array(6), tok, 1, 2, 3), /outside \[0, 3\)/);
  assert.throws(() => k.encoderForward(new Float32Array(8), tok, new Float32Array(12), new Float32Array(8), 1, 2, 4), /outside \[0, 3\)/);
});
