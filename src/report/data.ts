// What a report is drawn from: the input (stored run records, or an import of curves or end points, plus an
// optional reference data set) reduced to model-size groups, loss curves and end points. Fits live in analysis/.
import type { Accounting, LossCurve, RunRecord, ScalingPoint } from '../analysis/records.ts';
import { curvesFromRuns, scanKey, scanLabels, trainerOf } from '../analysis/bcrit.ts';
import { baseName } from '../analysis/importers.ts';
import { ReportInputError, params } from './common.ts';

// ---- input

/** An L(N, D) data set: end points with their accounting. */
export interface PointSet {
  /** short: a group's value or a data set's basename, never a path (it titles panels) */
  label: string;
  points: ScalingPoint[];
  accounting: Accounting;
  /** each point's nominal FLOP budget (a budget column), same order as points */
  budget?: number[];
  /** exact duplicate rows the import dropped (the fits state the count and warn) */
  duplicates?: number;
  /** which loss the points hold: the import's loss column ("val_loss", "loss"), or "testLoss" for our runs (axis titles) */
  lossColumn?: string;
}

export interface ReportInput {
  /** where the data came from, for captions ("runs/", "postgres://host/db", "scan.csv") */
  source: string;
  /** our own runs (empty for an import) */
  records: RunRecord[];
  /** imported loss curves (batch-size scans, learning curves); used when there are no records */
  curves?: LossCurve[];
  /** imported end points (L(N, D), IsoFLOP); used when there are no records */
  points?: PointSet;
  /** a second data set for the side-by-side L(N, D) chart (e.g. Chinchilla's published runs) */
  reference?: PointSet;
  /** an import split by a group column: every group that can be fitted (points and reference are two of them) */
  pointGroups?: PointSet[];
  /** what the import left out and why (filters, outlier flags, groups not fitted), for the report's notes */
  importNotes?: string[];
  /** an import of loss curves: its loss column (axis titles say which loss) */
  lossColumn?: string;
}

/** How N is counted for end points derived from records: Kaplan's non-embedding count or all parameters. */
export type NCount = 'kaplan' | 'total';

// ---- derived

/** Runs of one scan: model size x sweep x schedule x data x trainer (docs/METHODS.md 1.7); an import's model size or group. */
export interface SizeGroup {
  /** Kaplan's non-embedding N (or the imported N); NaN when unknown */
  n: number;
  nTotal: number;
  /** "3.1M" */
  label: string;
  curves: LossCurve[];
  runs: RunRecord[];
  /** distinct batch sizes in tokens with a usable test-loss curve (>= 2 evals) */
  batchTokens: number[];
  /** who trained the scan's runs (stored runs: the record's trainer, 'scaling-lab' for our own); unset for imports */
  trainer?: string;
}

export interface ReportData {
  source: string;
  records: RunRecord[];
  groups: SizeGroup[];
  /** every curve with >= 2 points (test loss), for learning curves and the compute envelope */
  curves: LossCurve[];
  /** end points for L(N, D) and IsoFLOP fits, or null with the reason */
  points: PointSet | null;
  pointsReason?: string;
  reference?: PointSet;
  /** every fitted group of a grouped import (L(N, D) approaches are compared per group) */
  pointGroups?: PointSet[];
  /** how N and C are counted, in words, for captions */
  nWords: string;
  cWords: string;
  /** runs left out and why (e.g. no test-loss rows) */
  warnings: string[];
  /** which loss the curves hold: an import's loss column, or "testLoss" for our runs (axis titles) */
  lossColumn?: string;
}

/** Last metric row with a test loss: the run's end point. */
function endPoint(r: RunRecord, n: NCount): ScalingPoint | null {
  for (let i = r.metrics.length - 1; i >= 0; i--) {
    const m = r.metrics[i];
    if (m.testLoss !== undefined && Number.isFinite(m.testLoss) && m.tokens > 0) {
      return {
        id: r.name || r.id,
        n: n === 'kaplan' ? r.paramsKaplan : r.paramsTotal,
        d: m.tokens,
        c: m.flops > 0 ? m.flops : 6 * r.paramsKaplan * m.tokens,
        loss: m.testLoss,
      };
    }
  }
  return null;
}

/**
 * Groups, curves and end points. From records: groups by Kaplan N, curves = test loss at eval steps, end
 * points = each run's last test loss (N in the chosen count, D = tokens, C = the logged FLOPs). Runs without
 * test-loss rows are left out with a warning; none at all is a ReportInputError.
 */
export function prepareData(input: ReportInput, nCount: NCount = 'kaplan'): ReportData {
  const warnings: string[] = [];
  if (input.records.length > 0) {
    const usable = input.records.filter((r) => r.metrics.some((m) => m.testLoss !== undefined && Number.isFinite(m.testLoss)));
    const noTest = input.records.filter((r) => !usable.includes(r));
    if (noTest.length > 0) {
      warnings.push(
        `${noTest.length} of ${input.records.length} runs have no test-loss rows and are left out: ${noTest
          .slice(0, 8)
          .map((r) => r.name || r.id)
          .join(', ')}${noTest.length > 8 ? ', ...' : ''}`,
      );
    }
    if (usable.length === 0) {
      throw new ReportInputError(
        `${input.source}: none of the ${input.records.length} runs has a test-loss row; every chart plots test loss`,
        'train with evaluation on (eval steps write testLoss), or wait until runs reach their first eval',
      );
    }
    // a scan is one model size x sweep x schedule x data x trainer (docs/METHODS.md 1.7): runs of other sweeps,
    // schedules, data or trainers at that size are other experiments
    const curves = curvesFromRuns(usable, 'test', undefined, params).filter((c) => c.points.length >= 2);
    const sweeps = [...new Set(usable.map((r) => r.sweep ?? ''))];
    const byKey = new Map<string, RunRecord[]>();
    const keyOf = (r: RunRecord) => {
      const k = scanKey(r);
      return `${k.size}\u0000${k.sweep}\u0000${k.schedule}\u0000${k.data}\u0000${k.trainer}`;
    };
    for (const r of usable) {
      const key = keyOf(r);
      const list = byKey.get(key);
      if (list) list.push(r);
      else byKey.set(key, [r]);
    }
    // a scan has 3 or more batch sizes (what the batch-scan charts and laws need); labels are told apart among scans
    const scanKeys = new Set([...byKey].filter(([, rs]) => new Set(rs.map((r) => r.batchSize)).size >= 3).map(([k]) => k));
    const labels = scanLabels(usable, params, (r) => scanKeys.has(keyOf(r)));
    const groups = [...byKey.values()]
      .sort((a, b) => a[0].paramsKaplan - b[0].paramsKaplan || labels.get(a[0].id)!.localeCompare(labels.get(b[0].id)!))
      .map((runs): SizeGroup => {
        const ids = new Set(runs.map((r) => r.id));
        const cs = curves.filter((c) => ids.has(c.id));
        const n = runs[0].paramsKaplan;
        return {
          n,
          nTotal: runs[0].paramsTotal,
          label: labels.get(runs[0].id)!,
          curves: cs,
          runs,
          batchTokens: [...new Set(cs.map((c) => c.batchTokens))].sort((a, b) => a - b),
          trainer: trainerOf(runs[0]),
        };
      });
    // L(N, D) and IsoFLOP end points come from sweeps that are size x data grids (3 or more model sizes)
    const gridRuns: RunRecord[] = [];
    for (const sw of sweeps) {
      const runs = usable.filter((r) => (r.sweep ?? '') === sw);
      const sizes = new Set(runs.map((r) => r.paramsKaplan)).size;
      if (sizes >= 3) gridRuns.push(...runs);
      else if (sweeps.length > 1)
        warnings.push(
          `sweep ${sw || '(none)'} spans ${sizes} model size${sizes === 1 ? '' : 's'}: left out of the L(N, D), IsoFLOP and frontier charts, which need a size x data grid (3 or more sizes)`,
        );
    }
    const gridTrainers = [...new Set((gridRuns.length ? gridRuns : usable).map(trainerOf))];
    if (gridRuns.length && gridTrainers.length > 1)
      warnings.push(
        `the L(N, D) end points come from ${gridTrainers.length} trainers (${gridTrainers.join(', ')}) and are fitted as one data set; give --sweep to fit one trainer's grid`,
      );
    const pts = (gridRuns.length ? gridRuns : usable).map((r) => endPoint(r, nCount)).filter((p): p is ScalingPoint => p !== null);
    const flopsFromRows = usable.every((r) => r.metrics.some((m) => m.flops > 0));
    const cWords = flopsFromRows
      ? "C = the runs' logged training FLOPs: 6 N_kaplan + 6 n_layer T d_model per token (Kaplan et al. 2020 Table 1, attention term included)"
      : 'C = 6 N D';
    const nWords =
      nCount === 'kaplan' ? "N = Kaplan's non-embedding parameters (12 n_layer d_model^2)" : 'N = all parameters, embeddings included (Chinchilla)';
    return {
      source: input.source,
      records: usable,
      groups,
      curves,
      points: { label: baseName(input.source), points: pts, accounting: { n: nCount, flops: flopsFromRows ? 'given' : '6ND' }, lossColumn: 'testLoss' },
      reference: input.reference,
      nWords,
      cWords,
      warnings,
      lossColumn: 'testLoss',
    };
  }
  // an import: curves and/or end points as given
  const curves = (input.curves ?? []).map((c) => ({ ...c, points: c.points.filter((p) => Number.isFinite(p.loss)) })).filter((c) => c.points.length >= 2);
  if (curves.length === 0 && !input.points?.points.length) {
    throw new ReportInputError(
      `${input.source}: no runs, curves or end points to draw`,
      'give a runs directory, a postgres:// store, or a CSV/JSONL of loss curves or run end points',
    );
  }
  // an import's scans: its group column where it has one, else its model size
  const byKey = new Map<string, LossCurve[]>();
  for (const c of curves) {
    const key = c.group ?? String(c.n ?? NaN);
    const list = byKey.get(key);
    if (list) list.push(c);
    else byKey.set(key, [c]);
  }
  const groups = [...byKey].map(([, cs]): SizeGroup => ({
    n: cs[0].n ?? NaN,
    nTotal: NaN,
    label: cs[0].group ?? (Number.isFinite(cs[0].n ?? NaN) ? params(cs[0].n!) : 'imported'),
    curves: cs,
    runs: [],
    batchTokens: [...new Set(cs.map((c) => c.batchTokens))].sort((a, b) => a - b),
  }));
  const acc = input.points?.accounting;
  return {
    source: input.source,
    records: [],
    groups,
    curves,
    points: input.points ?? null,
    pointsReason: input.points ? undefined : `${input.source} holds loss curves, not run end points (N, D, loss)`,
    reference: input.reference,
    pointGroups: input.pointGroups,
    nWords: acc
      ? acc.n === 'unknown'
        ? 'N as given in the import (convention not stated)'
        : acc.n === 'kaplan'
          ? "N = Kaplan's non-embedding parameters (as imported)"
          : 'N = all parameters (as imported)'
      : 'N as imported',
    cWords: acc ? (acc.flops === 'given' ? 'C = the FLOPs column of the import' : 'C = 6 N D') : 'C not given',
    warnings: [...warnings, ...(input.importNotes ?? [])],
    lossColumn: input.lossColumn,
  };
}
