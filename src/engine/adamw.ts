// AdamW over a parameter slab with a decay group and a no-decay group (each contiguous), and its
// checkpointable state (m, v, t). The update itself is kernels.adamw; which tensors decay is config.ts's call.
//
// Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2, in the form
// torch.optim.AdamW computes: bias-corrected moments, decay decoupled from the gradient (p -= lr*wd*p).
import type { F32, Kernels } from './kernels.ts';
import { StateError } from './errors.ts';

/** What the optimizer needs from a model: the slab, its gradients, and where the decay group ends. */
export interface Optimizable {
  readonly params: F32;
  readonly grads: F32;
  readonly kernels: Kernels;
  /** parameters [0, decayCount) get weight decay, [decayCount, params.length) do not */
  readonly decayCount: number;
}

export interface AdamWOptions {
  /** default 0.9 */
  beta1?: number;
  /** default 0.95 (nanoGPT, GPT-3) */
  beta2?: number;
  /** default 1e-8 (PyTorch) */
  eps?: number;
  /** decoupled weight decay on the decay group; default 0.1 (nanoGPT) */
  weightDecay?: number;
}

export interface AdamWState {
  m: Float32Array;
  v: Float32Array;
  /** steps taken so far (the next step uses t + 1 for bias correction) */
  t: number;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** first and second moments, same layout as the parameter slab */
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** steps taken */
  t = 0;

  constructor(
    private readonly model: Optimizable,
    options: AdamWOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.95;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.1;
    this.m = new Float32Array(model.params.length);
    this.v = new Float32Array(model.params.length);
  }

  /** One update with learning rate lr (the schedule belongs to the trainer). */
  step(lr: number): void {
    const { params, grads, kernels, decayCount } = this.model;
    const n = params.length;
    this.t += 1;
    const groups: [number, number, number][] = [
      [0, decayCount, this.weightDecay],
      [decayCount, n, 0],
    ];
    for (const [start, end, wd] of groups) {
      kernels.adamw(
        params.subarray(start, end),
        grads.subarray(start, end),
        this.m.subarray(start, end),
        this.v.subarray(start, end),
        end - start,
        lr,
        this.beta1,
        this.beta2,
        this.eps,
        wd,
        this.t,
      );
    }
  }

  /** Copies of m, v and t, for a checkpoint. */
  getState(): AdamWState {
    return { m: this.m.slice(), v: this.v.slice(), t: this.t };
  }

  setState(state: AdamWState): void {
    const n = this.m.length;
    if (state.m.length !== n || state.v.length !== n) {
      throw new StateError(
        `AdamW state has ${state.m.length} first and ${state.v.length} second moments, expected ${n} each (this model's parameter count)`,
        'the checkpoint was saved from a model of another size; resume with the same model config',
      );
    }
    if (!Number.isSafeInteger(state.t) || state.t < 0) {
      throw new StateError(`AdamW step count must be a non-negative integer, got ${state.t}`, 'the checkpoint is corrupt');
    }
    this.m.set(state.m);
    this.v.set(state.v);
    this.t = state.t;
  }
}
