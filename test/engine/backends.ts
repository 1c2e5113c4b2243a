// The kernel backends an engine suite runs over (docs/ARCHITECTURE.md 5.2: one suite, every implementation): the
// TypeScript reference always, the native addon when it loads; when it does not, the reason to skip with.
import type { Kernels } from '../../src/engine/index.ts';
import { kernelsRef } from '../../src/engine/index.ts';
import { loadKernels } from '../../src/engine/backend.ts';

export interface BackendCase {
  name: 'ts' | 'native';
  kernels: Kernels | null;
  /** why kernels is null: pass to missing(t, 'native', skip) (require.ts) */
  skip?: string;
}

export function engineBackends(): BackendCase[] {
  const list: BackendCase[] = [{ name: 'ts', kernels: kernelsRef }];
  try {
    list.push({ name: 'native', kernels: loadKernels({ backend: 'native' }) });
  } catch (e) {
    list.push({ name: 'native', kernels: null, skip: `native backend not built: ${(e as Error).message}` });
  }
  return list;
}
