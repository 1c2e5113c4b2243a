// Loads our C kernels (build/Release/scaling_lab_native.node, built from native/ by scripts/build-native.mjs
// at npm install) and wraps them as a Kernels implementation. Choosing native or the reference is backend.ts's job.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { F32, Kernels } from './kernels.ts';

const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../build/Release/scaling_lab_native.node', import.meta.url));

const KERNEL_NAMES = [
  'encoderForward',
  'encoderBackward',
  'layernormForward',
  'layernormBackward',
  'matmulForward',
  'matmulBackward',
  'attentionForward',
  'attentionBackward',
  'geluForward',
  'geluBackward',
  'residualForward',
  'residualBackward',
  'softmaxCrossEntropyForward',
  'softmaxCrossEntropyBackward',
  'adamw',
  'sumSquares',
  'scale',
] as const;

type KernelFns = Omit<Kernels, 'backend' | 'threads'>;

interface Addon extends KernelFns {
  /** C (m,n; row stride ldc) += A (m,k) @ B (k,n); A(i,p) = a[i*ars + p*acs], B(p,j) = b[p*brs + j*bcs] */
  gemm(c: F32, ldc: number, a: F32, ars: number, acs: number, b: F32, brs: number, bcs: number, m: number, n: number, k: number): void;
  setThreads(threads: number): number;
  setIsa(isa: 'avx2' | 'base'): boolean;
  info(): { isa: 'avx2' | 'base'; best: 'avx2' | 'base'; threads: number };
}

/** The native kernels, plus what only they have: the instruction set in use and the raw GEMM (bench). */
export interface NativeKernels extends Kernels {
  readonly backend: 'native';
  /** 'avx2' (AVX2 + FMA) or 'base' (portable build, chosen at load time by CPUID) */
  readonly isa: 'avx2' | 'base';
  gemm: Addon['gemm'];
}

/** The native backend was asked for but cannot load. */
export class NativeUnavailableError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'NativeUnavailableError';
    this.hint = hint;
  }
}

export const NATIVE_BUILD_HINT =
  'build the C kernels with `node scripts/build-native.mjs` (needs a C compiler, make and python3; ' +
  'npm install runs it), or choose the TypeScript kernels with --backend ts';

let addon: Addon | undefined;
let loadFailure: string | undefined;

/** Whether the addon loads here, and if not, why (cached: the load is attempted once per process). */
export function nativeStatus(): { available: true; isa: 'avx2' | 'base' } | { available: false; reason: string } {
  if (addon === undefined && loadFailure === undefined) {
    if (!existsSync(NATIVE_ADDON_PATH)) {
      loadFailure = `the addon is not built (${NATIVE_ADDON_PATH} is missing)`;
    } else {
      try {
        addon = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as Addon;
      } catch (err) {
        loadFailure = `the addon failed to load: ${(err as Error).message}`;
      }
    }
  }
  return addon ? { available: true, isa: addon.info().best } : { available: false, reason: loadFailure ?? 'unknown' };
}

/** Default thread count: every core this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

// The C thread pool and kernel table are one per process; each Kernels object re-selects its own thread
// count and build when the last call came from another object (cheap: extra threads just sleep).
let poolThreads = 0;
let tableIsa = '';

/**
 * The C kernels as a Kernels object using `threads` threads (default: all cores) and the best build this
 * CPU supports, or `isa: 'base'` to force the portable build (tests). Throws NativeUnavailableError.
 */
export function createNativeKernels(threads: number = defaultThreads(), options: { isa?: 'avx2' | 'base' } = {}): NativeKernels {
  const status = nativeStatus();
  if (!status.available || addon === undefined) {
    throw new NativeUnavailableError(`native kernels unavailable: ${status.available ? 'unknown' : status.reason}`, NATIVE_BUILD_HINT);
  }
  const a = addon;
  const isa = options.isa ?? status.isa;
  if (isa === 'avx2' && status.isa !== 'avx2') {
    throw new NativeUnavailableError('the AVX2/FMA kernels need a CPU with AVX2 and FMA', 'leave the instruction set to the default');
  }
  const sync = (): void => {
    if (poolThreads !== threads) {
      a.setThreads(threads);
      poolThreads = threads;
    }
    if (tableIsa !== isa) {
      a.setIsa(isa);
      tableIsa = isa;
    }
  };
  const fns: Record<string, unknown> = {};
  for (const name of [...KERNEL_NAMES, 'gemm'] as const) {
    const fn = a[name] as (...args: unknown[]) => unknown;
    fns[name] = (...args: unknown[]): unknown => {
      sync();
      return fn(...args);
    };
  }
  return { ...(fns as unknown as KernelFns & Pick<Addon, 'gemm'>), backend: 'native', threads, isa };
}
