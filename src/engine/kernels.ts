// The kernel set the GPT engine is built from, in llm.c's shape: outputs first, then inputs, weights,
// dimensions (B, T, C, OC, V, NH). Two implementations share this interface: kernels-ref.ts (plain
// TypeScript: the test oracle and the fallback) and native.ts (our C addon). The model owns the buffers.
//
// Conventions every implementation keeps:
// - Arrays are Float32Array views (often subarrays of one slab); shapes are given in the comments.
// - Backward kernels ACCUMULATE (+=) into their gradient outputs, as in llm.c, so the caller zeroes.
// - GELU is GPT-2's tanh approximation (PyTorch: nn.GELU(approximate='tanh')).
// - Attention is causal; head size HS = C / NH; scores are scaled by 1/sqrt(HS).

export type F32 = Float32Array;

export interface Kernels {
  /** 'ts' for the TypeScript reference, 'native' for the C addon. */
  readonly backend: 'ts' | 'native';
  /** Threads this implementation uses (1 for the reference). */
  readonly threads: number;

  // out (B,T,C) = wte[inp] + wpe[t]; inp (B,T) token ids; wte (V,C); wpe (maxT,C)
  encoderForward(out: F32, inp: Int32Array, wte: F32, wpe: F32, B: number, T: number, C: number): void;
  // dwte (V,C) += ..., dwpe (maxT,C) += ...; dout (B,T,C)
  encoderBackward(dwte: F32, dwpe: F32, dout: F32, inp: Int32Array, B: number, T: number, C: number): void;

  // out (B,T,C); mean, rstd (B,T) saved for backward; inp (B,T,C); weight, bias (C); eps 1e-5
  layernormForward(out: F32, mean: F32, rstd: F32, inp: F32, weight: F32, bias: F32, B: number, T: number, C: number): void;
  // dinp (B,T,C), dweight, dbias (C) accumulate
  layernormBackward(dinp: F32, dweight: F32, dbias: F32, dout: F32, inp: F32, weight: F32, mean: F32, rstd: F32, B: number, T: number, C: number): void;

  // out (B,T,OC) = inp (B,T,C) @ weight (OC,C)^T + bias (OC) (bias may be null)
  matmulForward(out: F32, inp: F32, weight: F32, bias: F32 | null, B: number, T: number, C: number, OC: number): void;
  // dinp (B,T,C), dweight (OC,C), dbias (OC, may be null) accumulate; dout (B,T,OC)
  matmulBackward(dinp: F32, dweight: F32, dbias: F32 | null, dout: F32, inp: F32, weight: F32, B: number, T: number, C: number, OC: number): void;

  // inp (B,T,3C) holds q,k,v; out (B,T,C); preatt, att (B,NH,T,T) (att saved for backward)
  attentionForward(out: F32, preatt: F32, att: F32, inp: F32, B: number, T: number, C: number, NH: number): void;
  // dinp (B,T,3C) accumulates; dpreatt, datt (B,NH,T,T) are scratch the kernel may overwrite
  attentionBackward(dinp: F32, dpreatt: F32, datt: F32, dout: F32, inp: F32, att: F32, B: number, T: number, C: number, NH: number): void;

  // out (N) = gelu(inp (N))
  geluForward(out: F32, inp: F32, N: number): void;
  // dinp (N) += gelu'(inp) * dout
  geluBackward(dinp: F32, inp: F32, dout: F32, N: number): void;

  // out (N) = inp1 + inp2
  residualForward(out: F32, inp1: F32, inp2: F32, N: number): void;
  // dinp1 += dout; dinp2 += dout
  residualBackward(dinp1: F32, dinp2: F32, dout: F32, N: number): void;

  // probs (B,T,V) = softmax(logits (B,T,V)); losses (B,T) = -log probs[target]; targets (B,T)
  softmaxCrossEntropyForward(losses: F32, probs: F32, logits: F32, targets: Int32Array, B: number, T: number, V: number): void;
  // dlogits (B,T,V) += (probs - onehot(target)) * dloss, the same dloss for every position
  // (1 / (B*T) for a mean loss; scaled further under gradient accumulation)
  softmaxCrossEntropyBackward(dlogits: F32, probs: F32, targets: Int32Array, dloss: number, B: number, T: number, V: number): void;

  // AdamW over N parameters, in place (Loshchilov & Hutter 2019): decoupled weight decay, bias correction
  // with step t >= 1. weightDecay applies to this whole range (the model calls it per decay group).
  adamw(params: F32, grads: F32, m: F32, v: F32, N: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number): void;

  // sum of x[i]^2 over N, accumulated in float64
  sumSquares(x: F32, N: number): number;
  // x[i] *= s
  scale(x: F32, s: number, N: number): void;
}
