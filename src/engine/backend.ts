// Chooses the kernel implementation: the native C addon when it is built and the CPU supports it,
// otherwise the TypeScript reference (saying so once). The native loading itself lives in native.ts.
import type { Kernels } from './kernels.ts';

export type BackendName = 'auto' | 'native' | 'ts';

export interface BackendOptions {
  /** 'auto' (default): native if available, else ts with a one-time notice */
  backend?: BackendName;
  /** threads for the native backend (default: all cores) */
  threads?: number;
}

export function loadKernels(_options: BackendOptions = {}): Kernels {
  throw new Error('loadKernels: not wired yet (engine issue in progress)');
}
