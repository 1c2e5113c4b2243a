// Compute-optimal allocation: for a FLOP budget C = 6 N D, the N and D that minimise a fitted L(N, D), and
// the exponents of N_opt ~ C^a, D_opt ~ C^b, with intervals from bootstrap samples. Fits live elsewhere.
import { chinchillaLoss, paramsFromX, type ChinchillaBootstrap, type ChinchillaParams } from './chinchilla.ts';
import type { KaplanNDKey, KaplanNDParams } from './kaplan.ts';
import { quantile, type BootstrapResult } from './stats.ts';

export interface Allocation {
  /** the FLOP budget */
  c: number;
  nOpt: number;
  dOpt: number;
  /** predicted loss at (nOpt, dOpt) */
  loss: number;
  /** N_opt ~ C^a, D_opt ~ C^b */
  a: number;
  b: number;
}

export interface AllocationInterval extends Allocation {
  level: number;
  ci: { nOpt: [number, number]; dOpt: [number, number]; loss: [number, number]; a: [number, number]; b: [number, number] };
}

/**
 * Hoffmann et al. 2022 appendix D.2, eq. (4), with C = 6 N D:
 *   G = (alpha A / (beta B))^(1 / (alpha + beta)),
 *   N_opt(C) = G (C/6)^(beta / (alpha + beta)),  D_opt(C) = G^-1 (C/6)^(alpha / (alpha + beta)).
 */
export function chinchillaAllocation(p: ChinchillaParams, c: number): Allocation {
  const s = p.alpha + p.beta;
  const G = ((p.alpha * p.A) / (p.beta * p.B)) ** (1 / s);
  const a = p.beta / s;
  const b = p.alpha / s;
  const nOpt = G * (c / 6) ** a;
  const dOpt = (c / 6) ** b / G;
  return { c, nOpt, dOpt, loss: chinchillaLoss(p, nOpt, dOpt), a, b };
}

/** The estimate with percentile intervals at `level` over the refits' own allocations (non-finite ones left out). */
function withInterval(est: Allocation, all: readonly Allocation[], level: number): AllocationInterval {
  const q = (key: keyof Allocation): [number, number] => {
    const v = all.map((r) => r[key]).filter(Number.isFinite);
    const lo = (1 - level) / 2;
    return [quantile(v, lo), quantile(v, 1 - lo)];
  };
  return { ...est, level, ci: { nOpt: q('nOpt'), dOpt: q('dOpt'), loss: q('loss'), a: q('a'), b: q('b') } };
}

/** The allocation with percentile intervals over the bootstrap refits (each refit's own allocation). */
export function chinchillaAllocationInterval(p: ChinchillaParams, boot: ChinchillaBootstrap, c: number): AllocationInterval {
  return withInterval(
    chinchillaAllocation(p, c),
    boot.x.map((x) => chinchillaAllocation(paramsFromX(x), c)),
    boot.level,
  );
}

/**
 * Kaplan et al. 2020 eq. (1.5) L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D minimised over N with
 * D = C / (6N): setting the derivative of the bracket to zero gives
 *   N_opt^(1 + alpha_N/alpha_D) = (alpha_N/alpha_D) N_c^(alpha_N/alpha_D) C / (6 D_c),
 * so N_opt ~ C^(alpha_D / (alpha_N + alpha_D)) and D_opt ~ C^(alpha_N / (alpha_N + alpha_D)). (Kaplan's
 * headline N_opt ~ C^0.73 comes from L(N, S_min) with B_crit, section 6, not from this form.)
 */
export function kaplanAllocation(p: KaplanNDParams, c: number): Allocation {
  const r = p.alphaN / p.alphaD;
  const nOpt = ((r * p.Nc ** r * c) / (6 * p.Dc)) ** (1 / (1 + r));
  const dOpt = c / (6 * nOpt);
  const loss = ((p.Nc / nOpt) ** r + p.Dc / dOpt) ** p.alphaD;
  return { c, nOpt, dOpt, loss, a: p.alphaD / (p.alphaN + p.alphaD), b: p.alphaN / (p.alphaN + p.alphaD) };
}

/**
 * kaplanAllocation with percentile intervals over the bootstrap refits of Kaplan's L(N, D) (bootstrapKaplanND):
 * each resample's own allocation. The exponents a, b depend only on alpha_N and alpha_D, not on c.
 */
export function kaplanAllocationInterval(p: KaplanNDParams, boot: BootstrapResult<KaplanNDKey>, c: number): AllocationInterval {
  const { Nc, Dc, alphaN, alphaD } = boot.samples;
  const all = Array.from(alphaN, (_, i) => kaplanAllocation({ Nc: Nc[i], Dc: Dc[i], alphaN: alphaN[i], alphaD: alphaD[i] }, c));
  return withInterval(kaplanAllocation(p, c), all, boot.level);
}
