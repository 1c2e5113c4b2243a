// The engine layer's public API: model config and accounting, the GPT model, AdamW, kernels and the
// backend loader, the seeded RNG, and the engine's error types. Layers above import from here only.
export type { F32, Kernels } from './kernels.ts';
export { kernelsRef } from './kernels-ref.ts';
export { loadKernels, type BackendName, type BackendOptions } from './backend.ts';
export { Rng, hashInts } from '../util/random.ts';
export { EngineError, ConfigError, InputError, StateError } from './errors.ts';
export {
  type GPTConfig,
  type ParamName,
  type ParamTensor,
  type ParamCounts,
  type FlopsPerToken,
  PARAM_NAMES,
  fromDepth,
  validateConfig,
  paramTable,
  paramCounts,
  flopsPerToken,
} from './config.ts';
export { GPT, trainStep, type GPTOptions, type MicroBatch, type StepOptions, type StepResult } from './gpt.ts';
export { AdamW, type AdamWOptions, type AdamWState, type Optimizable } from './adamw.ts';
