// The GPT model's behaviour beyond the PyTorch golden: initialisation, determinism, memorisation, gradient
// accumulation and per-micro-batch norms, clipping, checkpoint state round-trips, buffer reuse, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT, AdamW, trainStep, kernelsRef, Rng, InputError, StateError, type GPTConfig } from '../../src/engine/index.ts';
import { engineBackends } from './backends.ts';
import { assertClose } from '../helpers/assert-close.ts';
import { missing } from '../helpers/require.ts';

const TINY: GPTConfig = { nLayer: 2, dModel: 32, nHead: 2, vocab: 16, context: 16 };

function randomTokens(seed: number, n: number, V: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => rng.int(V));
}

function batch(seed: number, B: number, T: number, V: number) {
  return { inputs: randomTokens(seed, B * T, V), targets: randomTokens(seed + 1000, B * T, V) };
}

function std(x: Float32Array): number {
  let s = 0,
    s2 = 0;
  for (const v of x) {
    s += v;
    s2 += v * v;
  }
  const m = s / x.length;
  return Math.sqrt(s2 / x.length - m * m);
}

// ---- initialisation

test('init: N(0, 0.02) matrices and embeddings, 0.02/sqrt(2L) residual projections, zero biases, unit LN gains', () => {
  const gpt = new GPT({ nLayer: 4, dModel: 64, nHead: 2, vocab: 128, context: 32 }, kernelsRef, { seed: 3, maxMicroBatch: 1 });
  // sample std of n normals has relative sd 1/sqrt(2n); n >= 8k here, so 5% is > 6 sigma
  for (const name of ['wte', 'wpe', 'qkvw', 'fcw'] as const) assertClose(`std ${name}`, std(gpt.p[name]), 0.02, { rtol: 0.05, atol: 0 });
  for (const name of ['attprojw', 'fcprojw'] as const) assertClose(`std ${name}`, std(gpt.p[name]), 0.02 / Math.sqrt(8), { rtol: 0.05, atol: 0 });
  for (const name of ['ln1b', 'ln2b', 'lnfb', 'qkvb', 'attprojb', 'fcb', 'fcprojb'] as const)
    assert.ok(
      gpt.p[name].every((v) => v === 0),
      `${name} zero`,
    );
  for (const name of ['ln1w', 'ln2w', 'lnfw'] as const)
    assert.ok(
      gpt.p[name].every((v) => v === 1),
      `${name} one`,
    );
});

test('initial loss of a fresh model is about ln(V) (near-uniform predictions)', () => {
  const gpt = new GPT(TINY, kernelsRef, { seed: 0, maxMicroBatch: 4 });
  const { inputs, targets } = batch(1, 4, 16, TINY.vocab);
  assertClose('initial loss', gpt.forward(inputs, targets, 4, 16), Math.log(TINY.vocab), { rtol: 0.02, atol: 0 });
});

// ---- on every backend: determinism, memorisation, accumulation, checkpoint round-trip

for (const { name, kernels: k, skip } of engineBackends()) {
  test(`[${name}] same seed: bit-identical parameters and losses over 5 steps; another seed differs`, (t) => {
    if (k === null) return missing(t, 'native', skip!);
    const kernels = k;
    const run = (seed: number) => {
      const gpt = new GPT(TINY, kernels, { seed, maxMicroBatch: 2 });
      const init = gpt.params.slice();
      const opt = new AdamW(gpt);
      const losses: number[] = [];
      for (let s = 0; s < 5; s++) losses.push(trainStep(gpt, opt, [batch(s, 2, 16, 16), batch(s + 50, 2, 16, 16)], 2, 16, { lr: 1e-3, clip: 1 }).loss);
      return { init, losses, final: gpt.params.slice() };
    };
    const a = run(7),
      b = run(7),
      c = run(8);
    assert.deepEqual(a.init, b.init);
    assert.deepEqual(a.losses, b.losses); // exact equality of doubles
    assert.deepEqual(a.final, b.final);
    assert.notDeepEqual(a.init, c.init);
  });

  test(`[${name}] memorisation: a tiny model drives the loss on one fixed batch near zero`, (t) => {
    if (k === null) return missing(t, 'native', skip!);
    const kernels = k;
    const gpt = new GPT(TINY, kernels, { seed: 0, maxMicroBatch: 4 });
    const opt = new AdamW(gpt, { weightDecay: 0 });
    const B = 4,
      T = 16;
    const mb = batch(42, B, T, TINY.vocab); // random targets: only memorising them lowers the loss
    const first = trainStep(gpt, opt, [mb], B, T, { lr: 3e-3, clip: 1 }).loss;
    let last = first;
    for (let s = 1; s < 250; s++) last = trainStep(gpt, opt, [mb], B, T, { lr: 3e-3, clip: 1 }).loss;
    assert.ok(first > 2.5, `starts near ln 16 = 2.77, got ${first}`);
    assert.ok(last < 0.05, `loss after 250 steps should be < 0.05, got ${last}`);
    assert.ok(gpt.evaluate(mb.inputs, mb.targets, B, T) < 0.05);
  });

  test(`[${name}] accumulating 2 micro-batches of B/2 gives the gradient of one batch of B; microGradSq is each micro-batch's own |g|^2`, (t) => {
    if (k === null) return missing(t, 'native', skip!);
    const kernels = k;
    const B = 4,
      T = 12;
    const full = batch(5, B, T, TINY.vocab);
    const half = (i: number) => ({
      inputs: full.inputs.subarray(i * (B / 2) * T, (i + 1) * (B / 2) * T),
      targets: full.targets.subarray(i * (B / 2) * T, (i + 1) * (B / 2) * T),
    });
    const gpt = new GPT(TINY, kernels, { seed: 1, maxMicroBatch: B });

    gpt.zeroGrad();
    const whole = gpt.forwardBackward(full.inputs, full.targets, B, T);
    const gFull = gpt.grads.slice();
    assert.equal(whole.microGradSq, gpt.gradSq(), 'one micro-batch: microGradSq is the accumulated |g|^2');

    // each half alone, unscaled
    const direct = [0, 1].map((i) => {
      gpt.zeroGrad();
      const r = gpt.forwardBackward(half(i).inputs, half(i).targets, B / 2, T);
      return { loss: r.loss, gradSq: gpt.gradSq(), grads: gpt.grads.slice() };
    });

    gpt.zeroGrad();
    const acc = [0, 1].map((i) => gpt.forwardBackward(half(i).inputs, half(i).targets, B / 2, T, 0.5));
    // the first micro-batch is computed in grads, the second in a scratch slab: both must report their own norm
    for (const i of [0, 1]) {
      assertClose(`microGradSq[${i}]`, acc[i].microGradSq, direct[i].gradSq, { rtol: 1e-12, atol: 0 }); // same ops, same order
      assert.equal(acc[i].loss, direct[i].loss);
    }
    assert.ok(Math.abs(acc[0].microGradSq - acc[1].microGradSq) > 1e-6 * acc[0].microGradSq, 'the two halves differ');
    // mean of the halves' mean gradients = the full batch's mean gradient (float32, summed in other orders)
    assertClose('accumulated grads vs full batch', gpt.grads, gFull, { rtol: 1e-4, atol: 1e-7 });
    const avg = direct[0].grads.map((g, i) => 0.5 * (g + direct[1].grads[i]));
    assertClose('accumulated grads vs mean of halves', gpt.grads, avg, { rtol: 1e-6, atol: 1e-9 });
    assertClose('loss', (acc[0].loss + acc[1].loss) / 2, whole.loss, { rtol: 1e-6, atol: 0 });
    // |G_big|^2 against the halves (G_big = (g0 + g1) / 2): exactly (|g0|^2 + |g1|^2) / 2 - |g0 - g1|^2 / 4, so the
    // full batch's squared norm is below the halves' mean by a quarter of their squared distance (the old check,
    // |G_big|^2 <= the mean, held for any gradients by convexity and could not fail)
    let distSq = 0;
    for (let i = 0; i < direct[0].grads.length; i++) distSq += (direct[0].grads[i] - direct[1].grads[i]) ** 2;
    assert.ok(distSq > 1e-6 * acc[0].microGradSq, 'the halves have different gradients');
    assertClose('|G_big|^2 = mean |g_i|^2 - |g0 - g1|^2 / 4', gpt.gradSq(), (acc[0].microGradSq + acc[1].microGradSq) / 2 - distSq / 4, {
      rtol: 1e-4,
      atol: 0,
    });
  });

  test(`[${name}] params + AdamW state (m, v, t) round-trip: a restored run continues bit-identically`, (t) => {
    if (k === null) return missing(t, 'native', skip!);
    const kernels = k;
    const B = 2,
      T = 8;
    const data = Array.from({ length: 6 }, (_, s) => batch(100 + s, B, T, 16));
    const step = (gpt: GPT, opt: AdamW, s: number) => trainStep(gpt, opt, [data[s]], B, T, { lr: 2e-3, clip: 1 }).loss;
    const a = new GPT(TINY, kernels, { seed: 4, maxMicroBatch: B });
    const optA = new AdamW(a);
    for (let s = 0; s < 3; s++) step(a, optA, s);
    const saved = { params: a.params.slice(), opt: optA.getState() };
    const lossesA = [3, 4, 5].map((s) => step(a, optA, s));

    const b = new GPT(TINY, kernels, { seed: 999, maxMicroBatch: B }); // other init, overwritten
    const optB = new AdamW(b);
    b.loadParams(saved.params);
    optB.setState(saved.opt);
    assert.equal(optB.t, 3);
    assert.deepEqual(
      [3, 4, 5].map((s) => step(b, optB, s)),
      lossesA,
    );
    assert.deepEqual(b.params, a.params);

    assert.throws(
      () => b.loadParams(new Float32Array(10)),
      (e: unknown) => e instanceof StateError && /10 values, expected \d+/.test(e.message),
    );
    assert.throws(() => optB.setState({ m: new Float32Array(3), v: new Float32Array(3), t: 1 }), StateError);
  });
}

// ---- gradient norms and clipping

test('trainStep reports micro and accumulated norms before clipping, and clips to the global norm', () => {
  const B = 2,
    T = 8;
  const gpt = new GPT(TINY, kernelsRef, { seed: 2, maxMicroBatch: B });
  const opt = new AdamW(gpt);
  const mbs = [batch(1, B, T, 16), batch(2, B, T, 16), batch(3, B, T, 16)];
  const r = trainStep(gpt, opt, mbs, B, T, { lr: 0, clip: 1e-3 });
  assert.equal(r.microGradSq.length, 3);
  assertClose('gradNorm', r.gradNorm, Math.sqrt(r.gradSq), { rtol: 1e-15, atol: 0 });
  assert.ok(r.clipped && r.gradNorm > 1e-3);
  // after clipping the gradient buffer has norm clip (torch.nn.utils.clip_grad_norm_: clip / (norm + 1e-6))
  assertClose('clipped norm', Math.sqrt(gpt.gradSq()), (1e-3 * r.gradNorm) / (r.gradNorm + 1e-6), { rtol: 1e-5, atol: 0 });
  const noClip = trainStep(gpt, opt, mbs, B, T, { lr: 0, clip: 0 });
  assert.equal(noClip.clipped, false);
  assertClose('unclipped norm', Math.sqrt(gpt.gradSq()), noClip.gradNorm, { rtol: 1e-12, atol: 0 });
});

// ---- decay groups

test('AdamW decays only the decay group: with zero gradients, matrices shrink by (1 - lr wd), vectors stay', () => {
  const gpt = new GPT(TINY, kernelsRef, { seed: 5, maxMicroBatch: 1 });
  gpt.p.ln1b.fill(0.5); // give a no-decay tensor something to lose
  const before = gpt.params.slice();
  gpt.zeroGrad();
  new AdamW(gpt, { weightDecay: 0.1 }).step(0.5);
  for (const t of gpt.table) {
    const factor = t.decay ? 1 - 0.5 * 0.1 : 1;
    assertClose(
      `decay ${t.name}`,
      gpt.p[t.name],
      before.subarray(t.offset, t.offset + t.size).map((v) => v * factor),
      { rtol: 1e-6, atol: 0 },
    );
  }
});

// ---- buffers sized for the maximum, used at any smaller B, T

test('smaller B and T after larger ones, evaluate in chunks: same losses as a fresh model', () => {
  const cfg = { ...TINY, context: 12 };
  const big = batch(9, 6, 12, 16);
  const small = batch(10, 2, 5, 16);
  const a = new GPT(cfg, kernelsRef, { seed: 6, maxMicroBatch: 6 });
  const b = new GPT(cfg, kernelsRef, { seed: 6, maxMicroBatch: 2 });
  a.zeroGrad();
  a.forwardBackward(big.inputs, big.targets, 6, 12);
  const la = a.forward(small.inputs, small.targets, 2, 5);
  assert.equal(la, b.forward(small.inputs, small.targets, 2, 5));
  // evaluate 6 sequences on a model whose micro-batch is 2: three chunks, weighted mean
  assertClose('chunked evaluate', b.evaluate(big.inputs, big.targets, 6, 12), a.forward(big.inputs, big.targets, 6, 12), { rtol: 1e-12, atol: 0 });
  // logits only
  assert.ok(Number.isNaN(a.forward(small.inputs, null, 2, 5)));
  assert.equal(a.logitsView().length, 2 * 5 * 16);
});

// ---- bad input

test('bad input: token ids out of range name the array, index and value; B, T and lengths are checked', () => {
  const gpt = new GPT(TINY, kernelsRef, { seed: 0, maxMicroBatch: 2 });
  const { inputs, targets } = batch(1, 2, 8, 16);
  const badIn = inputs.slice();
  badIn[11] = 16;
  const badTg = targets.slice();
  badTg[3] = -1;
  const isInput = (re: RegExp) => (e: unknown) => e instanceof InputError && re.test(e.message) && e.hint.length > 0;
  assert.throws(() => gpt.forward(badIn, targets, 2, 8), isInput(/inputs\[11\] \(sequence 1, position 3\) = 16, expected 0 <= id < 16/));
  assert.throws(() => gpt.forwardBackward(inputs, badTg, 2, 8), isInput(/targets\[3\] \(sequence 0, position 3\) = -1/));
  assert.throws(() => gpt.forward(inputs, targets, 3, 8), isInput(/B must be an integer in \[1, 2\].*got 3/));
  assert.throws(() => gpt.forward(inputs, targets, 1, 17), isInput(/T must be an integer in \[1, 16\].*got 17/));
  assert.throws(() => gpt.forward(inputs, targets, 2, 7), isInput(/B\*T = 2\*7 = 14 token ids, got 16 inputs and 16 targets/));
  assert.throws(() => new GPT(TINY, kernelsRef, { seed: 0, maxMicroBatch: 0 }), InputError);
  assert.throws(() => new GPT({ ...TINY, nHead: 3 }, kernelsRef, { seed: 0, maxMicroBatch: 1 }), /d_model % n_head == 0, got 32 % 3 = 2/);
  gpt.zeroGrad();
  gpt.forwardBackward(inputs, targets, 2, 8);
  assert.throws(() => gpt.logitsView(), InputError); // backward reused the logits buffer
});
