// The whole model against PyTorch (llm.c's test_gpt2.c): load the golden file's weights, compare logits,
// loss, every parameter gradient by name, and 10 clipped AdamW steps, on every kernel backend available.
// The golden file comes from test/golden/make_golden.py (torch 1.13, float32); its layout is documented there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GPT, AdamW, trainStep, type Kernels } from '../../src/engine/index.ts';
import { engineBackends } from './backends.ts';
import { readGoldenFile, parseGolden, GoldenFormatError, GOLDEN_PATH, GOLDEN_VERSION, type Golden } from '../golden/read-golden.ts';
import { assertClose } from '../helpers/assert-close.ts';
import { missing } from '../helpers/require.ts';

// ---- tolerances (errors seen against torch 1.13 noted per item; the test prints them as diagnostics; all float32)
// logits: float32 matmuls summed in different orders: seen 1.8e-7 (ts), 2.4e-7 (native) abs on |logits| <= 0.73.
const LOGITS_TOL = { rtol: 1e-4, atol: 1e-5 };
// loss: a float64 mean here vs torch's float32 reduction: seen 2.3e-7 on 4.13.
const LOSS_TOL = { rtol: 1e-5, atol: 0 };
// gradients: per tensor, atol = GRAD_REL * max|ref| of that tensor, since elements near zero are
// cancellations whose absolute error follows the tensor's scale. Seen <= 4.3e-7 * max|ref| (ts, dfcprojw)
// (native: 7.6e-7, dqkvb). A wrong term (missing bias, swapped gain, wrong scale) gives errors of order max|ref|.
const GRAD_REL = 1e-4;
const GRAD_RTOL = 1e-3;
// 10 AdamW steps: Adam moves elements with tiny, noisy gradients by ~lr whatever their size, so float32
// noise grows over steps. Seen: step losses within 2.7e-7 abs (on ~2-4), grad norms within 1.5e-5 (on ~1.6).
const STEP_LOSS_TOL = { rtol: 1e-4, atol: 0 };
const STEP_NORM_TOL = { rtol: 1e-3, atol: 0 };

const golden = readGoldenFile();

/** max |a - e|, reported with t.diagnostic so each run shows how close it came, not only that it passed */
function maxDiff(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < e.length; i++) m = Math.max(m, Math.abs(a[i] - e[i]));
  return m;
}

// ---- the file format

test('golden file: header matches the documented config', () => {
  assert.deepEqual(golden.config, { nLayer: 2, dModel: 64, nHead: 2, vocab: 64, context: 32 });
  assert.equal(golden.B * golden.T, golden.inputs.length);
  assert.equal(golden.steps, 10);
});

test('golden file of the wrong version, wrong magic or truncated: an error saying expected vs got, with a hint', () => {
  const raw = new Uint8Array(readFileSync(GOLDEN_PATH));
  const bad = raw.slice();
  new DataView(bad.buffer).setInt32(4, GOLDEN_VERSION + 98, true);
  assert.throws(
    () => parseGolden(bad),
    (e: unknown) => {
      assert.ok(e instanceof GoldenFormatError);
      assert.match(e.message, new RegExp(`version ${GOLDEN_VERSION + 98}, expected version ${GOLDEN_VERSION}`));
      assert.match(e.hint, /make_golden\.py/);
      return true;
    },
  );
  const badMagic = raw.slice();
  new DataView(badMagic.buffer).setInt32(0, 12345, true);
  assert.throws(() => parseGolden(badMagic), /bad magic number, expected 20260417, got 12345/);
  assert.throws(() => parseGolden(raw.subarray(0, raw.length - 4)), /bytes, expected \d+ for the sizes in its header/);
});

// ---- the model, on every backend

function model(g: Golden, kernels: Kernels, maxMicroBatch = g.B): GPT {
  const gpt = new GPT(g.config, kernels, { seed: 0, maxMicroBatch });
  gpt.loadParams(g.params);
  return gpt;
}

function optimizer(g: Golden, gpt: GPT): AdamW {
  const { beta1, beta2, eps, weightDecay } = g.hyper;
  return new AdamW(gpt, { beta1, beta2, eps, weightDecay });
}

for (const { name, kernels, skip } of engineBackends()) {
  test(`[${name}] logits and loss match PyTorch`, (t) => {
    if (kernels === null) return missing(t, 'native', skip!);
    const gpt = model(golden, kernels);
    const loss = gpt.forward(golden.inputs, golden.targets, golden.B, golden.T);
    assertClose(`[${name}] logits`, gpt.logitsView(), golden.logits, LOGITS_TOL);
    assertClose(`[${name}] loss`, loss, golden.loss, LOSS_TOL);
    assertClose(`[${name}] evaluate`, gpt.evaluate(golden.inputs, golden.targets, golden.B, golden.T), golden.loss, LOSS_TOL);
    t.diagnostic(`max |diff| logits ${maxDiff(gpt.logitsView(), golden.logits).toExponential(2)}, loss ${Math.abs(loss - golden.loss).toExponential(2)}`);
  });

  test(`[${name}] every parameter gradient matches PyTorch, tensor by tensor`, (t) => {
    if (kernels === null) return missing(t, 'native', skip!);
    const gpt = model(golden, kernels);
    gpt.zeroGrad();
    const { loss } = gpt.forwardBackward(golden.inputs, golden.targets, golden.B, golden.T);
    assertClose(`[${name}] loss`, loss, golden.loss, LOSS_TOL);
    let worst = { name: '', rel: 0 };
    for (const p of gpt.table) {
      const ref = golden.grads.subarray(p.offset, p.offset + p.size);
      const scale = ref.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assert.ok(scale > 0, `${p.name}: the golden gradient is all zero, so it tests nothing`);
      assertClose(`[${name}] d${p.name}`, gpt.g[p.name], ref, { rtol: GRAD_RTOL, atol: GRAD_REL * scale });
      const rel = maxDiff(gpt.g[p.name], ref) / scale;
      if (rel > worst.rel) worst = { name: p.name, rel };
    }
    t.diagnostic(`worst gradient: max |diff| / max |ref| = ${worst.rel.toExponential(2)} (d${worst.name})`);
  });

  for (const micro of [1, 2]) {
    test(`[${name}] 10 clipped AdamW steps match PyTorch (${micro} micro-batch${micro > 1 ? 'es' : ''})`, (t) => {
      if (kernels === null) return missing(t, 'native', skip!);
      const bs = golden.B / micro;
      const gpt = model(golden, kernels, bs);
      const opt = optimizer(golden, gpt);
      const batches = Array.from({ length: micro }, (_, i) => ({
        inputs: golden.inputs.subarray(i * bs * golden.T, (i + 1) * bs * golden.T),
        targets: golden.targets.subarray(i * bs * golden.T, (i + 1) * bs * golden.T),
      }));
      const losses: number[] = [];
      const norms: number[] = [];
      let clippedSteps = 0;
      for (let s = 0; s < golden.steps; s++) {
        const r = trainStep(gpt, opt, batches, bs, golden.T, { lr: golden.hyper.lr, clip: golden.hyper.clip });
        losses.push(r.loss);
        norms.push(r.gradNorm);
        if (r.clipped) clippedSteps++;
      }
      assert.ok(clippedSteps > 0, 'the golden run clips (norms > 1): the clipping path must be exercised');
      assertClose(`[${name}] step losses`, losses, golden.stepLosses, STEP_LOSS_TOL);
      assertClose(`[${name}] step grad norms`, norms, golden.stepGradNorms, STEP_NORM_TOL);
      t.diagnostic(
        `max |diff| step losses ${maxDiff(losses, golden.stepLosses).toExponential(2)}, grad norms ${maxDiff(norms, golden.stepGradNorms).toExponential(2)}`,
      );
    });
  }
}
