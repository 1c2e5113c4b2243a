// The record types every layer above analysis/ shares: a training run and its metric rows.
// Our own runs (train/, store/) and runs imported from other trainers are the same to analysis/.

/** Where a run stands. `diverged` is a result (NaN or exploding loss), not a crash. */
export type RunStatus = 'pending' | 'running' | 'done' | 'diverged' | 'failed';

/** Kaplan et al. 2020 count non-embedding parameters; Hoffmann et al. 2022 count all of them. */
export type ParamConvention = 'kaplan' | 'total';

/** One row of a run's metrics log. Step s counts optimiser updates; after step s, tokens = s * batchTokens. */
export interface MetricRow {
  step: number;
  tokens: number;
  /** training FLOPs so far, by the model's own accounting (6N + attention term per token) */
  flops: number;
  trainLoss: number;
  lr: number;
  gradNorm: number;
  /** milliseconds since the run started, summed across resumes */
  wallMs: number;
  /** mean test loss on the fixed evaluation windows; only at eval steps */
  testLoss?: number;
  /**
   * gradient noise scale B_simple (McCandlish et al. 2018), in sequences and in tokens: the ratio of the
   * bias-corrected EMAs (beta noiseBeta, started at step 1) of the two estimates below. For live progress only: in
   * a short run it lags the loss by up to ~1/(1 - beta) steps; analysis should use gradSq and traceSigma.
   */
  bSimple?: number;
  bSimpleTokens?: number;
  /**
   * this step's raw unbiased estimates of |G|^2 and tr(Sigma) (per-sequence covariance), from the micro-batch and
   * accumulated gradient norms (McCandlish et al. 2018 App. A.1); not smoothed, so one row is noisy and |G|^2 can
   * be negative. Average each over many rows (e.g. a loss bin) and divide: B_simple = mean traceSigma / mean gradSq,
   * in sequences (times context for tokens). Trainer version 1 logged their EMAs here instead.
   */
  gradSq?: number;
  traceSigma?: number;
}

/** The model's shape, when known (imported runs may only know their parameter counts). */
export interface ModelShape {
  nLayer: number;
  dModel: number;
  nHead: number;
  vocab: number;
  context: number;
}

/** One training run: what it was (its spec's summary) and what it measured. */
export interface RunRecord {
  /** derived from the spec: same spec, same id */
  id: string;
  /** readable, e.g. d2-b32-s0-t1M; not unique (ids are) */
  name: string;
  status: RunStatus;
  /** the sweep this run belongs to, if any */
  sweep?: string;
  model?: ModelShape;
  /** non-embedding parameters (Kaplan's N) */
  paramsKaplan: number;
  /** all parameters (Chinchilla's N) */
  paramsTotal: number;
  /** sequences per optimiser step */
  batchSize: number;
  /** tokens per sequence (T) */
  context: number;
  /** tokens per optimiser step, batchSize * context */
  batchTokens: number;
  /** peak learning rate */
  lr?: number;
  /** steps of learning-rate warm-up: B_crit levels reached inside it are distorted (docs/METHODS.md 1.1, 1.6) */
  warmupSteps?: number;
  seed?: number;
  /** LR schedule after warm-up ('constant', 'cosine', 'wsd', or an importer's name): runs are grouped by it */
  schedule?: string;
  /** the data: corpus and tokenizer, e.g. 'gutenberg/byte', 'gutenberg/bpe-4096': runs are grouped by it */
  data?: string;
  /** who trained it: absent for scaling-lab's own trainer, else the external trainer's name from the sweep spec or the
   * importer (issue 17); reports compare trainers side by side and never pool them into one law */
  trainer?: string;
  metrics: MetricRow[];
}

// ---- analysis inputs (added by issue 5): what the importers and the store adapters hand to the fits

/** How a data set counts N and C: Kaplan's non-embedding or all parameters; FLOPs as given or C = 6ND. */
export interface Accounting {
  /** 'unknown' for imported data that does not say */
  n: ParamConvention | 'unknown';
  flops: 'given' | '6ND';
}

/** One run reduced to its end point: the input of L(N, D) fits (Hoffmann et al. 2022 Approaches 2 and 3). */
export interface ScalingPoint {
  /** run id, or the row it came from */
  id: string;
  /** parameters, in the data set's convention */
  n: number;
  /** training tokens */
  d: number;
  /** training FLOPs */
  c: number;
  loss: number;
}

/** One point of a loss curve. */
export interface CurvePoint {
  step: number;
  tokens: number;
  loss: number;
  flops?: number;
}

/** One run's loss curve: the input of batch-size scans (critical batch size) and compute envelopes. */
export interface LossCurve {
  id: string;
  /** tokens per optimiser step */
  batchTokens: number;
  /** parameters, when known (compute envelope, Approach 1) */
  n?: number;
  lr?: number;
  /** learning-rate warm-up steps, when known and no LR series is: progress is LR-weighted (docs/METHODS.md 1.1) */
  warmupSteps?: number;
  /** the learning rate at logged steps (any rows, not only evals), by step: progress is LR-weighted from it */
  lrSchedule?: { step: number; lr: number }[];
  /** the run's seed (or replica id): runs sharing a batch size and seed form an LR envelope; seeds are replicas */
  seed?: number | string;
  /** the scan this run belongs to (model size x sweep x schedule x data, or an import's group column) */
  group?: string;
  /** by step, increasing */
  points: CurvePoint[];
}
