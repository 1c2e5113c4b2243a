// Every L(N, D) approach side by side (Approach 2, Approach 3, VPNLS), as table rows and lines shared by the HTML
// report and the CLI: estimates with intervals, where they disagree beyond their intervals, the held-out-budget
// error, and "E not identified" where E sits at its bound. The numbers are analysis/approaches.ts's.
import type { ApproachComparison, ApproachSummary, Est } from '../analysis/approaches.ts';
import { sci } from './common.ts';

/** "0.368 [0.341, 0.392]", or "0.368" without an interval, "-" when absent. */
function estText(e: Est | undefined): string {
  if (!e || !Number.isFinite(e.estimate)) return '-';
  return Number.isFinite(e.ci[0]) ? `${sci(e.estimate, 3)} [${sci(e.ci[0], 3)}, ${sci(e.ci[1], 3)}]` : sci(e.estimate, 3);
}

/** Whether an approach's irreducible loss E sits at its bound (0): the runs do not identify it. */
function eNotIdentified(s: ApproachSummary): boolean {
  return s.fitted && s.params !== undefined && (s.params.E < 1e-3 || s.flags.some((f) => /^E at\b/.test(f)));
}

export const APPROACH_HEADER = ['approach', 'alpha', 'beta', 'a (N_opt ~ C^a)', 'b (D_opt ~ C^b)', 'E', 'notes'];

/** One row per approach: the estimates with their intervals, E (or "not identified"), and flags or why not fitted. */
export function approachRows(c: ApproachComparison): string[][] {
  return c.approaches.map((s) => {
    if (!s.fitted) return [s.label, '-', '-', '-', '-', '-', s.reason ?? 'not fitted'];
    const e = s.params ? (eNotIdentified(s) ? 'not identified (at its bound 0)' : sci(s.params.E, 3)) : '-';
    const notes = s.flags.filter((f) => !/^E at\b/.test(f));
    return [s.label, estText(s.alpha), estText(s.beta), estText(s.a), estText(s.b), e, notes.join('; ')];
  });
}

/** The lines under the table: disagreements beyond the intervals and the held-out-budget error. */
export function approachNotes(c: ApproachComparison): string[] {
  const pct = `${Math.round(c.level * 100)}%`;
  const out: string[] = [];
  out.push(
    c.disagreements.length
      ? `disagree beyond their ${pct} intervals: ${c.disagreements.map((d) => d.text).join('; ')}`
      : c.approaches.filter((s) => s.fitted).length >= 2
        ? `no two approaches disagree beyond their ${pct} intervals`
        : 'fewer than two approaches fitted: nothing to compare',
  );
  for (const h of c.heldOut) {
    out.push(
      `held-out check (${h.method === 'approach3' ? 'Approach 3' : 'VPNLS'}): fitted on ${h.trainRuns} runs of ${h.trainBudgets} budgets, predicts the ${h.predictions.length} runs of the largest budget C = ${sci(h.heldBudget, 2)} ` +
        `with mean |error| ${h.meanAbsPctError.toFixed(2)}% (max ${h.maxAbsPctError.toFixed(2)}%, bias ${h.meanPctBias >= 0 ? '+' : ''}${h.meanPctBias.toFixed(2)}%)`,
    );
  }
  if (c.heldOutReason) out.push(`held-out check not run: ${c.heldOutReason}`);
  return out;
}
