// The GPT model: parameter slab with named views, seeded initialisation, preallocated activations,
// forward, hand-written backward, gradient accumulation with per-micro-batch gradient norms, and one
// training step (clip + AdamW). Kernels come from outside (kernels-ref.ts or native); config.ts sizes it.
//
// Architecture: GPT-2 (Radford et al. 2019) as nanoGPT's model.py writes it: token + learned position
// embeddings; L pre-LN blocks x += attn(ln1(x)); x += mlp(ln2(x)) with causal multi-head attention (qkv and
// output projection with biases) and a 4x GELU(tanh) MLP (with biases); final LayerNorm; output head tied
// to wte (no bias); softmax cross-entropy. Memory layout and the forward/backward walk follow llm.c.
import type { F32, Kernels } from './kernels.ts';
import { Rng } from '../util/random.ts';
import { InputError, StateError } from './errors.ts';
import {
  type GPTConfig,
  type ParamName,
  type ParamTensor,
  type ParamCounts,
  type FlopsPerToken,
  paramTable,
  paramCounts,
  flopsPerToken,
  validateConfig,
} from './config.ts';
import type { AdamW } from './adamw.ts';

export interface GPTOptions {
  /** initialisation seed (any safe integer); the init stream is Rng.keyed(seed, -1) */
  seed: number;
  /** largest micro-batch (sequences) forward/backward will take; activations are sized for it */
  maxMicroBatch: number;
}

export interface MicroBatch {
  /** (B,T) token ids */
  inputs: Int32Array;
  /** (B,T) next-token ids */
  targets: Int32Array;
}

/** Per-layer views of one slab (parameters or gradients). */
interface LayerViews {
  ln1w: F32;
  ln1b: F32;
  qkvw: F32;
  qkvb: F32;
  attprojw: F32;
  attprojb: F32;
  ln2w: F32;
  ln2b: F32;
  fcw: F32;
  fcb: F32;
  fcprojw: F32;
  fcprojb: F32;
}

interface SlabViews {
  named: Record<ParamName, F32>;
  layers: LayerViews[];
}

/** Slices a per-layer-stacked buffer: layer l of stride `stride`, the first `n` values of it. */
function layer(buf: F32, l: number, stride: number, n: number = stride): F32 {
  return buf.subarray(l * stride, l * stride + n);
}

function slabViews(slab: F32, table: ParamTensor[], L: number): SlabViews {
  const named = {} as Record<ParamName, F32>;
  for (const t of table) named[t.name] = slab.subarray(t.offset, t.offset + t.size);
  const layers: LayerViews[] = [];
  for (let l = 0; l < L; l++) {
    const per = (name: ParamName) => {
      const v = named[name];
      return layer(v, l, v.length / L);
    };
    layers.push({
      ln1w: per('ln1w'),
      ln1b: per('ln1b'),
      qkvw: per('qkvw'),
      qkvb: per('qkvb'),
      attprojw: per('attprojw'),
      attprojb: per('attprojb'),
      ln2w: per('ln2w'),
      ln2b: per('ln2b'),
      fcw: per('fcw'),
      fcb: per('fcb'),
      fcprojw: per('fcprojw'),
      fcprojb: per('fcprojb'),
    });
  }
  return { named, layers };
}

// ---- activations (llm.c's ActivationTensors), sized for maxMicroBatch x context
// Per-layer tensors are stacked over L with a stride of the maximum size; a call with smaller B, T uses the
// first B*T*... values of each layer's block. attproj and fcproj outputs are not needed by backward, so
// they share one scratch buffer (proj); so does preatt. Backward reuses the logits buffer for dlogits.

class Activations {
  readonly encoded: F32; // (B,T,C)
  readonly ln1: F32; // (L,B,T,C)
  readonly ln1Mean: F32; // (L,B,T)
  readonly ln1Rstd: F32; // (L,B,T)
  readonly qkv: F32; // (L,B,T,3C)
  readonly atty: F32; // (L,B,T,C)
  readonly att: F32; // (L,B,NH,T,T)
  readonly residual2: F32; // (L,B,T,C)
  readonly ln2: F32; // (L,B,T,C)
  readonly ln2Mean: F32; // (L,B,T)
  readonly ln2Rstd: F32; // (L,B,T)
  readonly fch: F32; // (L,B,T,4C)
  readonly fchGelu: F32; // (L,B,T,4C)
  readonly residual3: F32; // (L,B,T,C)
  readonly lnf: F32; // (B,T,C)
  readonly lnfMean: F32; // (B,T)
  readonly lnfRstd: F32; // (B,T)
  readonly logits: F32; // (B,T,V); dlogits during backward
  readonly probs: F32; // (B,T,V)
  readonly losses: F32; // (B,T)
  readonly preatt: F32; // (B,NH,T,T) scratch
  readonly proj: F32; // (B,T,C) scratch
  /** floats per layer of each stacked tensor at the maximum size */
  readonly stride: { btc: number; bt: number; att: number };

  constructor(L: number, C: number, NH: number, V: number, maxB: number, maxT: number) {
    const BT = maxB * maxT;
    const att = maxB * NH * maxT * maxT;
    this.stride = { btc: BT * C, bt: BT, att };
    const f = (n: number) => new Float32Array(n);
    this.encoded = f(BT * C);
    this.ln1 = f(L * BT * C);
    this.ln1Mean = f(L * BT);
    this.ln1Rstd = f(L * BT);
    this.qkv = f(L * BT * 3 * C);
    this.atty = f(L * BT * C);
    this.att = f(L * att);
    this.residual2 = f(L * BT * C);
    this.ln2 = f(L * BT * C);
    this.ln2Mean = f(L * BT);
    this.ln2Rstd = f(L * BT);
    this.fch = f(L * BT * 4 * C);
    this.fchGelu = f(L * BT * 4 * C);
    this.residual3 = f(L * BT * C);
    this.lnf = f(BT * C);
    this.lnfMean = f(BT);
    this.lnfRstd = f(BT);
    this.logits = f(BT * V);
    this.probs = f(BT * V);
    this.losses = f(BT);
    this.preatt = f(att);
    this.proj = f(BT * C);
  }
}

/** Backward-only scratch, allocated on the first backward (an evaluation-only model never needs it). */
class BackwardScratch {
  readonly dres: F32; // (B,T,C) the residual stream's gradient, updated in place layer by layer
  readonly dln: F32; // (B,T,C) gradient at a LayerNorm output
  readonly datty: F32; // (B,T,C)
  readonly dbig1: F32; // (B,T,4C) dfchGelu, then dqkv (B,T,3C)
  readonly dbig2: F32; // (B,T,4C) dfch
  readonly dpreatt: F32; // (B,NH,T,T)
  readonly datt: F32; // (B,NH,T,T)
  constructor(C: number, NH: number, maxB: number, maxT: number) {
    const BT = maxB * maxT;
    this.dres = new Float32Array(BT * C);
    this.dln = new Float32Array(BT * C);
    this.datty = new Float32Array(BT * C);
    this.dbig1 = new Float32Array(BT * 4 * C);
    this.dbig2 = new Float32Array(BT * 4 * C);
    this.dpreatt = new Float32Array(maxB * NH * maxT * maxT);
    this.datt = new Float32Array(maxB * NH * maxT * maxT);
  }
}

// ---- the model

export class GPT {
  readonly config: GPTConfig;
  readonly kernels: Kernels;
  readonly maxMicroBatch: number;
  /** the size table: named tensors, shapes, offsets into the slab, decay flags */
  readonly table: ParamTensor[];
  /** all parameters, one slab */
  readonly params: Float32Array;
  /** gradients, same layout; forwardBackward accumulates here, zeroGrad clears */
  readonly grads: Float32Array;
  /** parameters [0, decayCount) are in the weight-decay group (config.ts orders the slab that way) */
  readonly decayCount: number;
  /** named views of params and grads */
  readonly p: Record<ParamName, F32>;
  readonly g: Record<ParamName, F32>;

  private readonly pv: SlabViews;
  private readonly gv: SlabViews;
  private readonly acts: Activations;
  private scratch: BackwardScratch | null = null;
  /** a second gradient slab for micro-batches after the first (allocated on first use) */
  private micro: { slab: Float32Array; views: SlabViews } | null = null;
  /** grads hold nothing since zeroGrad(): the next micro-batch can write its gradient there directly */
  private gradsEmpty = true;
  /** what the last forward saw, for backward and logitsView() */
  private last: { B: number; T: number; inputs: Int32Array; targets: Int32Array | null; logitsValid: boolean } | null = null;

  constructor(config: GPTConfig, kernels: Kernels, options: GPTOptions) {
    this.config = validateConfig({ ...config });
    this.kernels = kernels;
    const { seed, maxMicroBatch } = options;
    if (!Number.isSafeInteger(seed)) {
      throw new InputError(`seed must be an integer, got ${seed}`, 'pass a whole number, e.g. --seed 0');
    }
    if (!Number.isSafeInteger(maxMicroBatch) || maxMicroBatch <= 0) {
      throw new InputError(`maxMicroBatch must be a positive integer, got ${maxMicroBatch}`, 'it is the largest number of sequences one forward pass takes');
    }
    this.maxMicroBatch = maxMicroBatch;
    const { nLayer: L, dModel: C, nHead: NH, vocab: V, context } = this.config;
    this.table = paramTable(this.config);
    const n = this.table.reduce((s, t) => s + t.size, 0);
    this.params = new Float32Array(n);
    this.grads = new Float32Array(n);
    this.decayCount = this.table.filter((t) => t.decay).reduce((s, t) => s + t.size, 0);
    this.pv = slabViews(this.params, this.table, L);
    this.gv = slabViews(this.grads, this.table, L);
    this.p = this.pv.named;
    this.g = this.gv.named;
    this.acts = new Activations(L, C, NH, V, maxMicroBatch, context);
    this.init(seed);
  }

  // ---- initialisation (GPT-2 / nanoGPT _init_weights)
  // Matrices and embeddings ~ N(0, 0.02); the residual projections (attprojw, fcprojw) ~ N(0, 0.02 / sqrt(2L))
  // (GPT-2 section 2.3: scale residual-path weights by 1/sqrt(N) with N residual layers); biases 0;
  // LayerNorm gains 1, biases 0. Drawn tensor by tensor in slab order from one stream.

  private init(seed: number): void {
    const rng = Rng.keyed(seed, -1);
    const std = 0.02;
    const residualStd = 0.02 / Math.sqrt(2 * this.config.nLayer);
    for (const t of this.table) {
      const view = this.p[t.name];
      switch (t.name) {
        case 'wte':
        case 'wpe':
        case 'qkvw':
        case 'fcw':
          for (let i = 0; i < view.length; i++) view[i] = rng.normal() * std;
          break;
        case 'attprojw':
        case 'fcprojw':
          for (let i = 0; i < view.length; i++) view[i] = rng.normal() * residualStd;
          break;
        case 'ln1w':
        case 'ln2w':
        case 'lnfw':
          view.fill(1);
          break;
        case 'ln1b':
        case 'ln2b':
        case 'lnfb':
        case 'qkvb':
        case 'attprojb':
        case 'fcb':
        case 'fcprojb':
          view.fill(0);
          break;
        default:
          throw new Error(`init: no rule for ${t.name satisfies never}`);
      }
    }
  }

  // ---- accounting

  paramCounts(): ParamCounts {
    return paramCounts(this.config);
  }

  /** training FLOPs per token at sequence length T (default: context); see config.ts */
  flopsPerToken(T: number = this.config.context): FlopsPerToken {
    return flopsPerToken(this.config, T);
  }

  /** Replace every parameter (golden test, checkpoint restore). */
  loadParams(src: Float32Array): void {
    if (src.length !== this.params.length) {
      throw new StateError(
        `parameter slab has ${src.length} values, expected ${this.params.length} for ${describe(this.config)}`,
        'the parameters were saved from a model of another size; use the same config they were saved with',
      );
    }
    this.params.set(src);
  }

  // ---- forward

  /**
   * Forward pass over B sequences of T tokens. Returns the mean cross-entropy loss over the B*T positions
   * when targets are given, NaN when targets is null (logits only; read them with logitsView()).
   */
  forward(inputs: Int32Array, targets: Int32Array | null, B: number, T: number): number {
    this.checkBatch(inputs, targets, B, T);
    const { nLayer: L, dModel: C, nHead: NH, vocab: V } = this.config;
    const k = this.kernels;
    const a = this.acts;
    const s = a.stride;
    const BT = B * T;
    const btc = BT * C;
    const att = B * NH * T * T;

    k.encoderForward(a.encoded, inputs, this.p.wte, this.p.wpe, B, T, C);
    for (let l = 0; l < L; l++) {
      const w = this.pv.layers[l];
      const residual = l === 0 ? a.encoded : layer(a.residual3, l - 1, s.btc, btc);
      const ln1 = layer(a.ln1, l, s.btc, btc);
      const qkv = layer(a.qkv, l, 3 * s.btc, 3 * btc);
      const atty = layer(a.atty, l, s.btc, btc);
      const residual2 = layer(a.residual2, l, s.btc, btc);
      const ln2 = layer(a.ln2, l, s.btc, btc);
      const fch = layer(a.fch, l, 4 * s.btc, 4 * btc);
      const fchGelu = layer(a.fchGelu, l, 4 * s.btc, 4 * btc);
      const residual3 = layer(a.residual3, l, s.btc, btc);

      // attention branch: x + proj(attn(ln1(x)))
      k.layernormForward(ln1, layer(a.ln1Mean, l, s.bt, BT), layer(a.ln1Rstd, l, s.bt, BT), residual, w.ln1w, w.ln1b, B, T, C);
      k.matmulForward(qkv, ln1, w.qkvw, w.qkvb, B, T, C, 3 * C);
      k.attentionForward(atty, a.preatt, layer(a.att, l, s.att, att), qkv, B, T, C, NH);
      k.matmulForward(a.proj, atty, w.attprojw, w.attprojb, B, T, C, C);
      k.residualForward(residual2, residual, a.proj, btc);
      // MLP branch: x + proj(gelu(fc(ln2(x))))
      k.layernormForward(ln2, layer(a.ln2Mean, l, s.bt, BT), layer(a.ln2Rstd, l, s.bt, BT), residual2, w.ln2w, w.ln2b, B, T, C);
      k.matmulForward(fch, ln2, w.fcw, w.fcb, B, T, C, 4 * C);
      k.geluForward(fchGelu, fch, 4 * btc);
      k.matmulForward(a.proj, fchGelu, w.fcprojw, w.fcprojb, B, T, 4 * C, C);
      k.residualForward(residual3, residual2, a.proj, btc);
    }
    const last = layer(a.residual3, L - 1, s.btc, btc);
    k.layernormForward(a.lnf, a.lnfMean, a.lnfRstd, last, this.p.lnfw, this.p.lnfb, B, T, C);
    k.matmulForward(a.logits, a.lnf, this.p.wte, null, B, T, C, V); // tied head: logits = lnf @ wte^T
    this.last = { B, T, inputs, targets, logitsValid: true };
    if (targets === null) return NaN;

    k.softmaxCrossEntropyForward(a.losses, a.probs, a.logits, targets, B, T, V);
    let sum = 0; // float64
    for (let i = 0; i < BT; i++) sum += a.losses[i];
    return sum / BT;
  }

  /** The last forward's logits (B,T,V), a view valid until the next backward or forward. */
  logitsView(): Float32Array {
    if (this.last === null || !this.last.logitsValid) {
      throw new InputError(
        'no logits to read: backward has reused their buffer, or no forward has run',
        'call forward() and read logitsView() before forwardBackward()',
      );
    }
    const { B, T } = this.last;
    return this.acts.logits.subarray(0, B * T * this.config.vocab);
  }

  /**
   * Forward-only mean loss over B sequences; B may exceed maxMicroBatch (it runs in chunks).
   * Does not touch the gradients.
   */
  evaluate(inputs: Int32Array, targets: Int32Array, B: number, T: number): number {
    if (!Number.isSafeInteger(B) || B <= 0) throw this.batchError(B);
    if (inputs.length !== B * T || targets.length !== B * T) throw this.lengthError(inputs, targets, B, T);
    let sum = 0;
    for (let b0 = 0; b0 < B; b0 += this.maxMicroBatch) {
      const nb = Math.min(this.maxMicroBatch, B - b0);
      const lo = b0 * T,
        hi = (b0 + nb) * T;
      sum += this.forward(inputs.subarray(lo, hi), targets.subarray(lo, hi), nb, T) * nb;
    }
    return sum / B;
  }

  // ---- backward

  /**
   * d(mean loss)/dparams of the last forward, written (accumulated) into the slab behind `gv`.
   * The residual stream's gradient dres is carried in place: each block's branch adds into it, which is
   * residual_backward of llm.c without the copies.
   */
  private backward(gv: SlabViews): void {
    const st = this.last;
    if (st === null || st.targets === null || !st.logitsValid) {
      throw new InputError('backward needs a forward pass with targets just before it', 'use forwardBackward(inputs, targets, B, T)');
    }
    const { B, T, inputs, targets } = st;
    const { nLayer: L, dModel: C, nHead: NH, vocab: V } = this.config;
    const k = this.kernels;
    const a = this.acts;
    const s = a.stride;
    const d = (this.scratch ??= new BackwardScratch(C, NH, this.maxMicroBatch, this.config.context));
    const BT = B * T;
    const btc = BT * C;
    const att = B * NH * T * T;
    const g = gv.named;

    // loss -> logits (mean over B*T positions); dlogits reuses the logits buffer
    const dlogits = a.logits.subarray(0, BT * V);
    dlogits.fill(0);
    st.logitsValid = false;
    k.softmaxCrossEntropyBackward(dlogits, a.probs, targets, 1 / BT, B, T, V);
    // tied head: dlnf, and the head's share of dwte
    const dln = d.dln.subarray(0, btc);
    dln.fill(0);
    k.matmulBackward(dln, g.wte, null, dlogits, a.lnf, this.p.wte, B, T, C, V);
    const dres = d.dres.subarray(0, btc);
    dres.fill(0);
    k.layernormBackward(dres, g.lnfw, g.lnfb, dln, layer(a.residual3, L - 1, s.btc, btc), this.p.lnfw, a.lnfMean, a.lnfRstd, B, T, C);

    for (let l = L - 1; l >= 0; l--) {
      const w = this.pv.layers[l];
      const gw = gv.layers[l];
      const residual = l === 0 ? a.encoded : layer(a.residual3, l - 1, s.btc, btc);
      const ln1 = layer(a.ln1, l, s.btc, btc);
      const qkv = layer(a.qkv, l, 3 * s.btc, 3 * btc);
      const atty = layer(a.atty, l, s.btc, btc);
      const residual2 = layer(a.residual2, l, s.btc, btc);
      const ln2 = layer(a.ln2, l, s.btc, btc);
      const fch = layer(a.fch, l, 4 * s.btc, 4 * btc);
      const fchGelu = layer(a.fchGelu, l, 4 * s.btc, 4 * btc);

      // MLP branch; dres = d residual3 flows on unchanged to residual2 and also into the branch
      const dfchGelu = d.dbig1.subarray(0, 4 * btc);
      dfchGelu.fill(0);
      k.matmulBackward(dfchGelu, gw.fcprojw, gw.fcprojb, dres, fchGelu, w.fcprojw, B, T, 4 * C, C);
      const dfch = d.dbig2.subarray(0, 4 * btc);
      dfch.fill(0);
      k.geluBackward(dfch, fch, dfchGelu, 4 * btc);
      dln.fill(0);
      k.matmulBackward(dln, gw.fcw, gw.fcb, dfch, ln2, w.fcw, B, T, C, 4 * C);
      k.layernormBackward(dres, gw.ln2w, gw.ln2b, dln, residual2, w.ln2w, layer(a.ln2Mean, l, s.bt, BT), layer(a.ln2Rstd, l, s.bt, BT), B, T, C);
      // attention branch; dres is now d residual2
      const datty = d.datty.subarray(0, btc);
      datty.fill(0);
      k.matmulBackward(datty, gw.attprojw, gw.attprojb, dres, atty, w.attprojw, B, T, C, C);
      const dqkv = d.dbig1.subarray(0, 3 * btc);
      dqkv.fill(0);
      k.attentionBackward(dqkv, d.dpreatt, d.datt, datty, qkv, layer(a.att, l, s.att, att), B, T, C, NH);
      dln.fill(0);
      k.matmulBackward(dln, gw.qkvw, gw.qkvb, dqkv, ln1, w.qkvw, B, T, C, 3 * C);
      k.layernormBackward(dres, gw.ln1w, gw.ln1b, dln, residual, w.ln1w, layer(a.ln1Mean, l, s.bt, BT), layer(a.ln1Rstd, l, s.bt, BT), B, T, C);
      // dres is now d residual (the block's input)
    }
    k.encoderBackward(g.wte, g.wpe, dres, inputs, B, T, C);
  }

  // ---- gradient accumulation

  zeroGrad(): void {
    this.grads.fill(0);
    this.gradsEmpty = true;
  }

  /**
   * Forward and backward on one micro-batch: adds gradScale * d(mean loss)/dparams into grads (use
   * gradScale = 1 / nMicro to accumulate a mean). Returns the loss and microGradSq = |g|^2 of this
   * micro-batch's own unscaled mean-loss gradient, which the noise-scale estimator reads as |G_small|^2
   * (McCandlish et al. 2018, appendix A.1). The first micro-batch after zeroGrad() is computed in grads
   * directly; later ones go through a second slab, so one micro-batch per step costs no extra memory.
   */
  forwardBackward(inputs: Int32Array, targets: Int32Array, B: number, T: number, gradScale = 1): { loss: number; microGradSq: number } {
    const k = this.kernels;
    const n = this.params.length;
    const loss = this.forward(inputs, targets, B, T);
    let microGradSq: number;
    if (this.gradsEmpty) {
      this.backward(this.gv);
      microGradSq = k.sumSquares(this.grads, n);
      if (gradScale !== 1) k.scale(this.grads, gradScale, n);
    } else {
      if (this.micro === null) {
        const slab = new Float32Array(n);
        this.micro = { slab, views: slabViews(slab, this.table, this.config.nLayer) };
      }
      const m = this.micro.slab;
      m.fill(0);
      this.backward(this.micro.views);
      microGradSq = k.sumSquares(m, n);
      if (gradScale !== 1) k.scale(m, gradScale, n);
      k.residualForward(this.grads, this.grads, m, n); // grads += gradScale * g_micro
    }
    this.gradsEmpty = false;
    return { loss, microGradSq };
  }

  /** |grads|^2 of the accumulated gradient (float64 sum). */
  gradSq(): number {
    return this.kernels.sumSquares(this.grads, this.grads.length);
  }

  // ---- input checks

  private checkBatch(inputs: Int32Array, targets: Int32Array | null, B: number, T: number): void {
    if (!Number.isSafeInteger(B) || B <= 0 || B > this.maxMicroBatch) throw this.batchError(B);
    const { context, vocab } = this.config;
    if (!Number.isSafeInteger(T) || T <= 0 || T > context) {
      throw new InputError(
        `sequence length T must be an integer in [1, ${context}] (the model's context), got ${T}`,
        `build the model with context >= ${T}, or feed shorter sequences`,
      );
    }
    if (inputs.length !== B * T || (targets !== null && targets.length !== B * T)) throw this.lengthError(inputs, targets, B, T);
    for (const [name, ids] of [
      ['inputs', inputs],
      ['targets', targets],
    ] as const) {
      if (ids === null) continue;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (id < 0 || id >= vocab) {
          throw new InputError(
            `token id out of range: ${name}[${i}] (sequence ${Math.floor(i / T)}, position ${i % T}) = ${id}, expected 0 <= id < ${vocab} (the model's vocab)`,
            `the tokenizer emits ids up to ${id}; build the model with vocab >= ${id + 1}, or use the tokenizer the model was built for`,
          );
        }
      }
    }
  }

  private batchError(B: number): InputError {
    return new InputError(
      `micro-batch size B must be an integer in [1, ${this.maxMicroBatch}] (maxMicroBatch), got ${B}`,
      'split the batch into micro-batches (gradient accumulation), or build the model with a larger maxMicroBatch',
    );
  }

  private lengthError(inputs: Int32Array, targets: Int32Array | null, B: number, T: number): InputError {
    return new InputError(
      `inputs and targets must hold B*T = ${B}*${T} = ${B * T} token ids, got ${inputs.length} inputs and ${targets === null ? 'no' : targets.length} targets`,
      'pass (B,T) arrays flattened row-major, one row per sequence',
    );
  }
}

function describe(c: GPTConfig): string {
  return `L=${c.nLayer} d_model=${c.dModel} heads=${c.nHead} vocab=${c.vocab} context=${c.context}`;
}

// ---- one training step: accumulate, measure, clip, update

export interface StepOptions {
  /** learning rate for this step (the schedule is the trainer's) */
  lr: number;
  /** clip the global gradient norm to this; 0 or Infinity: no clipping */
  clip: number;
}

export interface StepResult {
  /** mean of the micro-batch losses (each a mean over its B*T positions) */
  loss: number;
  /** |g_i|^2 of each micro-batch's own mean-loss gradient: |G_small|^2, B_small = B sequences */
  microGradSq: number[];
  /** |G|^2 of the accumulated mean gradient, before clipping: |G_big|^2, B_big = B * microBatches.length */
  gradSq: number;
  /** sqrt(gradSq), before clipping */
  gradNorm: number;
  /** whether clipping scaled the gradient */
  clipped: boolean;
}

/**
 * One optimizer step over micro-batches of B sequences each: the gradient of the mean loss over all of
 * them, global-norm clipping, then AdamW. Clipping as torch.nn.utils.clip_grad_norm_ (nanoGPT): scale by
 * clip / (norm + 1e-6) when that is below 1.
 */
export function trainStep(gpt: GPT, optimizer: AdamW, microBatches: MicroBatch[], B: number, T: number, options: StepOptions): StepResult {
  const n = microBatches.length;
  if (n === 0) throw new InputError('trainStep needs at least one micro-batch, got 0', 'pass [{ inputs, targets }, ...]');
  gpt.zeroGrad();
  let lossSum = 0;
  const microGradSq: number[] = [];
  for (const mb of microBatches) {
    const r = gpt.forwardBackward(mb.inputs, mb.targets, B, T, 1 / n);
    lossSum += r.loss;
    microGradSq.push(r.microGradSq);
  }
  const gradSq = gpt.gradSq();
  const gradNorm = Math.sqrt(gradSq);
  let clipped = false;
  if (options.clip > 0 && Number.isFinite(options.clip)) {
    const coef = options.clip / (gradNorm + 1e-6);
    if (coef < 1) {
      gpt.kernels.scale(gpt.grads, coef, gpt.grads.length);
      clipped = true;
    }
  }
  optimizer.step(options.lr);
  return { loss: lossSum / n, microGradSq, gradSq, gradNorm, clipped };
}
