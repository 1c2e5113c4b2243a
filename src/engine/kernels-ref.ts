// The plain TypeScript reference for every kernel of the Kernels interface: the test oracle for the
// native C kernels and the fallback when they are not built. Speed is native.ts's job; this file is for reading.
//
// Written after llm.c's train_gpt2.c (Karpathy 2024): same signatures (outputs, inputs, weights, dims),
// backward kernels accumulate with +=. Intermediate sums run in float64 (JS numbers) and are stored as
// float32; that is at least as accurate as the float32 C loops it is compared with.
import type { F32, Kernels } from './kernels.ts';

const LN_EPS = 1e-5; // PyTorch nn.LayerNorm default, as GPT-2
const GELU_SCALE = Math.sqrt(2 / Math.PI);

// ---- encoder: token + position embeddings

function encoderForward(out: F32, inp: Int32Array, wte: F32, wpe: F32, B: number, T: number, C: number): void {
  // out (B,T,C); inp (B,T); wte (V,C); wpe (maxT,C)
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      const ix = inp[b * T + t] * C;
      const p = t * C;
      for (let i = 0; i < C; i++) out[o + i] = wte[ix + i] + wpe[p + i];
    }
  }
}

function encoderBackward(dwte: F32, dwpe: F32, dout: F32, inp: Int32Array, B: number, T: number, C: number): void {
  // dwte (V,C), dwpe (maxT,C) accumulate; dout (B,T,C)
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      const ix = inp[b * T + t] * C;
      const p = t * C;
      for (let i = 0; i < C; i++) {
        dwte[ix + i] += dout[o + i];
        dwpe[p + i] += dout[o + i];
      }
    }
  }
}

// ---- layernorm (Ba et al. 2016), eps 1e-5, biased variance as PyTorch

function layernormForward(out: F32, mean: F32, rstd: F32, inp: F32, weight: F32, bias: F32, B: number, T: number, C: number): void {
  // out (B,T,C); mean, rstd (B,T); inp (B,T,C); weight, bias (C)
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * C;
    let m = 0;
    for (let i = 0; i < C; i++) m += inp[x + i];
    m /= C;
    let v = 0;
    for (let i = 0; i < C; i++) {
      const d = inp[x + i] - m;
      v += d * d;
    }
    v /= C;
    const s = 1 / Math.sqrt(v + LN_EPS);
    for (let i = 0; i < C; i++) out[x + i] = (inp[x + i] - m) * s * weight[i] + bias[i];
    mean[bt] = m;
    rstd[bt] = s;
  }
}

function layernormBackward(dinp: F32, dweight: F32, dbias: F32, dout: F32, inp: F32, weight: F32, mean: F32, rstd: F32, B: number, T: number, C: number): void {
  // dinp (B,T,C), dweight, dbias (C) accumulate; dout, inp (B,T,C); mean, rstd (B,T)
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * C;
    const m = mean[bt];
    const s = rstd[bt];
    // two reductions: mean of dnorm and mean of dnorm * norm
    let dnormMean = 0;
    let dnormNormMean = 0;
    for (let i = 0; i < C; i++) {
      const norm = (inp[x + i] - m) * s;
      const dnorm = weight[i] * dout[x + i];
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let i = 0; i < C; i++) {
      const norm = (inp[x + i] - m) * s;
      const dnorm = weight[i] * dout[x + i];
      dbias[i] += dout[x + i];
      dweight[i] += norm * dout[x + i];
      dinp[x + i] += (dnorm - dnormMean - norm * dnormNormMean) * s;
    }
  }
}

// ---- matmul: out = inp @ weight^T + bias (PyTorch nn.Linear layout, weight (OC,C))

function matmulForward(out: F32, inp: F32, weight: F32, bias: F32 | null, B: number, T: number, C: number, OC: number): void {
  // out (B,T,OC); inp (B,T,C); weight (OC,C); bias (OC) or null
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * C;
    const y = bt * OC;
    for (let o = 0; o < OC; o++) {
      const w = o * C;
      let sum = bias === null ? 0 : bias[o];
      for (let i = 0; i < C; i++) sum += inp[x + i] * weight[w + i];
      out[y + o] = sum;
    }
  }
}

function matmulBackward(dinp: F32, dweight: F32, dbias: F32 | null, dout: F32, inp: F32, weight: F32, B: number, T: number, C: number, OC: number): void {
  // dinp (B,T,C) += dout @ weight; dweight (OC,C) += dout^T @ inp; dbias (OC) += sum over (B,T) of dout
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * C;
    const y = bt * OC;
    for (let o = 0; o < OC; o++) {
      const d = dout[y + o];
      const w = o * C;
      for (let i = 0; i < C; i++) dinp[x + i] += weight[w + i] * d;
    }
  }
  for (let o = 0; o < OC; o++) {
    const w = o * C;
    let db = 0;
    for (let bt = 0; bt < B * T; bt++) {
      const d = dout[bt * OC + o];
      db += d;
      if (d === 0) continue;
      const x = bt * C;
      for (let i = 0; i < C; i++) dweight[w + i] += inp[x + i] * d;
    }
    if (dbias !== null) dbias[o] += db;
  }
}

// ---- causal multi-head self-attention (Vaswani et al. 2017; GPT-2's causal mask)

function attentionForward(out: F32, preatt: F32, att: F32, inp: F32, B: number, T: number, C: number, NH: number): void {
  // inp (B,T,3C) = [q | k | v], each (NH, HS) inside its C; out (B,T,C); preatt, att (B,NH,T,T)
  // Masked entries (t2 > t) are written as 0 in both preatt and att.
  const C3 = 3 * C;
  const HS = C / NH;
  const scale = 1 / Math.sqrt(HS);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const q = b * T * C3 + t * C3 + h * HS;
        const a = ((b * NH + h) * T + t) * T; // row (b,h,t) of preatt/att
        // pass 1: scores q.k / sqrt(HS) and their max
        let maxval = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = b * T * C3 + t2 * C3 + h * HS + C;
          let dot = 0;
          for (let i = 0; i < HS; i++) dot += inp[q + i] * inp[k + i];
          dot *= scale;
          preatt[a + t2] = dot;
          if (dot > maxval) maxval = dot;
        }
        // pass 2: softmax over t2 <= t
        let expsum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const e = Math.exp(preatt[a + t2] - maxval);
          att[a + t2] = e;
          expsum += e;
        }
        const inv = 1 / expsum;
        for (let t2 = 0; t2 < T; t2++) {
          if (t2 <= t) att[a + t2] *= inv;
          else {
            att[a + t2] = 0;
            preatt[a + t2] = 0;
          }
        }
        // pass 3: weighted sum of values
        const o = b * T * C + t * C + h * HS;
        for (let i = 0; i < HS; i++) out[o + i] = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = b * T * C3 + t2 * C3 + h * HS + 2 * C;
          const w = att[a + t2];
          for (let i = 0; i < HS; i++) out[o + i] += w * inp[v + i];
        }
      }
    }
  }
}

function attentionBackward(dinp: F32, dpreatt: F32, datt: F32, dout: F32, inp: F32, att: F32, B: number, T: number, C: number, NH: number): void {
  // dinp (B,T,3C) accumulates; dout (B,T,C); inp (B,T,3C); att (B,NH,T,T)
  // dpreatt, datt (B,NH,T,T): scratch, overwritten on the causal part (t2 <= t).
  const C3 = 3 * C;
  const HS = C / NH;
  const scale = 1 / Math.sqrt(HS);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const q = b * T * C3 + t * C3 + h * HS;
        const a = ((b * NH + h) * T + t) * T;
        const o = b * T * C + t * C + h * HS;
        // through out = sum_t2 att[t2] * v[t2]
        for (let t2 = 0; t2 <= t; t2++) {
          const v = b * T * C3 + t2 * C3 + h * HS + 2 * C;
          const w = att[a + t2];
          let d = 0;
          for (let i = 0; i < HS; i++) {
            d += inp[v + i] * dout[o + i];
            dinp[v + i] += w * dout[o + i];
          }
          datt[a + t2] = d;
        }
        // through softmax: dpreatt = att * (datt - sum_t2 att[t2] datt[t2])
        let dot = 0;
        for (let t2 = 0; t2 <= t; t2++) dot += att[a + t2] * datt[a + t2];
        for (let t2 = 0; t2 <= t; t2++) dpreatt[a + t2] = att[a + t2] * (datt[a + t2] - dot);
        // through preatt = q.k * scale
        for (let t2 = 0; t2 <= t; t2++) {
          const k = b * T * C3 + t2 * C3 + h * HS + C;
          const d = dpreatt[a + t2] * scale;
          for (let i = 0; i < HS; i++) {
            dinp[q + i] += inp[k + i] * d;
            dinp[k + i] += inp[q + i] * d;
          }
        }
      }
    }
  }
}

// ---- GELU, tanh approximation (Hendrycks & Gimpel 2016; GPT-2; PyTorch approximate='tanh')

function geluForward(out: F32, inp: F32, N: number): void {
  // out (N) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  for (let i = 0; i < N; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + 0.044715 * x * x * x)));
  }
}

function geluBackward(dinp: F32, inp: F32, dout: F32, N: number): void {
  // dinp (N) += gelu'(x) dout; sech^2 written as 1 - tanh^2 (no cosh overflow for large |x|)
  for (let i = 0; i < N; i++) {
    const x = inp[i];
    const th = Math.tanh(GELU_SCALE * (x + 0.044715 * x * x * x));
    const sech2 = 1 - th * th;
    const local = 0.5 * (1 + th) + 0.5 * x * sech2 * GELU_SCALE * (1 + 3 * 0.044715 * x * x);
    dinp[i] += local * dout[i];
  }
}

// ---- residual

function residualForward(out: F32, inp1: F32, inp2: F32, N: number): void {
  for (let i = 0; i < N; i++) out[i] = inp1[i] + inp2[i];
}

function residualBackward(dinp1: F32, dinp2: F32, dout: F32, N: number): void {
  for (let i = 0; i < N; i++) {
    dinp1[i] += dout[i];
    dinp2[i] += dout[i];
  }
}

// ---- softmax + cross-entropy, fused as llm.c

function softmaxCrossEntropyForward(losses: F32, probs: F32, logits: F32, targets: Int32Array, B: number, T: number, V: number): void {
  // losses (B,T); probs, logits (B,T,V); targets (B,T).
  // loss = logsumexp(logits) - logits[target] in float64, not -log(float32 prob), so a tiny prob stays finite.
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * V;
    let maxval = -Infinity;
    for (let i = 0; i < V; i++) if (logits[x + i] > maxval) maxval = logits[x + i];
    let sum = 0;
    for (let i = 0; i < V; i++) {
      const e = Math.exp(logits[x + i] - maxval);
      probs[x + i] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let i = 0; i < V; i++) probs[x + i] *= inv;
    losses[bt] = Math.log(sum) + maxval - logits[x + targets[bt]];
  }
}

function softmaxCrossEntropyBackward(dlogits: F32, probs: F32, targets: Int32Array, dloss: number, B: number, T: number, V: number): void {
  // dlogits (B,T,V) += (probs - onehot(target)) * dloss
  for (let bt = 0; bt < B * T; bt++) {
    const x = bt * V;
    for (let i = 0; i < V; i++) dlogits[x + i] += probs[x + i] * dloss;
    dlogits[x + targets[bt]] -= dloss;
  }
}

// ---- AdamW (Loshchilov & Hutter 2019, Algorithm 2; the update PyTorch's torch.optim.AdamW makes)

function adamw(
  params: F32,
  grads: F32,
  m: F32,
  v: F32,
  N: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  t: number,
): void {
  // m, v: first and second moments; bias-corrected with step t >= 1; decay decoupled from the gradient:
  // p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p), with the old p in the decay term, as PyTorch.
  const bc1 = 1 - Math.pow(beta1, t);
  const bc2 = 1 - Math.pow(beta2, t);
  for (let i = 0; i < N; i++) {
    const g = grads[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const mhat = mi / bc1;
    const vhat = vi / bc2;
    params[i] -= lr * (mhat / (Math.sqrt(vhat) + eps) + weightDecay * params[i]);
  }
}

// ---- reductions and scaling (gradient norms, clipping)

function sumSquares(x: F32, N: number): number {
  let s = 0; // float64
  for (let i = 0; i < N; i++) s += x[i] * x[i];
  return s;
}

function scale(x: F32, s: number, N: number): void {
  for (let i = 0; i < N; i++) x[i] *= s;
}

export const kernelsRef: Kernels = {
  backend: 'ts',
  threads: 1,
  encoderForward,
  encoderBackward,
  layernormForward,
  layernormBackward,
  matmulForward,
  matmulBackward,
  attentionForward,
  attentionBackward,
  geluForward,
  geluBackward,
  residualForward,
  residualBackward,
  softmaxCrossEntropyForward,
  softmaxCrossEntropyBackward,
  adamw,
  sumSquares,
  scale,
};
