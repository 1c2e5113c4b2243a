// Whether a report's findings are sensible enough to present (the demo's gate): B_crit rises as loss falls,
// the noise scale is within an order of magnitude of B_crit, and L(N, D) has positive exponents. Each check
// says what it saw and, when it fails, why and what to change. The fits themselves are analysis/'s.
import { noiseToBcrit } from '../analysis/noise.ts';
import type { BcritLevel } from '../analysis/bcrit.ts';
import type { Report } from './build.ts';
import { formatSig } from '../util/format.ts';

export interface Check {
  name: string;
  passed: boolean;
  /** what was measured, in words a reader can verify against the report */
  detail: string;
}

/** three significant digits, kept (1.50e+4, 0.250, 0.00e+0), with an exponent outside [1e-2, 1e4) and for zero */
const fmt = (x: number) => formatSig(x, { small: 1e-2, large: 1e4, trim: false, zeroExponent: true });

/** Spearman rank correlation (no ties expected in continuous data; ties get the mean rank). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  const rank = (v: readonly number[]) => {
    const order = v.map((value, i) => ({ value, i })).sort((a, b) => a.value - b.value);
    const r = new Array<number>(v.length);
    for (let k = 0; k < order.length;) {
      let j = k;
      while (j + 1 < order.length && order[j + 1].value === order[k].value) j++;
      for (let m = k; m <= j; m++) r[order[m].i] = (k + j) / 2;
      k = j + 1;
    }
    return r;
  };
  const rx = rank(x),
    ry = rank(y);
  const mean = (v: number[]) => v.reduce((s, a) => s + a, 0) / v.length;
  const mx = mean(rx),
    my = mean(ry);
  let sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Levels in the B_crit(L) law: status ok (past the transient, in the power-law regime; docs/METHODS.md 1.6). */
const usable = (levels: readonly BcritLevel[]) => levels.filter((l) => l.status === 'ok');

/** The size groups that scan batch sizes; a size x data grid's groups have one batch size each and are not scans. */
const scans = (report: Report) => report.fits.scans.filter((s) => s.group.batchTokens.length > 1);

/** Kaplan et al. 2020 Figure 10: in every model size, B_crit grows as the loss falls. */
function bcritChecks(report: Report): Check[] {
  const all = scans(report);
  if (all.length === 0)
    return [
      {
        name: 'B_crit rises as loss falls',
        passed: false,
        detail: 'no batch-size scan in these runs: a scan needs one model size trained at 3 or more batch sizes',
      },
    ];
  return all.map(({ group, analysis, reason }) => {
    const name = `B_crit rises as loss falls (${group.label} params)`;
    if (!analysis) return { name, passed: false, detail: `no scan analysis: ${reason}` };
    const ok = usable(analysis.levels).sort((a, b) => b.loss - a.loss);
    if (ok.length < 3) {
      const reasons = [...new Set(analysis.levels.filter((l) => l.status !== 'ok').map((l) => l.status))].join(', ');
      return {
        name,
        passed: false,
        detail: `only ${ok.length} loss levels could be fitted (others: ${reasons || 'warm-up'}); the runs share too few losses: give each run more tokens, or scan more batch sizes`,
      };
    }
    const rho = spearman(
      ok.map((l) => l.loss),
      ok.map((l) => l.bCrit),
    );
    const first = ok[0],
      last = ok[ok.length - 1];
    const detail = `${fmt(first.bCrit)} -> ${fmt(last.bCrit)} tokens from L ${first.loss.toFixed(2)} to ${last.loss.toFixed(2)}; Spearman rho(L, B_crit) ${rho.toFixed(2)} over ${ok.length} levels`;
    const passed = rho <= -0.5 && (analysis.fit?.alphaB ?? 0) > 0;
    return {
      name,
      passed,
      detail: passed ? detail : `${detail}; expected rho <= -0.5 and alpha_B > 0: the scan is too noisy or too short (more tokens per run, or more evals)`,
    };
  });
}

/** McCandlish et al. 2018: B_crit ~ B_noise; B_simple should land within an order of magnitude of it. */
function noiseChecks(report: Report): Check[] {
  const out: Check[] = [];
  for (const { group, analysis } of scans(report)) {
    const series = report.fits.noise.find((s) => s.label === group.label);
    const name = `noise scale within 10x of B_crit (${group.label} params)`;
    if (!series || !analysis) {
      out.push({
        name,
        passed: false,
        detail: !series
          ? 'no noise-scale measurements: runs need a micro-batch below the batch, 2 or more micro-batches (train --micro-batch, or microBatch in a sweep spec)'
          : 'no B_crit levels to compare with',
      });
      continue;
    }
    const ratios = noiseToBcrit(series.bins, usable(analysis.levels));
    if (ratios.length === 0) {
      out.push({
        name,
        passed: false,
        detail: 'no loss level where both B_simple and B_crit were measured: the noise-scale losses and the B_crit levels do not overlap',
      });
      continue;
    }
    const sorted = ratios.map((r) => r.ratio).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const detail = `B_simple / B_crit median ${fmt(median)} (range ${fmt(sorted[0])}..${fmt(sorted[sorted.length - 1])}) at ${ratios.length} losses (B_simple vs ${series.loss} loss, B_crit vs test loss)`;
    const passed = median >= 0.1 && median <= 10;
    out.push({
      name,
      passed,
      detail: passed ? detail : `${detail}; expected 0.1..10: check the noise probe's micro-batch size (B_big should exceed B_simple)`,
    });
  }
  return out;
}

/** Hoffmann et al. 2022: loss falls with both N and D, so both exponents are positive. */
function lndCheck(report: Report): Check {
  const name = 'L(N, D) fit has positive exponents';
  const c = report.headline.chinchilla;
  if (!c) return { name, passed: false, detail: `no L(N, D) fit: ${report.fits.lndReason ?? 'no size x data runs'}` };
  const { alpha, beta } = c.params;
  const detail = `alpha ${fmt(alpha)} [${fmt(c.ci.alpha[0])}, ${fmt(c.ci.alpha[1])}], beta ${fmt(beta)} [${fmt(c.ci.beta[0])}, ${fmt(c.ci.beta[1])}] over ${c.runs} runs`;
  const passed = alpha > 0 && beta > 0 && Number.isFinite(c.params.E);
  return {
    name,
    passed,
    detail: passed ? detail : `${detail}; an exponent at or below 0 means the grid cannot separate the N and D terms: widen the range of sizes or tokens`,
  };
}

/**
 * Things that are true of a fit but easy to misread, said next to the numbers. At laptop scale the runs are far
 * from convergence, so the irreducible loss E is often not identified and runs to its bound.
 */
export function fitCaveats(report: Report): string[] {
  const out: string[] = [];
  for (const { group, analysis } of scans(report)) {
    if (!analysis) continue;
    for (const w of analysis.fitWarnings) out.push(`B_crit(L) of ${group.label}: ${w}`);
    // runs of different batch sizes at the same loss should measure the same B_simple (docs/METHODS.md section 2):
    // a finding to read, not a gate: per-step estimates are noisy and the spread on a laptop scan is ~2-3x
    const ag = report.fits.noise.find((n) => n.label === group.label)?.agreement;
    if (ag && Number.isFinite(ag.spreadMedian)) {
      const excluded = ag.bins.reduce((n, b) => n + b.excluded, 0);
      out.push(
        `noise scale of ${group.label} across batch sizes (best-LR runs, ${ag.bins.length} bins over the law's levels): largest / smallest batch size's B_simple (seeds pooled) median ${fmt(ag.spreadMedian)}x, worst ${fmt(ag.spreadMax)}x${ag.spreadMedian <= 2 ? ", within the 2x McCandlish et al.'s model predicts" : ', beyond 2x: the probes disagree more than the model predicts (few rows per run and bin, or LR effects)'}; ${excluded} run-bins left out for B_big < 2 B_simple`,
      );
    }
    const edge = analysis.lrWarnings.length;
    if (edge > 0)
      out.push(
        `B_crit of ${group.label}: at ${edge} of ${analysis.curves.length} batch sizes the best LR is at the edge of the LRs tried, so the envelope may miss a better LR there (bcrit prints which)`,
      );
  }
  const e = irreducibleLoss(report);
  if (e && !e.identified) out.push(e.detail);
  return out;
}

/**
 * Whether the L(N, D) fit identifies the irreducible loss E (issue 16): E away from its lower bound and a bootstrap
 * interval that neither reaches the bound nor is missing. An E at 0, or one whose interval runs down to ~0, says the
 * runs cannot tell E from the power-law terms (alpha and beta are then local slopes, not asymptotic exponents).
 */
export function irreducibleLoss(report: Report): { identified: boolean; detail: string } | null {
  const c = report.headline.chinchilla;
  if (!c) return null;
  const [lo, hi] = c.ci.E;
  const E = `E ${fmt(c.params.E)} [${fmt(lo)}, ${fmt(hi)}]`;
  if (c.params.E < 0.05)
    return {
      identified: false,
      detail: `E (the irreducible loss) is ${fmt(c.params.E)}, at its lower bound: the runs cannot tell E apart from the power-law terms; read alpha and beta as local slopes, and train longer for a real E`,
    };
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return { identified: false, detail: `${E}: no bootstrap interval, so whether E is identified is unknown` };
  if (lo < 0.05)
    return {
      identified: false,
      detail: `${E}: the interval reaches E's lower bound, so the runs do not identify E (they are consistent with no floor at all); alpha and beta are local slopes`,
    };
  return { identified: true, detail: `${E}: identified (away from its bound, a finite interval)` };
}

/** All checks the demo gates its headline on, in the order it prints them. */
export function sanityChecks(report: Report): Check[] {
  return [...bcritChecks(report), ...noiseChecks(report), lndCheck(report)];
}
