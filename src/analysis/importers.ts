// Imports runs from other trainers: a small RFC 4180 CSV parser, JSONL, column mapping with detection of
// common names, and accounting flags. Pure functions over text (the CLI reads the file); every problem is an
// AnalysisInputError naming the file, row and column.
import type { Accounting, LossCurve, ParamConvention, ScalingPoint } from './records.ts';
import { AnalysisInputError } from './errors.ts';

export interface Table {
  file: string;
  columns: string[];
  /** `line` is the 1-based line of the file where the row starts */
  rows: TableRow[];
}

export interface TableRow {
  line: number;
  /** the row as an object (for a CSV, built on each access: read single cells with cellReader) */
  readonly values: Record<string, unknown>;
}

// ---- parsers

/** Growable typed array of cell offsets: a million-row CSV keeps 9 bytes per cell, not a string and an object. */
class Cells {
  start = new Int32Array(1 << 12);
  end = new Int32Array(1 << 12);
  /** 1: quoted, 2: quoted with "" inside */
  flags = new Uint8Array(1 << 12);
  length = 0;
  push(s: number, e: number, f: number): void {
    if (this.length === this.start.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as { new (n: number): T })(a.length * 2);
        b.set(a);
        return b;
      };
      this.start = grow(this.start);
      this.end = grow(this.end);
      this.flags = grow(this.flags);
    }
    this.start[this.length] = s;
    this.end[this.length] = e;
    this.flags[this.length++] = f;
  }
}

/** A CSV row: its cells are offsets into the file's text, turned into strings only when read. */
class CsvRow implements TableRow {
  constructor(
    readonly line: number,
    /** index of the row's first cell */
    readonly first: number,
    private readonly csv: CsvText,
  ) {}
  cell(j: number): string {
    return this.csv.text(this.first + j);
  }
  named(column: string): string | undefined {
    const j = this.csv.index.get(column);
    return j === undefined ? undefined : this.csv.text(this.first + j);
  }
  get values(): Record<string, unknown> {
    return Object.fromEntries(this.csv.columns.map((c, j) => [c, this.cell(j)]));
  }
}

class CsvText {
  readonly index: Map<string, number>;
  constructor(
    readonly src: string,
    readonly cells: Cells,
    readonly columns: string[],
  ) {
    this.index = new Map(columns.map((c, j) => [c, j]));
  }
  text(k: number): string {
    const s = this.src.slice(this.cells.start[k], this.cells.end[k]);
    return this.cells.flags[k] & 2 ? s.replace(/""/g, '"') : s;
  }
}

/** A reader of one column's cells, fast on CSV rows (no object per row). */
export function cellReader(table: Table, column: string): (row: TableRow) => unknown {
  const j = table.columns.indexOf(column);
  return (row) => (row instanceof CsvRow ? (j >= 0 ? row.cell(j) : undefined) : row.values[column]);
}

/**
 * RFC 4180 CSV: comma separated, double-quoted fields may hold commas, newlines and "" for a quote; unquoted
 * fields are trimmed; blank lines are skipped. One pass over the text with indexOf; cells are kept as offsets.
 */
export function parseCsv(text: string, file: string): Table {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const n = src.length;
  const cells = new Cells();
  const recFirst: number[] = [];
  const recLine: number[] = [];
  let i = 0;
  let line = 1;
  while (i < n) {
    const first = cells.length;
    const startLine = line;
    for (;;) {
      let j = i;
      let c = src.charCodeAt(j);
      while (j < n && (c === 32 || c === 9)) c = src.charCodeAt(++j);
      if (c === 34) {
        // quoted: up to the closing quote, "" is a quote, newlines inside count as lines
        const s = j + 1;
        let k = s;
        let flag = 1;
        for (;;) {
          const q = src.indexOf('"', k);
          if (q < 0)
            throw new AnalysisInputError(`${file}: line ${startLine}: a quoted field is never closed`, 'close the quote or remove it', {
              file,
              row: startLine,
            });
          for (let nl = src.indexOf('\n', k); nl >= 0 && nl < q; nl = src.indexOf('\n', nl + 1)) line++;
          if (src.charCodeAt(q + 1) === 34) {
            flag = 3;
            k = q + 2;
          } else {
            cells.push(s, q, flag);
            j = q + 1;
            break;
          }
        }
        c = src.charCodeAt(j);
        while (j < n && (c === 32 || c === 9)) c = src.charCodeAt(++j);
        if (j < n && c !== 44 && c !== 10 && c !== 13) {
          throw new AnalysisInputError(`${file}: line ${line}: text after a closing quote`, 'quote the whole field and double any quote inside it ("")', {
            file,
            row: line,
          });
        }
      } else {
        const s = j;
        while (j < n && c !== 44 && c !== 10 && c !== 13) {
          if (c === 34)
            throw new AnalysisInputError(
              `${file}: line ${line}: a quote inside an unquoted field`,
              'quote the whole field and double any quote inside it ("")',
              { file, row: line },
            );
          c = src.charCodeAt(++j);
        }
        let e = j;
        while (e > s && src.charCodeAt(e - 1) <= 32) e--;
        cells.push(s, e, 0);
      }
      if (j >= n) {
        i = n;
        break;
      }
      if (c === 44) {
        i = j + 1;
        if (i === n) cells.push(n, n, 0);
        else continue;
        break;
      }
      // end of line: \n, \r or \r\n
      i = c === 13 && src.charCodeAt(j + 1) === 10 ? j + 2 : j + 1;
      line++;
      break;
    }
    const count = cells.length - first;
    if (count === 1 && cells.end[first] === cells.start[first]) {
      cells.length = first; // a blank line
      continue;
    }
    recFirst.push(first);
    recLine.push(startLine);
  }
  if (recFirst.length === 0) throw new AnalysisInputError(`${file}: the file is empty`, 'a CSV needs a header row and data rows', { file });
  const headerCount = (recFirst[1] ?? cells.length) - recFirst[0];
  const header = new CsvText(src, cells, []);
  const columns = Array.from({ length: headerCount }, (_, j) => header.text(recFirst[0] + j));
  const dup = columns.find((c, k) => columns.indexOf(c) !== k);
  if (dup !== undefined)
    throw new AnalysisInputError(`${file}: column "${dup}" appears twice in the header`, 'rename one of them', { file, row: recLine[0], column: dup });
  const csv = new CsvText(src, cells, columns);
  const rows: CsvRow[] = new Array(recFirst.length - 1);
  for (let r = 1; r < recFirst.length; r++) {
    const count = (recFirst[r + 1] ?? cells.length) - recFirst[r];
    if (count !== columns.length) {
      throw new AnalysisInputError(
        `${file}: line ${recLine[r]}: ${count} fields, the header has ${columns.length}`,
        'check for an unquoted comma or a missing field',
        { file, row: recLine[r] },
      );
    }
    rows[r - 1] = new CsvRow(recLine[r], recFirst[r], csv);
  }
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
      throw new AnalysisInputError(`${file}: line ${i + 1}: not valid JSON (${(e as Error).message})`, 'each line must be one JSON object', {
        file,
        row: i + 1,
      });
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new AnalysisInputError(
        `${file}: line ${i + 1}: expected a JSON object, got ${Array.isArray(v) ? 'an array' : typeof v}`,
        'each line must be one JSON object',
        { file, row: i + 1 },
      );
    }
    Object.keys(v).forEach((k) => columns.add(k));
    rows.push({ line: i + 1, values: v as Record<string, unknown> });
  });
  if (rows.length === 0) throw new AnalysisInputError(`${file}: the file has no rows`, 'a JSONL file needs one JSON object per line', { file });
  return { file, columns: [...columns], rows };
}

/** By extension: .jsonl / .ndjson (and .json holding objects one per line) as JSON Lines, anything else as CSV; sniffTable first. */
export function parseTable(text: string, file: string): Table {
  sniffTable(text, file);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return /\.(jsonl|ndjson)$/i.test(file) || (/\.json$/i.test(file) && body.trimStart().startsWith('{')) ? parseJsonl(text, file) : parseCsv(text, file);
}

/**
 * What a file is, before parsing it as a table, so that the wrong kind of file gets its own message instead of a
 * parser's (random bytes used to read "a quote inside an unquoted field"): binary data (NUL bytes or mostly
 * non-text), a JSON array or object document, a CSV delimited by semicolons or tabs. Throws AnalysisInputError naming
 * the file and what to do; returns for anything that may be CSV or JSON Lines.
 */
function sniffTable(text: string, file: string): void {
  const head = text.slice(0, 8192);
  let odd = 0;
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    if (c === 0)
      throw new AnalysisInputError(
        `${file}: binary data (NUL bytes), not a CSV or JSONL text file`,
        'give a text file of runs (CSV with a header row, or JSON Lines); decompress a .gz or .zip first',
        { file },
      );
    if (c === 0xfffd || (c < 32 && c !== 9 && c !== 10 && c !== 13)) odd++;
  }
  if (head.length > 0 && odd / head.length > 0.05) {
    throw new AnalysisInputError(
      `${file}: ${Math.round((100 * odd) / head.length)}% of its first ${head.length} characters are not text (not UTF-8?): not a CSV or JSONL file`,
      'give a UTF-8 text file of runs (CSV with a header row, or JSON Lines); decompress a .gz or .zip first, or save the spreadsheet as CSV UTF-8',
      { file },
    );
  }
  const body = (head.charCodeAt(0) === 0xfeff ? head.slice(1) : head).trimStart();
  if (body.startsWith('[')) {
    throw new AnalysisInputError(
      `${file}: a JSON array, not CSV or JSON Lines (one JSON object per line)`,
      `write one object per line to a .jsonl file, e.g. jq -c '.[]' ${file} > runs.jsonl, and pass that`,
      { file },
    );
  }
  if (/\.(jsonl|ndjson|json)$/i.test(file)) return;
  if (body.startsWith('{')) {
    throw new AnalysisInputError(`${file}: JSON, not CSV`, 'name a JSON Lines file (one object per line) .jsonl, or convert it to CSV with a header row', {
      file,
    });
  }
  const header = body.split(/\r?\n/, 1)[0];
  const count = (ch: string) => header.split(ch).length - 1;
  for (const [ch, name] of [
    [';', 'semicolons (;)'],
    ['\t', 'tabs'],
  ] as const) {
    if (count(ch) >= 1 && count(ch) > count(',')) {
      throw new AnalysisInputError(
        `${file}: the header "${header.length > 80 ? `${header.slice(0, 77)}...` : header}" is separated by ${name}, not commas: not a comma-separated CSV`,
        ch === ';'
          ? 'save it as comma-separated CSV (spreadsheets: "CSV UTF-8 (comma delimited)"; decimal commas must become points), or replace ; with ,'
          : "convert the tabs to commas (e.g. tr '\\t' ',' < FILE > runs.csv)",
        { file, row: 1 },
      );
    }
  }
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

/** One cell, without building the row's object. */
export function cellOf(table: Table, row: TableRow, column: string): unknown {
  return row instanceof CsvRow ? row.named(column) : row.values[column];
}

function num(table: Table, row: TableRow, col: string, positive: boolean): number {
  const raw = cellOf(table, row, col);
  const v = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(v)) {
    throw new AnalysisInputError(
      `${table.file}: row at line ${row.line}, column "${col}": ${JSON.stringify(raw ?? null)} is not a number`,
      'fix the value or drop the row',
      { file: table.file, row: row.line, column: col },
    );
  }
  if (positive && !(v > 0)) {
    throw new AnalysisInputError(
      `${table.file}: row at line ${row.line}, column "${col}": ${v} is not positive`,
      'N, D, C, loss and batch sizes must be > 0; fix or drop the row',
      { file: table.file, row: row.line, column: col },
    );
  }
  return v;
}

// ---- end points for L(N, D)

const POINT_NAMES = {
  n: [
    'N',
    'params',
    'parameters',
    'n_params',
    'num_params',
    'model_size',
    'Model Size',
    'param_count',
    'non_embedding_params',
    'total_params',
    'model_params',
    'n_parameters',
  ],
  d: ['D', 'tokens', 'training_tokens', 'Training Tokens', 'n_tokens', 'num_tokens', 'tokens_seen', 'train_tokens', 'dataset_size', 'data'],
  c: ['C', 'flops', 'training_flops', 'Training FLOP', 'Training FLOPs', 'compute', 'training_compute', 'flop'],
  loss: ['loss', 'L', 'val_loss', 'validation_loss', 'eval_loss', 'test_loss', 'final_loss', 'final_val_loss'],
  id: ['id', 'run', 'run_id', 'name'],
  /** the FLOP budget the authors ran (IsoFLOP designs): groups runs into budgets; C itself stays 6ND or the C column */
  budget: ['budget', 'flop_budget', 'flops_budget', 'compute_budget', 'isoflop_budget', 'C_budget', 'target_flops'],
};

export interface PointImportOptions {
  columns?: { n?: string; d?: string; c?: string; loss?: string; id?: string; budget?: string };
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
  columns: { n: string; d?: string; c?: string; loss: string; budget?: string };
  /** the budget column's value per point (same order as points), when the file has one */
  budget?: number[];
  dropped: number;
  /** exact duplicate rows (every cell the same) dropped: kept, they would count one run twice and narrow the intervals */
  duplicates: number;
}

/**
 * Drops exact duplicate rows (every cell equal) and refuses conflicting ones (the same run id in the id column with
 * different cells): a duplicated run counts twice in a fit and narrows its intervals; two different rows for one
 * run leave the loss ambiguous. Returns the rows kept, in order, and how many were dropped.
 */
function dedupeRows(table: Table, rows: readonly TableRow[], idCol?: string): { rows: TableRow[]; duplicates: number } {
  const seen = new Map<string, TableRow>();
  const byId = new Map<string, { row: TableRow; key: string }>();
  const kept: TableRow[] = [];
  let duplicates = 0;
  for (const row of rows) {
    const key = JSON.stringify(table.columns.map((c) => cellOf(table, row, c) ?? null));
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    if (idCol !== undefined) {
      const id = String(cellOf(table, row, idCol) ?? '');
      const first = byId.get(id);
      if (first && id !== '') {
        throw new AnalysisInputError(
          `${table.file}: run "${id}" appears at lines ${first.row.line} and ${row.line} with different values`,
          'keep one row per run (an exact duplicate row is dropped; two different rows for one run are ambiguous), or give each run its own id',
          { file: table.file, row: row.line, column: idCol },
        );
      }
      byId.set(id, { row, key });
    }
    seen.set(key, row);
    kept.push(row);
  }
  return { rows: kept, duplicates };
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
  const budgetCol = findColumn(table, 'FLOP budget', m.budget, POINT_NAMES.budget, false);
  if (dCol === undefined && cColFound === undefined) {
    throw new AnalysisInputError(
      `${table.file}: neither a D (tokens) nor a C (FLOPs) column; the columns are ${table.columns.map((c) => `"${c}"`).join(', ')}`,
      'add a tokens column (D, tokens) or a FLOPs column (C, flops; then D = C / 6N), or map one: fit --d-column / --flops-column',
      { file: table.file, column: 'D' },
    );
  }
  const budgets = new Map<ScalingPoint, number>();
  const dd = dedupeRows(table, table.rows, idCol);
  let points = dd.rows.map((row) => {
    const n = num(table, row, nCol, true);
    const loss = num(table, row, lossCol, true);
    const cGiven = cColFound !== undefined ? num(table, row, cColFound, true) : NaN;
    const d = dCol !== undefined ? num(table, row, dCol, true) : cGiven / (6 * n);
    const c = cCol !== undefined ? cGiven : 6 * n * d;
    const id = idCol !== undefined ? String(cellOf(table, row, idCol)) : `line ${row.line}`;
    const p: ScalingPoint = { id, n, d, c, loss };
    if (budgetCol !== undefined) budgets.set(p, num(table, row, budgetCol, true));
    return p;
  });
  const drop = options.dropHighest ?? 0;
  if (drop > 0) {
    // Besiroglu et al. 2024 keep losses strictly below the drop-th highest
    const threshold = Float64Array.from(points, (p) => p.loss)
      .sort()
      .reverse()[Math.min(drop, points.length) - 1];
    points = points.filter((p) => p.loss < threshold);
  }
  const minRows = options.minRows ?? 1;
  if (points.length < minRows) {
    throw new AnalysisInputError(
      `${table.file}: ${points.length} usable rows${drop ? ` after dropping ${drop}` : ''}; the fit needs at least ${minRows}`,
      'add runs to the file',
      { file: table.file },
    );
  }
  return {
    points,
    accounting: { n: options.nConvention ?? 'unknown', flops: cCol !== undefined ? 'given' : '6ND' },
    columns: { n: nCol, d: dCol, c: cCol, loss: lossCol, ...(budgetCol !== undefined ? { budget: budgetCol } : {}) },
    ...(budgetCol !== undefined ? { budget: points.map((p) => budgets.get(p)!) } : {}),
    dropped: table.rows.length - points.length,
    duplicates: dd.duplicates,
  };
}

// ---- row filters, outlier flags and groups (files holding several experiments)

/** One `--where` condition. */
export interface RowFilter {
  /** as written, for messages */
  text: string;
  column: string;
  op: '=' | '!=' | '<' | '<=' | '>' | '>=';
  /** for = and !=: glob patterns, any of which may match (`*` any characters, `?` one), case-insensitive */
  patterns: string[];
  /** for < <= > >=: the number compared with */
  value: number;
}

export const WHERE_SYNTAX =
  'COLUMN=PATTERN (PATTERN: text with * for any characters and ? for one, case-insensitive; several joined by |), COLUMN!=PATTERN, or COLUMN<NUMBER, <=, >, >=; repeat --where to require all';

/** Parses `experiment=marin*`, `condition!=exp_loss`, `budget>=1e20`, `experiment=llama*|marin*` (see WHERE_SYNTAX). */
export function parseWhere(text: string): RowFilter {
  const m = /^\s*([^=!<>]+?)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$/.exec(text);
  if (!m || m[1] === '') {
    throw new AnalysisInputError(`--where "${text}": not a condition`, `write ${WHERE_SYNTAX}; e.g. --where 'experiment=marin*'`);
  }
  const op = m[2] as RowFilter['op'];
  if (op === '=' || op === '!=') return { text, column: m[1], op, patterns: m[3].split('|').map((p) => p.trim()), value: NaN };
  const value = Number(m[3]);
  if (m[3] === '' || !Number.isFinite(value)) {
    throw new AnalysisInputError(
      `--where "${text}": "${m[3]}" is not a number, and ${op} compares numbers`,
      `write e.g. --where '${m[1]}${op}1e20', or use = with a pattern for text`,
    );
  }
  return { text, column: m[1], op, patterns: [], value };
}

/** Case-insensitive whole-string match of any of the globs (`*` any characters, `?` one). */
export const globRegex = (patterns: string[]): RegExp =>
  new RegExp(
    `^(?:${patterns
      .map((p) =>
        p
          .replace(/[.+^${}()[\]\\|]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.'),
      )
      .join('|')})$`,
    'i',
  );

/** A group or filter column that must exist: an error naming the file, the column and the columns there are. */
function requireColumn(table: Table, column: string, flag: string): void {
  if (!table.columns.includes(column)) {
    const near = table.columns.find((c) => norm(c) === norm(column));
    throw new AnalysisInputError(
      `${table.file}: ${flag} names column "${column}", which the file does not have; the columns are ${table.columns.map((c) => `"${c}"`).join(', ')}`,
      near !== undefined ? `did you mean "${near}"? column names are exact` : `pass one of the header names to ${flag}`,
      { file: table.file, column },
    );
  }
}

/** The rows every filter keeps; comparisons with a cell that is not a number name the file, line and column. */
export function filterRows(table: Table, filters: readonly RowFilter[]): { table: Table; removed: number } {
  if (filters.length === 0) return { table, removed: 0 };
  for (const f of filters) requireColumn(table, f.column, `--where "${f.text}"`);
  const tests = filters.map((f) => {
    if (f.op === '=' || f.op === '!=') {
      const re = globRegex(f.patterns);
      const want = f.op === '=';
      return (row: TableRow) => re.test(String(cellOf(table, row, f.column) ?? '')) === want;
    }
    return (row: TableRow) => {
      const v = num(table, row, f.column, false);
      switch (f.op) {
        case '<':
          return v < f.value;
        case '<=':
          return v <= f.value;
        case '>':
          return v > f.value;
        case '>=':
          return v >= f.value;
        default:
          throw new Error(`unknown operator ${f.op}`);
      }
    };
  });
  const rows = table.rows.filter((row) => tests.every((t) => t(row)));
  return { table: { ...table, rows }, removed: table.rows.length - rows.length };
}

/** Columns that flag rows to leave out, as published sets name them (Open-Athena: `outlier`). */
const EXCLUDE_NAMES = ['outlier', 'is_outlier', 'outliers', 'exclude', 'excluded', 'is_excluded', 'drop', 'dropped', 'ignore'];

const TRUE = new Set(['true', 't', 'yes', 'y', '1', 'x']);
const FALSE = new Set(['false', 'f', 'no', 'n', '0', '']);

/** Whether a flag cell says "leave out": true/yes/1/x, or false/no/0/empty; anything else is an error. */
function flag(table: Table, row: TableRow, column: string): boolean {
  const raw = cellOf(table, row, column);
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'number') return raw !== 0;
  const s = String(raw ?? '')
    .trim()
    .toLowerCase();
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  throw new AnalysisInputError(
    `${table.file}: row at line ${row.line}, column "${column}": ${JSON.stringify(raw)} is neither true nor false`,
    `an exclusion flag is true/false, yes/no, 1/0 or empty; fix the cell, or name another column with --exclude-column, or keep every row with --keep-outliers`,
    { file: table.file, row: row.line, column },
  );
}

export interface ExcludeOptions {
  /** the flag column; default: detect one of EXCLUDE_NAMES */
  column?: string;
  /** keep flagged rows (the flag column is still reported) */
  keep?: boolean;
}

/** Leaves out the rows an outlier/exclude column flags (unless `keep`); says which column and how many. */
export function dropExcluded(table: Table, o: ExcludeOptions = {}): { table: Table; column?: string; removed: number; flagged: number } {
  if (o.column !== undefined) requireColumn(table, o.column, '--exclude-column');
  const column = o.column ?? findColumn(table, 'exclusion flag', undefined, EXCLUDE_NAMES, false);
  if (column === undefined) return { table, removed: 0, flagged: 0 };
  const keep = table.rows.filter((row) => !flag(table, row, column));
  const flagged = table.rows.length - keep.length;
  if (o.keep) return { table, column, removed: 0, flagged };
  return { table: { ...table, rows: keep }, column, removed: flagged, flagged };
}

export interface GroupedImportOptions extends PointImportOptions {
  /** group by these columns (joined with " / " in labels); none: one group, labelled by `label` */
  group?: string[];
  where?: readonly RowFilter[];
  exclude?: ExcludeOptions;
  /** label of the single group when there is no group column (default: the file's basename) */
  label?: string;
  /** fewest runs a group needs to be fitted (default 5); smaller groups get a reason instead */
  minRuns?: number;
}

/** One group's import, or why it cannot be fitted. */
export interface PointGroup {
  /** the group's value(s), "marin_202603__dclm__llama_2" or "llama_3 / raw_loss"; the file's basename without --group */
  label: string;
  /** rows in the group after filters and exclusions */
  rows: number;
  imp: PointImport | null;
  /** 'not fitted: why' (too few runs, a bad cell: file, line, column and the fix) */
  reason?: string;
}

export interface GroupedImport {
  file: string;
  /** rows in the file */
  total: number;
  groupColumns: string[];
  /** rows removed by --where */
  filtered: number;
  where: string[];
  /** the exclusion column found (or given), rows it flags, rows left out because of it */
  exclude: { column?: string; flagged: number; removed: number; kept: boolean };
  groups: PointGroup[];
}

/** The last path component: titles name a data set, never a path. */
export const baseName = (file: string): string =>
  file
    .replace(/[\\/]+$/, '')
    .split(/[\\/]/)
    .pop() || file;

/**
 * A file of several experiments to one import per group: rows filtered by `where`, rows flagged by an
 * outlier/exclude column left out (unless kept), then grouped by the group column(s) in order of first
 * appearance. Missing columns throw; a group with too few runs or a bad cell gets a reason, and the other groups
 * are still imported.
 */
export function importGroupedPoints(table: Table, o: GroupedImportOptions = {}): GroupedImport {
  const groupColumns = o.group ?? [];
  for (const g of groupColumns) requireColumn(table, g, `--group ${groupColumns.join(',')}`);
  const f = filterRows(table, o.where ?? []);
  if (f.table.rows.length === 0) {
    throw new AnalysisInputError(
      `${table.file}: no row matches ${(o.where ?? []).map((w) => `--where "${w.text}"`).join(' and ')} (of ${table.rows.length} rows)`,
      `patterns match whole cells, case-insensitive: add * (e.g. 'experiment=marin*'); syntax: ${WHERE_SYNTAX}`,
      { file: table.file },
    );
  }
  const ex = dropExcluded(f.table, o.exclude);
  const minRuns = o.minRuns ?? 5;
  const byKey = new Map<string, TableRow[]>();
  if (groupColumns.length === 0) byKey.set(o.label ?? baseName(table.file), ex.table.rows);
  else {
    for (const row of ex.table.rows) {
      const key = groupColumns.map((g) => String(cellOf(table, row, g) ?? '').trim() || '(empty)').join(' / ');
      let rows = byKey.get(key);
      if (!rows) byKey.set(key, (rows = []));
      rows.push(row);
    }
  }
  // columns are detected once, on the whole file, so a bad mapping is one error, not one per group
  importScalingPoints({ ...table, rows: [] }, { ...o, minRows: 0 });
  const few = (n: number) => `${n} run${n === 1 ? '' : 's'}${ex.removed ? ' after leaving out flagged rows' : ''}; a fit needs at least ${minRuns}`;
  if (groupColumns.length === 0) {
    // one data set: a bad cell or too few rows is an error for the whole file
    const [[label, rows]] = byKey;
    const imp = importScalingPoints({ ...table, rows }, { ...o, minRows: 0 });
    if (imp.points.length < minRuns)
      throw new AnalysisInputError(
        `${table.file}: ${few(imp.points.length)}${imp.dropped ? ` (after dropping ${imp.dropped})` : ''}`,
        'add runs to the file, or loosen --where / --keep-outliers',
        { file: table.file },
      );
    return {
      file: table.file,
      total: table.rows.length,
      groupColumns,
      filtered: f.removed,
      where: (o.where ?? []).map((w) => w.text),
      exclude: { column: ex.column, flagged: ex.flagged, removed: ex.removed, kept: !!o.exclude?.keep },
      groups: [{ label, rows: rows.length, imp }],
    };
  }
  const groups = [...byKey].map(([label, rows]): PointGroup => {
    try {
      // values first (a bad cell names its line), then the count
      const imp = importScalingPoints({ ...table, rows }, { ...o, minRows: 0 });
      return imp.points.length < minRuns ? { label, rows: rows.length, imp: null, reason: few(imp.points.length) } : { label, rows: rows.length, imp };
    } catch (err) {
      if (err instanceof AnalysisInputError) return { label, rows: rows.length, imp: null, reason: `${err.message} (${err.hint})` };
      throw err;
    }
  });
  return {
    file: table.file,
    total: table.rows.length,
    groupColumns,
    filtered: f.removed,
    where: (o.where ?? []).map((w) => w.text),
    exclude: { column: ex.column, flagged: ex.flagged, removed: ex.removed, kept: !!o.exclude?.keep },
    groups,
  };
}

/** "947 rows; 12 left out by --where ...; 98 flagged in "outlier" left out (--keep-outliers keeps them)" */
export function importSummary(g: GroupedImport): string {
  const parts = [`${g.total} rows`];
  if (g.filtered) parts.push(`${g.filtered} left out by ${g.where.map((w) => `--where '${w}'`).join(' ')}`);
  if (g.exclude.column !== undefined) {
    parts.push(
      g.exclude.kept
        ? `${g.exclude.flagged} flagged in "${g.exclude.column}" kept (--keep-outliers)`
        : `${g.exclude.removed} flagged in "${g.exclude.column}" left out (--keep-outliers keeps them)`,
    );
  }
  if (g.groupColumns.length) parts.push(`${g.groups.length} group${g.groups.length === 1 ? '' : 's'} by ${g.groupColumns.map((c) => `"${c}"`).join(', ')}`);
  return parts.join('; ');
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
  seed: ['seed', 'replica'],
};

export interface CurveImportOptions {
  columns?: {
    run?: string;
    batchTokens?: string;
    batchSize?: string;
    step?: string;
    tokens?: string;
    loss?: string;
    warmup?: string;
    lr?: string;
    seed?: string;
  };
  /** a column naming each run's scan (e.g. model size or experiment): runs are analysed per group */
  group?: string;
  /** tokens per sequence, to turn a batch_size column (sequences) into tokens */
  context?: number;
}

/**
 * Rows (run, batch, step, tokens, loss) to one LossCurve per run. With an lr column every row's LR joins the run's
 * lrSchedule (rows with an lr and an empty loss are LR-only rows; an eval row may leave its lr empty); without one, rows
 * with an empty or NaN loss are train rows between evals and are skipped; a seed column marks replicas; `group` names
 * a column that splits the file into scans.
 */
export function importLossCurves(table: Table, options: CurveImportOptions = {}): LossCurve[] {
  const m = options.columns ?? {};
  const runCol = findColumn(table, 'run', m.run, CURVE_NAMES.run, true)!;
  const stepCol = findColumn(table, 'step', m.step, CURVE_NAMES.step, true)!;
  const lossCol = findColumn(table, 'loss', m.loss, CURVE_NAMES.loss, true)!;
  const tokCol = findColumn(table, 'tokens', m.tokens, CURVE_NAMES.tokens, false);
  const warmCol = findColumn(table, 'warm-up steps', m.warmup, CURVE_NAMES.warmup, false);
  const lrCol = findColumn(table, 'learning rate', m.lr, CURVE_NAMES.lr, false);
  const seedCol = findColumn(table, 'seed', m.seed, CURVE_NAMES.seed, false);
  const groupCol = options.group !== undefined ? findColumn(table, 'group', options.group, [], true) : undefined;
  let btCol = findColumn(table, 'batch tokens', m.batchTokens, CURVE_NAMES.batchTokens, false);
  let bsCol: string | undefined;
  if (btCol === undefined || m.batchSize !== undefined) {
    btCol = undefined;
    bsCol = findColumn(table, 'batch size', m.batchSize, CURVE_NAMES.batchSize, false);
    if (bsCol === undefined) {
      throw new AnalysisInputError(
        `${table.file}: no batch_tokens column and no batch_size column`,
        'add a batch_tokens column, or batch_size with --context T (bcrit maps other names with --batch-tokens-column / --batch-size-column)',
        { file: table.file, column: 'batch_tokens' },
      );
    }
    if (!(options.context && options.context > 0)) {
      throw new AnalysisInputError(
        `${table.file}: column "${bsCol}" counts sequences, and no context length was given`,
        'pass --context T (tokens per sequence) so batch tokens = batch_size x T',
        { file: table.file, column: bsCol },
      );
    }
  }
  const byRun = new Map<string, LossCurve>();
  for (const row of table.rows) {
    const id = String(cellOf(table, row, runCol) ?? '');
    if (id === '')
      throw new AnalysisInputError(`${table.file}: row at line ${row.line}, column "${runCol}": empty run id`, 'every row needs its run', {
        file: table.file,
        row: row.line,
        column: runCol,
      });
    const batchTokens = btCol !== undefined ? num(table, row, btCol, true) : num(table, row, bsCol!, true) * options.context!;
    const step = num(table, row, stepCol, false);
    // an empty (or NaN, as W&B writes it) loss cell is a row without an eval: a training log's train rows between evals
    const lossOrNone = optNum(table, row, lossCol);
    const lrOnly = lossOrNone === undefined;
    const lrVal = lrCol !== undefined ? optNum(table, row, lrCol) : undefined;
    if (lrOnly && lrVal === undefined) continue;
    const loss = lrOnly ? NaN : num(table, row, lossCol, true);
    const tokens = tokCol !== undefined ? num(table, row, tokCol, false) : step * batchTokens;
    let c = byRun.get(id);
    if (!c) {
      c = { id, batchTokens, points: [] };
      if (warmCol !== undefined) c.warmupSteps = num(table, row, warmCol, false);
      if (seedCol !== undefined) c.seed = String(cellOf(table, row, seedCol) ?? '');
      if (groupCol !== undefined) c.group = String(cellOf(table, row, groupCol) ?? '');
      byRun.set(id, c);
    } else if (c.batchTokens !== batchTokens) {
      throw new AnalysisInputError(
        `${table.file}: row at line ${row.line}: run "${id}" changes batch size (${c.batchTokens} -> ${batchTokens} tokens)`,
        'one run has one batch size; give each batch size its own run id',
        { file: table.file, row: row.line, column: btCol ?? bsCol },
      );
    }
    if (lrVal !== undefined) {
      const lr = num(table, row, lrCol!, true);
      (c.lrSchedule ??= []).push({ step, lr });
      if (!(lr <= (c.lr ?? 0))) c.lr = lr;
    }
    if (!lrOnly) c.points.push({ step, tokens, loss });
  }
  for (const c of byRun.values()) c.points.sort((a, b) => a.step - b.step);
  return [...byRun.values()];
}

/** A metric cell: undefined when empty, null, or NaN as W&B writes a metric not logged at that step; else a number. */
export function optNum(table: Table, row: TableRow, col: string | undefined): number | undefined {
  if (col === undefined) return undefined;
  const raw = cellOf(table, row, col);
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number') return Number.isNaN(raw) ? undefined : raw;
  const s = String(raw).trim();
  if (s === '' || /^(nan|none|null)$/i.test(s)) return undefined;
  const v = Number(s);
  if (Number.isNaN(v) && !/^[+-]?(inf|infinity)$/i.test(s)) {
    throw new AnalysisInputError(
      `${table.file}: row at line ${row.line}, column "${col}": ${JSON.stringify(raw)} is not a number`,
      'fix the cell or drop the row',
      {
        file: table.file,
        row: row.line,
        column: col,
      },
    );
  }
  return Number.isNaN(v) ? (s.startsWith('-') ? -Infinity : Infinity) : v;
}
