// Chooses the kernel implementation: the native C addon when it is built and the CPU supports it,
// otherwise the TypeScript reference (saying so once). The native loading itself lives in native.ts.
import type { Kernels } from './kernels.ts';
import { kernelsRef } from './kernels-ref.ts';
import { createNativeKernels, defaultThreads, nativeStatus, NATIVE_BUILD_HINT, NativeUnavailableError } from './native.ts';

export type BackendName = 'auto' | 'native' | 'ts';

export interface BackendOptions {
  /** 'auto' (default): native if available, else ts with a one-time notice */
  backend?: BackendName;
  /** threads for the native backend (default: all cores) */
  threads?: number;
}

/** A backend option that makes no sense (unknown name, bad thread count). */
class BackendOptionError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'BackendOptionError';
    this.hint = hint;
  }
}

export { NativeUnavailableError };

let noticeGiven = false;

export function loadKernels(options: BackendOptions = {}): Kernels {
  const backend = options.backend ?? 'auto';
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new BackendOptionError(
      `threads must be an integer from 1 to 64, got ${String(options.threads)}`,
      `pass --threads N with N between 1 and 64 (this machine has ${defaultThreads()} cores)`,
    );
  }
  switch (backend) {
    case 'ts':
      return kernelsRef;
    case 'native':
      return createNativeKernels(threads); // throws NativeUnavailableError with a hint
    case 'auto': {
      const status = nativeStatus();
      if (status.available) return createNativeKernels(threads);
      if (!noticeGiven) {
        noticeGiven = true;
        process.stderr.write(
          `scaling-lab: native kernels unavailable (${status.reason}); using the TypeScript reference ` +
            `kernels, which are much slower. To fix: ${NATIVE_BUILD_HINT}.\n`,
        );
      }
      return kernelsRef;
    }
    default:
      backend satisfies never;
      throw new BackendOptionError(`unknown backend '${String(backend)}'`, "choose 'auto', 'native' or 'ts'");
  }
}
