// The GPT config and everything that follows from it alone: validation, the depth dial, the parameter
// size table (slab layout), parameter counts by group and FLOPs per token. Buffers and math live in gpt.ts.
import { ConfigError } from './errors.ts';

// ---- config

export interface GPTConfig {
  /** transformer blocks (L) */
  nLayer: number;
  /** residual stream width (C, d_model) */
  dModel: number;
  /** attention heads (NH); head size C / NH */
  nHead: number;
  /** vocabulary size (V) */
  vocab: number;
  /** maximum sequence length (the wpe table has this many rows) */
  context: number;
}

/**
 * The one size dial (nanochat --depth; docs/ARCHITECTURE.md 3.1): d_model = 64 * depth, heads = depth (head size 64).
 * Depth 4 is Kaplan's 3M model, depth 12 GPT-2 small.
 */
export function fromDepth(depth: number, dims: { vocab: number; context: number }): GPTConfig {
  checkPositiveInt('depth', depth, 'depth sets n_layer = depth, d_model = 64 * depth, heads = depth');
  return validateConfig({ nLayer: depth, dModel: 64 * depth, nHead: depth, vocab: dims.vocab, context: dims.context });
}

/** The most parameters a model may have: the parameter slab is one Float32Array of at most 2^31 floats. */
const MAX_PARAMS = 2 ** 31;

/** Throws ConfigError naming the first bad field; returns the config unchanged when it is valid. */
export function validateConfig(config: GPTConfig): GPTConfig {
  checkPositiveInt('nLayer', config.nLayer, 'n_layer is the number of transformer blocks');
  checkPositiveInt('dModel', config.dModel, 'd_model is the residual width');
  checkPositiveInt('nHead', config.nHead, 'n_head is the number of attention heads');
  checkPositiveInt('vocab', config.vocab, 'vocab must cover every token id the tokenizer emits');
  checkPositiveInt('context', config.context, 'context is the longest sequence the model sees');
  if (config.dModel % config.nHead !== 0) {
    throw new ConfigError(
      `d_model must be divisible by n_head: expected d_model % n_head == 0, got ${config.dModel} % ${config.nHead} = ${config.dModel % config.nHead}`,
      `pick n_head dividing ${config.dModel} (e.g. ${largestDivisorAtMost(config.dModel, config.nHead)}), or use --depth, which keeps the head size at 64`,
    );
  }
  // sizes up front: one Float32Array slab holds every parameter (and one each the gradients and AdamW's moments), so a
  // model past MAX_PARAMS floats would fail later as "RangeError: Invalid typed array length" (issue 15)
  const total = totalParams(config);
  if (total > MAX_PARAMS) {
    let depth = 1;
    while (totalParams({ ...config, nLayer: depth + 1, dModel: 64 * (depth + 1), nHead: depth + 1 }) <= MAX_PARAMS) depth++;
    throw new ConfigError(
      `the model has ${total.toExponential(2)} parameters (n_layer ${config.nLayer}, d_model ${config.dModel}), above the limit of ${MAX_PARAMS.toExponential(2)} (2^31 floats in one parameter slab; ${Math.round((MAX_PARAMS * 16) / 2 ** 30)} GiB with gradients and AdamW moments)`,
      `the largest depth at vocab ${config.vocab} and context ${config.context} is ${depth}; choose a smaller depth or d_model`,
    );
  }
  return config;
}

function totalParams({ nLayer: L, dModel: C, vocab: V, context: T }: GPTConfig): number {
  return V * C + T * C + L * (3 * C * C + 3 * C + C * C + C) + L * (4 * C * C + 4 * C + 4 * C * C + C) + L * 4 * C + 2 * C;
}

function checkPositiveInt(name: string, value: unknown, why: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(
      `${name} must be a positive integer, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
      `${why}; pass a whole number >= 1`,
    );
  }
}

function largestDivisorAtMost(n: number, k: number): number {
  for (let d = Math.min(n, k); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

// ---- size table (llm.c's fill_in_parameter_sizes)
// One Float32Array slab holds every parameter; these are its named tensors, in slab order. Per-layer
// tensors are stacked over L (llm.c), so "qkvw" (L,3C,C) holds layer l at offset l*3C*C.
// Order: the decay group first, then the no-decay group, each contiguous, so AdamW is two kernel calls.
// Weight decay follows nanoGPT's configure_optimizers: every parameter with dim >= 2 decays, and that
// includes the embeddings wte (also the tied output head) and wpe; biases and LayerNorm gains/biases do not.
// Linear weights are stored as PyTorch's nn.Linear: (out_features, in_features).
// test/golden/make_golden.py writes its parameters in exactly this order.

export interface ParamTensor {
  name: ParamName;
  shape: number[];
  size: number;
  /** offset into the slab, in floats */
  offset: number;
  /** in AdamW's weight-decay group */
  decay: boolean;
}

export const PARAM_NAMES = [
  // decay group (2-D matrices)
  'wte', // (V,C) token embedding; also the output head (tied, Press & Wolf 2017)
  'wpe', // (maxT,C) learned position embedding
  'qkvw', // (L,3C,C) attention q,k,v projection
  'attprojw', // (L,C,C) attention output projection (residual projection)
  'fcw', // (L,4C,C) MLP up projection
  'fcprojw', // (L,C,4C) MLP down projection (residual projection)
  // no-decay group (vectors)
  'ln1w', // (L,C)
  'ln1b', // (L,C)
  'qkvb', // (L,3C)
  'attprojb', // (L,C)
  'ln2w', // (L,C)
  'ln2b', // (L,C)
  'fcb', // (L,4C)
  'fcprojb', // (L,C)
  'lnfw', // (C) final LayerNorm
  'lnfb', // (C)
] as const;
export type ParamName = (typeof PARAM_NAMES)[number];

export function paramTable(config: GPTConfig): ParamTensor[] {
  const { nLayer: L, dModel: C, vocab: V, context: maxT } = validateConfig(config);
  const shapes: Record<ParamName, number[]> = {
    wte: [V, C],
    wpe: [maxT, C],
    qkvw: [L, 3 * C, C],
    attprojw: [L, C, C],
    fcw: [L, 4 * C, C],
    fcprojw: [L, C, 4 * C],
    ln1w: [L, C],
    ln1b: [L, C],
    qkvb: [L, 3 * C],
    attprojb: [L, C],
    ln2w: [L, C],
    ln2b: [L, C],
    fcb: [L, 4 * C],
    fcprojb: [L, C],
    lnfw: [C],
    lnfb: [C],
  };
  let offset = 0;
  return PARAM_NAMES.map((name, i) => {
    const shape = shapes[name];
    const size = shape.reduce((a, b) => a * b, 1);
    const t = { name, shape, size, offset, decay: i < 6 };
    offset += size;
    return t;
  });
}

// ---- parameter counts (nanochat's num_scaling_params; docs/METHODS.md 3.1)

export interface ParamCounts {
  /** disjoint groups that sum to `total` */
  groups: {
    /** token embedding, counted once although it is also the output head */
    wte: number;
    /** position embedding */
    wpe: number;
    /** all layers: qkv and output projection, weights and biases */
    attention: number;
    /** all layers: fc and projection, weights and biases */
    mlp: number;
    /** all layers: the two pre-LN LayerNorms, gains and biases */
    layernorms: number;
    /** the final LayerNorm */
    finalLayernorm: number;
  };
  /** every parameter: Chinchilla's N (Hoffmann et al. 2022 count all parameters) */
  total: number;
  /** wte + wpe */
  embedding: number;
  /** total - embedding: matrices, biases and LayerNorms */
  nonEmbedding: number;
  /**
   * Kaplan's N = 12 * n_layer * d_model^2 (Kaplan et al. 2020, section 2.1 and Table 1: 2 d_model n_layer
   * (2 d_attn + d_ff) with d_attn = d_model, d_ff = 4 d_model). Matrices only: biases and LayerNorms are
   * left out, as Kaplan's approximation does (they are < 1% of it at depth >= 2); embeddings excluded.
   */
  kaplan: number;
}

export function paramCounts(config: GPTConfig): ParamCounts {
  const { nLayer: L, dModel: C, vocab: V, context: maxT } = validateConfig(config);
  const groups = {
    wte: V * C,
    wpe: maxT * C,
    attention: L * (3 * C * C + 3 * C + C * C + C),
    mlp: L * (4 * C * C + 4 * C + 4 * C * C + C),
    layernorms: L * 4 * C,
    finalLayernorm: 2 * C,
  };
  const total = Object.values(groups).reduce((a, b) => a + b, 0);
  const embedding = groups.wte + groups.wpe;
  return { groups, total, embedding, nonEmbedding: total - embedding, kaplan: 12 * L * C * C };
}

// ---- FLOPs per token (training: forward + backward)

export interface FlopsPerToken {
  /**
   * Kaplan et al. 2020, Table 1: C_forward = 2N + 2 n_layer n_ctx d_attn per token; training (forward +
   * backward) is 3x that: 6N + 6 n_layer n_ctx d_model, with N = the Kaplan count (12 L d^2). Leaves out
   * the output head (de-embedding), as Kaplan does. Use with Kaplan's N.
   */
  kaplan: number;
  /**
   * kaplan + 6 V d_model: also the tied output-head matmul (logits = x @ wte^T), which is real compute
   * here (at V 4096, d 256, L 4 it is a quarter of the matmul work). Use for achieved-throughput (GFLOP/s).
   */
  withHead: number;
  /** the n_ctx used in the attention term */
  context: number;
}

/** FLOPs per trained token at sequence length T (default: the config's context). */
export function flopsPerToken(config: GPTConfig, T: number = config.context): FlopsPerToken {
  const { nLayer: L, dModel: C, vocab: V } = validateConfig(config);
  const N = paramCounts(config).kaplan;
  const kaplan = 6 * N + 6 * L * T * C;
  return { kaplan, withHead: kaplan + 6 * V * C, context: T };
}
