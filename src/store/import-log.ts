// Puts the runs of another trainer's training log (analysis/importers.ts importTrainingLog) into a store as finished
// runs of that trainer, with stable ids from their rows; parsing the log is the importer's, the store calls are store.ts's.
import { createHash } from 'node:crypto';
import type { LogImport, LogMeta, LogRun } from '../analysis/training-log.ts';
import type { MetricRow } from '../analysis/records.ts';
import { canonicalJson } from '../util/json.ts';
import { StoreError, type NewRun, type Store } from './store.ts';

export interface ImportLogOptions {
  /** the trainer's name (RunRecord.trainer): reports group and label runs by it */
  trainer: string;
  sweep?: string;
  /** what the log does not say: flags over the sidecar's run entry over its top level (the caller merges flags in) */
  meta: LogMeta;
  /** fields given as flags, which win over the sidecar */
  flags?: Omit<LogMeta, 'runs'>;
}

export interface ImportedRun {
  id: string;
  name: string;
  /** rows (merged by step) and those with a test loss */
  rows: number;
  evals: number;
  /** rows the store did not hold yet (0 when the run was imported before) */
  added: number;
  /** the run was already in the store, finished: nothing written */
  existed: boolean;
}

/** Letters, digits, '.', '_' and '-' only, starting with a letter or digit: a store id part. */
const slug = (s: string, max: number): string =>
  s
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, max)
    .replace(/[-.]+$/, '') || 'run';

/**
 * The run to put for one run of a log: id `<trainer>-<name>-<8 hex of SHA-256 over trainer, name and rows>`, so the
 * same log imported twice is the same run and a changed log is another; N from `params` (both counts: a log says
 * one), FLOPs 6 N tokens on every row (Kaplan et al. 2020 C = 6ND), peak LR the largest logged.
 */
function importedRun(run: LogRun, imp: Pick<LogImport, 'file' | 'format'>, o: ImportLogOptions): { run: NewRun; rows: MetricRow[] } {
  const m = { ...o.meta, ...o.meta.runs?.[run.name], ...o.flags };
  const where = `${imp.file}: run "${run.name}" (lines ${run.lines[0]}-${run.lines[1]})`;
  if (m.params === undefined)
    throw new StoreError(
      'bad-input',
      `${where}: the model size is not known`,
      'pass --params N (parameters; --n-convention kaplan|total says how they count), or put "params" in a sidecar FILE.meta.json',
    );
  if (m.batch !== undefined && m.batch !== run.batchSize)
    throw new StoreError(
      'bad-input',
      `${where}: the log has ${run.batchSize} sequences per step, the flags or sidecar say ${m.batch}`,
      'drop --batch, or fix the sidecar',
    );
  const params = m.params;
  const rows = run.rows.map((r) => ({ ...r, flops: 6 * params * r.tokens }));
  const hash = createHash('sha256')
    .update(canonicalJson({ trainer: o.trainer, name: run.name, rows: run.rows }))
    .digest('hex')
    .slice(0, 8);
  const id = `${slug(o.trainer, 32)}-${slug(run.name, 80)}-${hash}`;
  const lrs = rows.map((r) => r.lr).filter((v) => Number.isFinite(v) && v > 0);
  const lr = lrs.reduce((a, b) => Math.max(a, b), 0);
  const spec = {
    importer: 'scaling-lab import',
    format: imp.format,
    trainer: o.trainer,
    name: run.name,
    batch: run.batchSize,
    context: run.context,
    params,
    nConvention: m.nConvention ?? 'unknown',
    ...(m.seed !== undefined && { seed: m.seed }),
    ...(m.warmupSteps !== undefined && { warmupSteps: m.warmupSteps }),
    ...(m.schedule !== undefined && { schedule: m.schedule }),
    ...(m.data !== undefined && { data: m.data }),
    rows: hash,
  };
  return {
    run: {
      id,
      name: run.name,
      ...(o.sweep !== undefined && { sweep: o.sweep }),
      paramsKaplan: params,
      paramsTotal: params,
      batchSize: run.batchSize,
      context: run.context,
      batchTokens: run.batchTokens,
      ...(lr > 0 && { lr }),
      ...(m.warmupSteps !== undefined && { warmupSteps: m.warmupSteps }),
      ...(m.seed !== undefined && { seed: m.seed }),
      ...(m.schedule !== undefined && { schedule: m.schedule }),
      ...(m.data !== undefined && { data: m.data }),
      trainer: o.trainer,
      spec,
    },
    rows,
  };
}

/**
 * Every run of the log into the store, status done, rows keyed by step. Each run is checked before anything is
 * written (a missing model size fails the whole file); a run already stored and done is left as it is.
 */
export async function putImportedLog(store: Store, imp: LogImport, o: ImportLogOptions): Promise<ImportedRun[]> {
  const built = imp.runs.map((r) => ({ src: r, ...importedRun(r, imp, o) }));
  const out: ImportedRun[] = [];
  for (const b of built) {
    const stored = await store.putRun(b.run);
    const base = { id: b.run.id, name: b.run.name, rows: b.rows.length, evals: b.src.evals };
    if (stored.state.status === 'done') {
      out.push({ ...base, added: 0, existed: true });
      continue;
    }
    const added = await store.appendMetrics(b.run.id, b.rows);
    await store.setStatus(b.run.id, 'done', { step: b.rows[b.rows.length - 1].step, message: `imported from ${imp.file}` });
    out.push({ ...base, added, existed: false });
  }
  return out;
}
