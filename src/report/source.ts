// Where a report's runs come from: a store (runs directory or postgres:// URL) or an import file (CSV/JSONL of loss
// curves or of run end points). Reading stores is store/'s job and parsing imports is analysis/importers.ts's.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { openStore } from '../store/store.ts';
import {
  baseName,
  findColumn,
  globRegex,
  importGroupedPoints,
  importLossCurves,
  importScalingPoints,
  importSummary,
  parseTable,
  parseWhere,
  CURVE_NAMES,
  type Table,
} from '../analysis/importers.ts';
import { importTrainingLog, parseLogMeta, type LogMeta } from '../analysis/training-log.ts';
import type { LossCurve, ParamConvention } from '../analysis/records.ts';
import { ReportInputError } from './common.ts';
import type { PointSet, ReportInput } from './data.ts';

export interface SourceOptions {
  /** only the runs of this sweep (stores) */
  sweep?: string;
  /** tokens per sequence, for imports whose batch column counts sequences */
  context?: number;
  /** how an import counts N (recorded in captions) */
  nConvention?: ParamConvention | 'unknown';
  /** end-point imports: one L(N, D) data set per value of these columns */
  group?: string[];
  /** end-point imports: keep only rows matching every condition (importers.ts WHERE_SYNTAX) */
  where?: string[];
  /** keep rows an outlier/exclude column flags */
  keepOutliers?: boolean;
  excludeColumn?: string;
  budgetColumn?: string;
  /** the data set's label in titles (default: the file's basename) */
  label?: string;
  /** the two groups drawn side by side (labels or globs; default: the first two that can be fitted) */
  panels?: string[];
}

const isUrl = (s: string): boolean => /^postgres(ql)?:\/\//.test(s);

/** True when a table has a step column: loss curves rather than end points. */
function isCurveTable(t: Table): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  return t.columns.some((c) => CURVE_NAMES.step.some((n) => norm(n) === norm(c)));
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ReportInputError(`cannot read ${file}: ${(err as Error).message}`, 'give a runs directory, a postgres:// URL, or a CSV/JSONL file');
  }
}

/** Reads an import file into end points (L(N, D)) or loss curves (scans, learning curves), by its columns. */
export function importFile(
  file: string,
  o: SourceOptions = {},
): Pick<ReportInput, 'curves' | 'points' | 'reference' | 'pointGroups' | 'importNotes' | 'lossColumn'> {
  const table = parseTable(readText(file), file);
  // a W&B history export, or a training log of one run (no run column): read as `scaling-lab import` reads it
  if (isCurveTable(table) && (table.columns.includes('_step') || findColumn(table, 'run', undefined, CURVE_NAMES.run, false) === undefined))
    return logCurves(table, file, o);
  if (isCurveTable(table))
    return { curves: importLossCurves(table, { context: o.context }), lossColumn: findColumn(table, 'loss', undefined, CURVE_NAMES.loss, false) };
  const grouped = !!o.group?.length;
  const g = importGroupedPoints(table, {
    nConvention: o.nConvention,
    columns: { budget: o.budgetColumn },
    group: o.group,
    where: (o.where ?? []).map(parseWhere),
    exclude: { column: o.excludeColumn, keep: o.keepOutliers },
    label: o.label ?? baseName(file),
    minRuns: grouped ? 6 : 1,
  });
  const sets: PointSet[] = g.groups.flatMap((x) =>
    x.imp
      ? [
          {
            label: x.label,
            points: x.imp.points,
            accounting: x.imp.accounting,
            lossColumn: x.imp.columns.loss,
            duplicates: x.imp.duplicates,
            ...(x.imp.budget ? { budget: x.imp.budget } : {}),
          },
        ]
      : [],
  );
  // said when something was left out or split: filters, outlier flags, groups (and those that cannot be fitted)
  const told = g.filtered > 0 || g.exclude.column !== undefined || grouped;
  const notes = [
    ...(told ? [`${baseName(file)}: ${importSummary(g)}`] : []),
    ...g.groups.filter((x) => !x.imp).map((x) => `${x.label}: not fitted: ${x.reason}`),
  ];
  if (sets.length === 0) {
    throw new ReportInputError(
      `${file}: no group can be fitted: ${g.groups.map((x) => `${x.label}: ${x.reason}`).join('; ')}`,
      'loosen --where, pass --keep-outliers, or group by another column',
    );
  }
  if (!grouped) return { points: sets[0], importNotes: notes };
  const pick = (pattern: string): PointSet => {
    const re = globRegex([pattern]);
    const hit = sets.find((x) => x.label === pattern) ?? sets.find((x) => re.test(x.label));
    if (!hit)
      throw new ReportInputError(
        `--panels: no fitted group matches "${pattern}"; the groups are ${sets.map((x) => `"${x.label}"`).join(', ')}`,
        'name a group (or a pattern with *) from that list',
      );
    return hit;
  };
  const [first, second] = o.panels?.length ? o.panels.map(pick) : sets;
  return { points: first, ...(second && second !== first ? { reference: second } : {}), pointGroups: sets, importNotes: notes };
}

/**
 * A training log (W&B history export or one run's CSV/JSONL log) as loss curves: test loss at its eval rows, the LR
 * of every row; batch size, context, N, seed and warm-up from the sidecar FILE.meta.json where the log lacks them.
 */
function logCurves(table: Table, file: string, o: SourceOptions): Pick<ReportInput, 'curves' | 'lossColumn' | 'importNotes'> {
  const sidecar = `${file}.meta.json`;
  const meta: LogMeta = existsSync(sidecar) ? parseLogMeta(readText(sidecar), sidecar) : {};
  const of = (run: string) => ({ ...meta, ...meta.runs?.[run] });
  const imp = importTrainingLog(table, { batchSize: meta.batch, context: o.context ?? meta.context, runMeta: of });
  if (imp.columns.testLoss === undefined)
    throw new ReportInputError(
      `${file}: no held-out loss column (eval/loss, val/loss, val_loss, ...); the report plots test loss`,
      'put it into a store with scaling-lab import and map the column there with --test-loss-column',
    );
  const curves = imp.runs.map((r): LossCurve => {
    const m = of(r.name);
    const lrs = r.rows.filter((x) => Number.isFinite(x.lr) && x.lr > 0).map((x) => ({ step: x.step, lr: x.lr }));
    return {
      id: r.name,
      batchTokens: r.batchTokens,
      ...(m.params !== undefined && { n: m.params }),
      ...(lrs.length > 0 && { lr: lrs.reduce((a, b) => Math.max(a, b.lr), 0), lrSchedule: lrs }),
      ...(m.warmupSteps !== undefined && { warmupSteps: m.warmupSteps }),
      ...(m.seed !== undefined && { seed: m.seed }),
      points: r.rows.flatMap((x) => (x.testLoss !== undefined && Number.isFinite(x.testLoss) ? [{ step: x.step, tokens: x.tokens, loss: x.testLoss }] : [])),
    };
  });
  const notes = [
    `${baseName(file)}: ${imp.format === 'wandb' ? 'a W&B history export' : 'a training log'}, ${imp.runs.length} run${imp.runs.length === 1 ? '' : 's'}${existsSync(sidecar) ? ` (with ${baseName(sidecar)})` : ''}`,
  ];
  return { curves, lossColumn: imp.columns.testLoss, importNotes: notes };
}

/** A reference data set for the side-by-side L(N, D) chart (end points only). */
export function importReference(file: string, label: string, nConvention: ParamConvention | 'unknown' = 'unknown'): PointSet {
  const imp = importScalingPoints(parseTable(readText(file), file), { nConvention, minRows: 6 });
  return { label, points: imp.points, accounting: imp.accounting, lossColumn: imp.columns.loss, duplicates: imp.duplicates };
}

/** Opens SOURCE (a store or an import file) and returns the report's input. An empty store is a ReportInputError. */
export async function loadReportInput(source: string, o: SourceOptions = {}): Promise<ReportInput> {
  let isDir = false;
  if (!isUrl(source)) {
    try {
      isDir = statSync(source).isDirectory();
    } catch {
      throw new ReportInputError(`${source}: no such file or directory`, 'give a runs directory (e.g. ./runs), a postgres:// URL, or a CSV/JSONL import file');
    }
  }
  if (isDir || isUrl(source)) {
    const store = await openStore(source);
    try {
      const records = await store.loadRecords(o.sweep ? { sweep: o.sweep } : undefined);
      if (records.length === 0) {
        throw new ReportInputError(
          `${store.location}: the store holds no runs${o.sweep ? ` of sweep ${o.sweep}` : ''}`,
          o.sweep
            ? 'check the sweep name (scaling-lab status lists them), or leave out --sweep'
            : 'run a sweep into it first (scaling-lab sweep), or point at another store',
        );
      }
      return { source: store.location, records };
    } finally {
      await store.close();
    }
  }
  return { source: baseName(source), records: [], ...importFile(source, o) };
}
