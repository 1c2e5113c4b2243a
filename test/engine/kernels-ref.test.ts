// The TypeScript reference kernels against float64: each forward against a float64 re-implementation
// written here, each backward against float64 central finite differences of sum(dout * forward64(x)).
// Backward kernels must accumulate, so every gradient buffer starts non-zero and the test subtracts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelsRef as K } from '../../src/engine/kernels-ref.ts';
import { Rng } from '../../src/util/random.ts';
import { assertClose } from '../helpers/assert-close.ts';

// ---- tolerances
// The float64 finite differences use eps 1e-4 on inputs of size ~1: truncation error ~eps^2 * f''' ~1e-8,
// rounding ~1e-16 / 1e-4 = 1e-12, so the numeric gradient is good to ~1e-8. The kernel under test computes
// in float64 but reads float32 inputs (exactly what the float64 path reads) and stores float32 results:
// relative error ~6e-8 per stored value, plus one rounding of each accumulated += (the prefilled buffers).
// 1e-5 relative with a 1e-6 floor leaves room for that and still catches any wrong term (errors of 1e-2+).
const GRAD_TOL = { rtol: 1e-5, atol: 1e-6 };
// Forward outputs are float32 roundings of float64 results: 2^-24 ~ 6e-8 relative, so 1e-6 is loose enough.
const FWD_TOL = { rtol: 1e-6, atol: 1e-7 };
const FD_EPS = 1e-4;

// ---- helpers

function randn(rng: Rng, n: number, std = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal() * std;
  return x;
}

function f64(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x);
}

/** Central differences of the scalar f at x, in float64, one coordinate at a time. */
function fdGrad(f: (x: Float64Array) => number, x0: ArrayLike<number>, eps = FD_EPS): Float64Array {
  const x = f64(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    x[i] = xi + eps;
    const fp = f(x);
    x[i] = xi - eps;
    const fm = f(x);
    x[i] = xi;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Expected after-accumulation values: prefill + gradient, rounded once to float32 as the kernel stores them. */
function accumulated(before: Float32Array, grad: Float64Array): Float32Array {
  const e = new Float32Array(before.length);
  for (let i = 0; i < e.length; i++) e[i] = before[i] + grad[i];
  return e;
}

// ---- float64 forward re-implementations (written independently of the kernels)

function encoder64(wte: Float64Array, wpe: Float64Array, inp: Int32Array, B: number, T: number, C: number): Float64Array {
  const out = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) out[(b * T + t) * C + c] = wte[inp[b * T + t] * C + c] + wpe[t * C + c];
  return out;
}

function layernorm64(inp: Float64Array, w: Float64Array, bias: Float64Array, N: number, C: number): Float64Array {
  const out = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    const row = inp.subarray(n * C, n * C + C);
    const mean = row.reduce((s, v) => s + v, 0) / C;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / C;
    for (let c = 0; c < C; c++) out[n * C + c] = ((row[c] - mean) / Math.sqrt(variance + 1e-5)) * w[c] + bias[c];
  }
  return out;
}

function matmul64(inp: Float64Array, w: Float64Array, bias: Float64Array | null, N: number, C: number, OC: number): Float64Array {
  const out = new Float64Array(N * OC);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < OC; o++) {
      let s = bias ? bias[o] : 0;
      for (let c = 0; c < C; c++) s += inp[n * C + c] * w[o * C + c];
      out[n * OC + o] = s;
    }
  return out;
}

function attention64(inp: Float64Array, B: number, T: number, C: number, NH: number): Float64Array {
  const HS = C / NH;
  const out = new Float64Array(B * T * C);
  const at = (b: number, t: number, part: number, h: number, i: number) => inp[(b * T + t) * 3 * C + part * C + h * HS + i];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < NH; h++)
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let d = 0;
          for (let i = 0; i < HS; i++) d += at(b, t, 0, h, i) * at(b, s, 1, h, i);
          scores.push(d / Math.sqrt(HS));
        }
        const m = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - m));
        const z = e.reduce((x, y) => x + y, 0);
        for (let i = 0; i < HS; i++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) acc += (e[s] / z) * at(b, s, 2, h, i);
          out[(b * T + t) * C + h * HS + i] = acc;
        }
      }
  return out;
}

function gelu64(x: Float64Array): Float64Array {
  return x.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
}

function crossEntropy64(logits: Float64Array, targets: Int32Array, N: number, V: number): Float64Array {
  const losses = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const row = logits.subarray(n * V, n * V + V);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    losses[n] = lse - row[targets[n]];
  }
  return losses;
}

// ---- encoder

test('encoder: forward matches float64; backward matches finite differences and accumulates', () => {
  const rng = new Rng(1);
  const B = 2,
    T = 3,
    C = 4,
    V = 5,
    maxT = 4;
  const inp = Int32Array.from([0, 3, 3, 4, 1, 0]); // repeated ids: their gradients must add up
  const wte = randn(rng, V * C),
    wpe = randn(rng, maxT * C);
  const out = new Float32Array(B * T * C);
  K.encoderForward(out, inp, wte, wpe, B, T, C);
  assertClose('encoder out', out, encoder64(f64(wte), f64(wpe), inp, B, T, C), FWD_TOL);

  const dout = randn(rng, B * T * C);
  const dwte0 = randn(rng, V * C),
    dwpe0 = randn(rng, maxT * C);
  const dwte = dwte0.slice(),
    dwpe = dwpe0.slice();
  K.encoderBackward(dwte, dwpe, dout, inp, B, T, C);
  const gwte = fdGrad((x) => dot(dout, encoder64(x, f64(wpe), inp, B, T, C)), wte);
  const gwpe = fdGrad((x) => dot(dout, encoder64(f64(wte), x, inp, B, T, C)), wpe);
  assertClose('dwte', dwte, accumulated(dwte0, gwte), GRAD_TOL);
  assertClose('dwpe', dwpe, accumulated(dwpe0, gwpe), GRAD_TOL);
});

// ---- layernorm

test('layernorm: forward matches float64; backward matches finite differences and accumulates', () => {
  const rng = new Rng(2);
  const B = 2,
    T = 3,
    C = 8;
  const inp = randn(rng, B * T * C, 2);
  const w = randn(rng, C),
    bias = randn(rng, C);
  const out = new Float32Array(B * T * C),
    mean = new Float32Array(B * T),
    rstd = new Float32Array(B * T);
  K.layernormForward(out, mean, rstd, inp, w, bias, B, T, C);
  assertClose('layernorm out', out, layernorm64(f64(inp), f64(w), f64(bias), B * T, C), { rtol: 1e-5, atol: 1e-6 });

  const dout = randn(rng, B * T * C);
  const dinp0 = randn(rng, B * T * C),
    dw0 = randn(rng, C),
    db0 = randn(rng, C);
  const dinp = dinp0.slice(),
    dw = dw0.slice(),
    db = db0.slice();
  K.layernormBackward(dinp, dw, db, dout, inp, w, mean, rstd, B, T, C);
  const f = (x: Float64Array, ww: Float64Array, bb: Float64Array) => dot(dout, layernorm64(x, ww, bb, B * T, C));
  // mean and rstd are float32 roundings (relative 6e-8), amplified by the 1/sigma in the LN gradient: 1e-5 holds.
  assertClose(
    'ln dinp',
    dinp,
    accumulated(
      dinp0,
      fdGrad((x) => f(x, f64(w), f64(bias)), inp),
    ),
    { rtol: 1e-4, atol: 1e-5 },
  );
  assertClose(
    'ln dweight',
    dw,
    accumulated(
      dw0,
      fdGrad((x) => f(f64(inp), x, f64(bias)), w),
    ),
    { rtol: 1e-4, atol: 1e-5 },
  );
  assertClose(
    'ln dbias',
    db,
    accumulated(
      db0,
      fdGrad((x) => f(f64(inp), f64(w), x), bias),
    ),
    GRAD_TOL,
  );
});

// ---- matmul

for (const withBias of [true, false]) {
  test(`matmul (${withBias ? 'with' : 'no'} bias): forward matches float64; backward matches finite differences`, () => {
    const rng = new Rng(3);
    const B = 2,
      T = 3,
      C = 5,
      OC = 7;
    const inp = randn(rng, B * T * C),
      w = randn(rng, OC * C),
      bias = withBias ? randn(rng, OC) : null;
    const out = new Float32Array(B * T * OC);
    K.matmulForward(out, inp, w, bias, B, T, C, OC);
    assertClose('matmul out', out, matmul64(f64(inp), f64(w), bias && f64(bias), B * T, C, OC), FWD_TOL);

    const dout = randn(rng, B * T * OC);
    const dinp0 = randn(rng, B * T * C),
      dw0 = randn(rng, OC * C),
      db0 = randn(rng, OC);
    const dinp = dinp0.slice(),
      dw = dw0.slice(),
      db = withBias ? db0.slice() : null;
    K.matmulBackward(dinp, dw, db, dout, inp, w, B, T, C, OC);
    const f = (x: Float64Array, ww: Float64Array, bb: Float64Array | null) => dot(dout, matmul64(x, ww, bb, B * T, C, OC));
    const b64 = bias && f64(bias);
    assertClose(
      'matmul dinp',
      dinp,
      accumulated(
        dinp0,
        fdGrad((x) => f(x, f64(w), b64), inp),
      ),
      GRAD_TOL,
    );
    assertClose(
      'matmul dweight',
      dw,
      accumulated(
        dw0,
        fdGrad((x) => f(f64(inp), x, b64), w),
      ),
      GRAD_TOL,
    );
    if (withBias)
      assertClose(
        'matmul dbias',
        db!,
        accumulated(
          db0,
          fdGrad((x) => f(f64(inp), f64(w), x), bias!),
        ),
        GRAD_TOL,
      );
  });
}

// ---- attention

test('attention: forward matches float64 (causal: no look-ahead); backward matches finite differences', () => {
  const rng = new Rng(4);
  const B = 2,
    T = 5,
    C = 8,
    NH = 2;
  const inp = randn(rng, B * T * 3 * C);
  const out = new Float32Array(B * T * C);
  const preatt = new Float32Array(B * NH * T * T),
    att = new Float32Array(B * NH * T * T);
  K.attentionForward(out, preatt, att, inp, B, T, C, NH);
  assertClose('attention out', out, attention64(f64(inp), B, T, C, NH), { rtol: 1e-5, atol: 1e-6 });
  for (let r = 0; r < B * NH * T; r++) {
    const t = r % T;
    let rowSum = 0;
    for (let s = 0; s < T; s++) {
      if (s > t) assert.equal(att[r * T + s], 0, `att row ${r} col ${s} must be masked`);
      rowSum += att[r * T + s];
    }
    assert.ok(Math.abs(rowSum - 1) < 1e-6, `att row ${r} sums to ${rowSum}`);
  }

  const dout = randn(rng, B * T * C);
  const dinp0 = randn(rng, B * T * 3 * C);
  const dinp = dinp0.slice();
  // scratch buffers filled with garbage: the kernel must not read stale values from them
  const dpreatt = randn(rng, B * NH * T * T),
    datt = randn(rng, B * NH * T * T);
  K.attentionBackward(dinp, dpreatt, datt, dout, inp, att, B, T, C, NH);
  const g = fdGrad((x) => dot(dout, attention64(x, B, T, C, NH)), inp);
  // att is a float32 rounding of the softmax; its relative error 6e-8 feeds every gradient term: 1e-4 / 1e-5 holds it.
  assertClose('attention dinp', dinp, accumulated(dinp0, g), { rtol: 1e-4, atol: 1e-5 });
  // the future must not influence the past: the gradient of out[t=0] w.r.t. k, v at t > 0 is zero
  const dinpFirst = new Float32Array(B * T * 3 * C);
  const doutFirst = new Float32Array(B * T * C);
  for (let c = 0; c < C; c++) doutFirst[c] = 1; // only (b=0, t=0)
  K.attentionBackward(dinpFirst, dpreatt, datt, doutFirst, inp, att, B, T, C, NH);
  for (let i = 3 * C; i < T * 3 * C; i++) assert.equal(dinpFirst[i], 0, `causality: dinp[${i}] from out[0,0] must be 0`);
});

// ---- GELU

test('gelu (tanh): forward matches float64; backward matches finite differences, large |x| included', () => {
  const rng = new Rng(5);
  const N = 64;
  const inp = randn(rng, N, 3);
  inp[0] = 12;
  inp[1] = -12;
  inp[2] = 0;
  inp[3] = 40;
  inp[4] = -40; // saturated tails: no NaN from cosh overflow
  const out = new Float32Array(N);
  K.geluForward(out, inp, N);
  assertClose('gelu out', out, gelu64(f64(inp)), FWD_TOL);
  const dout = randn(rng, N);
  const dinp0 = randn(rng, N);
  const dinp = dinp0.slice();
  K.geluBackward(dinp, inp, dout, N);
  assertClose(
    'gelu dinp',
    dinp,
    accumulated(
      dinp0,
      fdGrad((x) => dot(dout, gelu64(x)), inp),
    ),
    GRAD_TOL,
  );
});

// ---- residual

test('residual: forward adds; backward passes dout to both inputs and accumulates', () => {
  const rng = new Rng(6);
  const N = 10;
  const a = randn(rng, N),
    b = randn(rng, N),
    out = new Float32Array(N);
  K.residualForward(out, a, b, N);
  assertClose(
    'residual out',
    out,
    f64(a).map((v, i) => v + b[i]),
    FWD_TOL,
  );
  const dout = randn(rng, N),
    da0 = randn(rng, N),
    db0 = randn(rng, N);
  const da = da0.slice(),
    db = db0.slice();
  K.residualBackward(da, db, dout, N);
  const g = fdGrad(
    (x) =>
      dot(
        dout,
        x.map((v, i) => v + b[i]),
      ),
    a,
  );
  assertClose('residual dinp1', da, accumulated(da0, g), GRAD_TOL);
  assertClose(
    'residual dinp2',
    db,
    accumulated(
      db0,
      fdGrad(
        (x) =>
          dot(
            dout,
            x.map((v, i) => a[i] + v),
          ),
        b,
      ),
    ),
    GRAD_TOL,
  );
});

// ---- softmax + cross-entropy

test('softmax cross-entropy: forward matches float64 (finite for extreme logits); backward matches finite differences', () => {
  const rng = new Rng(7);
  const B = 2,
    T = 3,
    V = 11;
  const logits = randn(rng, B * T * V, 3);
  const targets = Int32Array.from([0, 10, 5, 5, 2, 7]);
  logits[0] = -200; // target prob underflows float32: the loss must stay finite (~200)
  const losses = new Float32Array(B * T),
    probs = new Float32Array(B * T * V);
  K.softmaxCrossEntropyForward(losses, probs, logits, targets, B, T, V);
  assertClose('ce losses', losses, crossEntropy64(f64(logits), targets, B * T, V), FWD_TOL);
  for (let n = 0; n < B * T; n++) {
    const s = probs.subarray(n * V, n * V + V).reduce((x, y) => x + y, 0);
    assert.ok(Math.abs(s - 1) < 1e-6, `probs row ${n} sums to ${s}`);
  }
  const dloss = 1 / (B * T);
  // prefill at the gradient's own scale (~1e-2): a prefill ~1 would swamp the float32 increment
  const dl0 = randn(rng, B * T * V, 0.01);
  const dl = dl0.slice();
  K.softmaxCrossEntropyBackward(dl, probs, targets, dloss, B, T, V);
  const g = fdGrad((x) => dloss * crossEntropy64(x, targets, B * T, V).reduce((s, v) => s + v, 0), logits);
  // values ~1e-2 carry float32 rounding ~1e-9; the FD error is ~1e-9 too: 1e-8 floor, 1e-5 relative
  assertClose('ce dlogits', dl, accumulated(dl0, g), { rtol: 1e-5, atol: 1e-8 });
});

// ---- AdamW, sum of squares, scale

test('adamw: matches a float64 AdamW (Loshchilov & Hutter) over 3 steps, with and without decay', () => {
  const rng = new Rng(8);
  const N = 50;
  for (const wd of [0, 0.1]) {
    const p = randn(rng, N),
      m = new Float32Array(N),
      v = new Float32Array(N);
    const p64 = f64(p),
      m64 = new Float64Array(N),
      v64 = new Float64Array(N);
    const lr = 1e-2,
      b1 = 0.9,
      b2 = 0.95,
      eps = 1e-8;
    for (let t = 1; t <= 3; t++) {
      const g = randn(rng, N);
      K.adamw(p, g, m, v, N, lr, b1, b2, eps, wd, t);
      for (let i = 0; i < N; i++) {
        m64[i] = b1 * m64[i] + (1 - b1) * g[i];
        v64[i] = b2 * v64[i] + (1 - b2) * g[i] * g[i];
        const step = m64[i] / (1 - b1 ** t) / (Math.sqrt(v64[i] / (1 - b2 ** t)) + eps);
        p64[i] = p64[i] - lr * wd * p64[i] - lr * step;
      }
    }
    // float32 storage of p, m, v each step: ~1e-7 relative on values of size ~1
    assertClose(`adamw params (wd ${wd})`, p, p64, { rtol: 1e-5, atol: 1e-6 });
    assertClose(`adamw m (wd ${wd})`, m, m64, { rtol: 1e-5, atol: 1e-6 });
    assertClose(`adamw v (wd ${wd})`, v, v64, { rtol: 1e-5, atol: 1e-6 });
  }
  // first step, no decay: bias correction makes the update lr * g / (|g| + eps) = lr * sign(g)
  const p = Float32Array.from([1, 1]),
    g = Float32Array.from([3, -0.5]);
  K.adamw(p, g, new Float32Array(2), new Float32Array(2), 2, 0.1, 0.9, 0.999, 1e-12, 0, 1);
  assertClose('adamw first step', p, [0.9, 1.1], { rtol: 0, atol: 1e-6 });
});

test('sumSquares accumulates in float64; scale multiplies in place', () => {
  const x = new Float32Array(1 << 20).fill(0.1); // float32 0.1 = 0.100000001490116...
  const expected = (1 << 20) * Math.fround(0.1) ** 2;
  assertClose('sumSquares', K.sumSquares(x, x.length), expected, { rtol: 1e-9, atol: 0 }); // float64 sum of 1M terms: ~1e-12; a float32 sum would be off by ~1e-3
  const y = Float32Array.from([1, -2, 3, 4]);
  K.scale(y, 0.5, 3); // only the first N
  assert.deepEqual(Array.from(y), [0.5, -1, 1.5, 4]);
});
