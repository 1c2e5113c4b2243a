// Imports runs from other trainers: a small RFC 4180 CSV parser, JSONL, column mapping with detection of
// common names, and accounting flags. Pure functions over text (the CLI reads the file); every problem is an
// AnalysisInputError naming the file, row and column.
import type { Accounting, LossCurve, ParamConvention, ScalingPoint } from './records.ts';
import { AnalysisInputError } from './errors.ts';

export interface Table {
  file: string;
  columns: string[];
  /** `line` is the 1-based line of the file where the row starts */
  rows: { line: number; values: Record<string, unknown> }[];
}

// ---- parsers

/** RFC 4180 CSV: comma separated, double-quoted fields may hold commas, newlines and "" for a quote. */
export function parseCsv(text: string, file: string): Table {
  const records: { line: number; fields: string[] }[] = [];
  let field = '';
  let fields: string[] = [];
  let line = 1;
  let start = 1;
  let quoted = false;
  let wasQuoted = false;
  const endField = (): void => {
    fields.push(wasQuoted ? field : field.trim());
    field = '';
    wasQuoted = false;
  };
  const endRecord = (): void => {
    endField();
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: start, fields });
    fields = [];
  };
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (quoted) {
      if (ch === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"') {
      if (field.trim() !== '') {
        throw new AnalysisInputError(`${file}: line ${line}: a quote inside an unquoted field`, 'quote the whole field and double any quote inside it ("")', { file, row: line });
      }
      field = '';
      quoted = true;
      wasQuoted = true;
    } else if (ch === ',') endField();
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && src[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else field += ch;
  }
  if (quoted) throw new AnalysisInputError(`${file}: line ${start}: a quoted field is never closed`, 'close the quote or remove it', { file, row: start });
  if (field !== '' || fields.length > 0) endRecord();
  if (records.length === 0) throw new AnalysisInputError(`${file}: the file is empty`, 'a CSV needs a header row and data rows', { file });
  const columns = records[0].fields;
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup !== undefined) throw new AnalysisInputError(`${file}: column "${dup}" appears twice in the header`, 'rename one of them', { file, row: records[0].line, column: dup });
  const rows = records.slice(1).map((r) => {
    if (r.fields.length !== columns.length) {
      throw new AnalysisInputError(`${file}: line ${r.line}: ${r.fields.length} fields, the header has ${columns.length}`, 'check for an unquoted comma or a missing field', { file, row: r.line });
    }
    return { line: r.line, values: Object.fromEntries(columns.map((c, j) => [c, r.fields[j]])) };
  });
  return { file, columns, rows };
}

/** JSON Lines: one JSON object per non-empty line. */
export function parseJsonl(text: string, file: string): Table {
  const rows: Table['rows'] = [];
  const columns = new Set<string>();
  text.split(/\r?\n/).forEach((s, i) => {
    if (s.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      throw new AnalysisInputError(`${file}: line ${i + 1}: not valid JSON (${(e as Error).message})`, 'each line must be one JSON object', { file, row: i + 1 });
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new AnalysisInputError(`${file}: line ${i + 1}: expected a JSON object, got ${Array.isArray(v) ? 'an array' : typeof v}`, 'each line must be one JSON object', { file, row: i + 1 });
    }
    Object.keys(v).forEach((k) => columns.add(k));
    rows.push({ line: i + 1, values: v as Record<string, unknown> });
  });
  if (rows.length === 0) throw new AnalysisInputError(`${file}: the file has no rows`, 'a JSONL file needs one JSON object per line', { file });
  return { file, columns: [...columns], rows };
}

/** By extension: .jsonl / .ndjson as JSON Lines, anything else as CSV. */
export function parseTable(text: string, file: string): Table {
  return /\.(jsonl|ndjson)$/i.test(file) ? parseJsonl(text, file) : parseCsv(text, file);
}

// ---- columns

const norm = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The column for `role`: the mapped name if given (must exist), else the first common name present. */
export function findColumn(table: Table, role: string, mapped: string | undefined, candidates: string[], required: boolean): string | undefined {
  if (mapped !== undefined) {
    if (!table.columns.includes(mapped)) {
      throw new AnalysisInputError(
        `${table.file}: no column "${mapped}" (mapped to ${role}); the columns are ${table.columns.map((c) => `"${c}"`).join(', ')}`,
        `pass the exact header name for ${role}`,
        { file: table.file, column: mapped },
      );
    }
    return mapped;
  }
  for (const c of candidates) {
    const hit = table.columns.find((col) => col === c) ?? table.columns.find((col) => norm(col) === norm(c));
    if (hit !== undefined) return hit;
  }
  if (required) {
    throw new AnalysisInputError(
      `${table.file}: no column for ${role}; looked for ${candidates.map((c) => `"${c}"`).join(', ')} among ${table.columns.map((c) => `"${c}"`).join(', ')}`,
      `name the column with the flag for ${role}`,
      { file: table.file, column: role },
    );
  }
  return undefined;
}

function num(table: Table, row: Table['rows'][number], col: string, positive: boolean): number {
  const raw = row.values[col];
  const v = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(v)) {
    throw new AnalysisInputError(`${table.file}: row at line ${row.line}, column "${col}": ${JSON.stringify(raw ?? null)} is not a number`, 'fix the value or drop the row', { file: table.file, row: row.line, column: col });
  }
  if (positive && !(v > 0)) {
    throw new AnalysisInputError(`${table.file}: row at line ${row.line}, column "${col}": ${v} is not positive`, 'N, D, C, loss and batch sizes must be > 0; fix or drop the row', { file: table.file, row: row.line, column: col });
  }
  return v;
}

// ---- end points for L(N, D)

export const POINT_NAMES = {
  n: ['N', 'params', 'parameters', 'n_params', 'num_params', 'model_size', 'Model Size', 'param_count', 'non_embedding_params'],
  d: ['D', 'tokens', 'training_tokens', 'Training Tokens', 'n_tokens', 'num_tokens', 'tokens_seen', 'data'],
  c: ['C', 'flops', 'training_flops', 'Training FLOP', 'compute', 'flop'],
  loss: ['loss', 'val_loss', 'validation_loss', 'eval_loss', 'test_loss', 'final_loss'],
  id: ['id', 'run', 'run_id', 'name'],
};

export interface PointImportOptions {
  columns?: { n?: string; d?: string; c?: string; loss?: string; id?: string };
  nConvention?: ParamConvention | 'unknown';
  /** 'auto' (default): C from its column when there is one, else 6ND; '6ND' ignores a C column */
  flops?: 'auto' | '6ND';
  /** drop this many highest-loss rows (Besiroglu et al. 2024 drop 5) */
  dropHighest?: number;
  /** fewest rows the fit needs; fewer is an error naming the file */
  minRows?: number;
}

export interface PointImport {
  points: ScalingPoint[];
  accounting: Accounting;
  columns: { n: string; d?: string; c?: string; loss: string };
  dropped: number;
}

/** Rows to ScalingPoints: N and loss required; D from its column or C / (6N); C from its column or 6ND. */
export function importScalingPoints(table: Table, options: PointImportOptions = {}): PointImport {
  const m = options.columns ?? {};
  const nCol = findColumn(table, 'N (parameters)', m.n, POINT_NAMES.n, true)!;
  const lossCol = findColumn(table, 'loss', m.loss, POINT_NAMES.loss, true)!;
  const dCol = findColumn(table, 'D (tokens)', m.d, POINT_NAMES.d, false);
  const cColFound = findColumn(table, 'C (FLOPs)', m.c, POINT_NAMES.c, false);
  const cCol = options.flops === '6ND' ? undefined : cColFound;
  const idCol = findColumn(table, 'run id', m.id, POINT_NAMES.id, false);
  if (dCol === undefined && cColFound === undefined) {
    throw new AnalysisInputError(
      `${table.file}: neither a D (tokens) nor a C (FLOPs) column; the columns are ${table.columns.map((c) => `"${c}"`).join(', ')}`,
      'name the tokens column with --d, or the FLOPs column with --flops (D = C / 6N)',
      { file: table.file, column: 'D' },
    );
  }
  let points = table.rows.map((row) => {
    const n = num(table, row, nCol, true);
    const loss = num(table, row, lossCol, true);
    const cGiven = cColFound !== undefined ? num(table, row, cColFound, true) : NaN;
    const d = dCol !== undefined ? num(table, row, dCol, true) : cGiven / (6 * n);
    const c = cCol !== undefined ? cGiven : 6 * n * d;
    const id = idCol !== undefined ? String(row.values[idCol]) : `line ${row.line}`;
    return { id, n, d, c, loss };
  });
  const drop = options.dropHighest ?? 0;
  if (drop > 0) {
    // Besiroglu et al. 2024 keep losses strictly below the drop-th highest
    const threshold = [...points.map((p) => p.loss)].sort((a, b) => b - a)[Math.min(drop, points.length) - 1];
    points = points.filter((p) => p.loss < threshold);
  }
  const minRows = options.minRows ?? 1;
  if (points.length < minRows) {
    throw new AnalysisInputError(`${table.file}: ${points.length} usable rows${drop ? ` after dropping ${drop}` : ''}; the fit needs at least ${minRows}`, 'add runs to the file', { file: table.file });
  }
  return {
    points,
    accounting: { n: options.nConvention ?? 'unknown', flops: cCol !== undefined ? 'given' : '6ND' },
    columns: { n: nCol, d: dCol, c: cCol, loss: lossCol },
    dropped: table.rows.length - points.length,
  };
}

// ---- loss curves for batch-size scans

export const CURVE_NAMES = {
  run: ['run', 'run_id', 'id', 'name'],
  batchTokens: ['batch_tokens', 'tokens_per_step'],
  batchSize: ['batch_size', 'batch', 'bs'],
  step: ['step', 'iter', 'iteration'],
  tokens: ['tokens', 'tokens_seen'],
  loss: ['loss', 'test_loss', 'val_loss', 'eval_loss'],
  warmup: ['warmup', 'warmup_steps'],
  lr: ['lr', 'learning_rate'],
};

export interface CurveImportOptions {
  columns?: { run?: string; batchTokens?: string; batchSize?: string; step?: string; tokens?: string; loss?: string; warmup?: string; lr?: string };
  /** tokens per sequence, to turn a batch_size column (sequences) into tokens */
  context?: number;
}

/** Rows (run, batch, step, tokens, loss) to one LossCurve per run. */
export function importLossCurves(table: Table, options: CurveImportOptions = {}): LossCurve[] {
  const m = options.columns ?? {};
  const runCol = findColumn(table, 'run', m.run, CURVE_NAMES.run, true)!;
  const stepCol = findColumn(table, 'step', m.step, CURVE_NAMES.step, true)!;
  const lossCol = findColumn(table, 'loss', m.loss, CURVE_NAMES.loss, true)!;
  const tokCol = findColumn(table, 'tokens', m.tokens, CURVE_NAMES.tokens, false);
  const warmCol = findColumn(table, 'warm-up steps', m.warmup, CURVE_NAMES.warmup, false);
  const lrCol = findColumn(table, 'learning rate', m.lr, CURVE_NAMES.lr, false);
  let btCol = findColumn(table, 'batch tokens', m.batchTokens, CURVE_NAMES.batchTokens, false);
  let bsCol: string | undefined;
  if (btCol === undefined || m.batchSize !== undefined) {
    btCol = undefined;
    bsCol = findColumn(table, 'batch size', m.batchSize, CURVE_NAMES.batchSize, false);
    if (bsCol === undefined) {
      throw new AnalysisInputError(`${table.file}: no batch_tokens column and no batch_size column`, 'add batch_tokens, or batch_size with --context T, or map them with --batch-tokens / --batch-size', { file: table.file, column: 'batch_tokens' });
    }
    if (!(options.context && options.context > 0)) {
      throw new AnalysisInputError(`${table.file}: column "${bsCol}" counts sequences, and no context length was given`, 'pass --context T (tokens per sequence) so batch tokens = batch_size x T', { file: table.file, column: bsCol });
    }
  }
  const byRun = new Map<string, LossCurve>();
  for (const row of table.rows) {
    const id = String(row.values[runCol] ?? '');
    if (id === '') throw new AnalysisInputError(`${table.file}: row at line ${row.line}, column "${runCol}": empty run id`, 'every row needs its run', { file: table.file, row: row.line, column: runCol });
    const batchTokens = btCol !== undefined ? num(table, row, btCol, true) : num(table, row, bsCol!, true) * options.context!;
    const step = num(table, row, stepCol, false);
    const loss = num(table, row, lossCol, true);
    const tokens = tokCol !== undefined ? num(table, row, tokCol, false) : step * batchTokens;
    let c = byRun.get(id);
    if (!c) {
      c = { id, batchTokens, points: [] };
      if (warmCol !== undefined) c.warmupSteps = num(table, row, warmCol, false);
      if (lrCol !== undefined) c.lr = num(table, row, lrCol, true);
      byRun.set(id, c);
    } else if (c.batchTokens !== batchTokens) {
      throw new AnalysisInputError(`${table.file}: row at line ${row.line}: run "${id}" changes batch size (${c.batchTokens} -> ${batchTokens} tokens)`, 'one run has one batch size; give each batch size its own run id', { file: table.file, row: row.line, column: btCol ?? bsCol });
    }
    c.points.push({ step, tokens, loss });
  }
  for (const c of byRun.values()) c.points.sort((a, b) => a.step - b.step);
  return [...byRun.values()];
}
