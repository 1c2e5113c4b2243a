// Checks and encodings both stores share: run ids, runs, status details, metric rows (their fields, and the JSON
// line a row becomes, which keeps NaN and Infinity), and comparing specs (by canonical JSON). No I/O here.
import type { MetricRow, ModelShape, RunRecord, RunStatus } from '../analysis/records.ts';
import { canonicalJson } from '../util/json.ts';
import { StoreError, type NewRun, type RunMeta, type StatusDetail, type StoredRun } from './store.ts';

// ---- metric row fields: one table that the JSON codec, the validation and the Postgres columns all follow

export interface MetricField {
  key: keyof MetricRow;
  /** the Postgres column */
  column: string;
  required: boolean;
}

export const METRIC_FIELDS: readonly MetricField[] = [
  { key: 'step', column: 'step', required: true },
  { key: 'tokens', column: 'tokens', required: true },
  { key: 'flops', column: 'flops', required: true },
  { key: 'trainLoss', column: 'train_loss', required: true },
  { key: 'lr', column: 'lr', required: true },
  { key: 'gradNorm', column: 'grad_norm', required: true },
  { key: 'wallMs', column: 'wall_ms', required: true },
  { key: 'testLoss', column: 'test_loss', required: false },
  { key: 'bSimple', column: 'b_simple', required: false },
  { key: 'bSimpleTokens', column: 'b_simple_tokens', required: false },
  { key: 'gradSq', column: 'grad_sq', required: false },
  { key: 'traceSigma', column: 'trace_sigma', required: false },
];

const FIELD_KEYS = new Set<string>(METRIC_FIELDS.map((f) => f.key));

/** Steps are Postgres `integer`s. */
const MAX_STEP = 2 ** 31 - 1;

export const RUN_STATUSES: readonly RunStatus[] = ['pending', 'running', 'done', 'diverged', 'failed'];

// ---- validation

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkRunId(id: unknown): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw new StoreError(
      'bad-input',
      `bad run id ${JSON.stringify(id)}: expected 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      'run ids come from the run spec (train/ derives them); a hand-made id must also be a safe directory name',
    );
  }
  return id;
}

export function checkStep(step: unknown, what = 'step'): number {
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > MAX_STEP) {
    throw new StoreError('bad-input', `bad ${what} ${String(step)}: expected an integer from 0 to ${MAX_STEP}`, 'steps count optimiser updates from 0');
  }
  return step;
}

/**
 * Checks one row and returns a copy holding exactly the known fields. Losses and the other measurements may be
 * NaN or infinite (a diverged step is recorded as it happened); the step must be a non-negative integer.
 */
function checkMetricRow(row: unknown, where: string): MetricRow {
  const bad = (what: string) =>
    new StoreError(
      'bad-input',
      `bad metric row (${where}): ${what}`,
      'a metric row is the MetricRow of src/analysis/records.ts: numbers only, no extra fields',
    );
  if (typeof row !== 'object' || row === null || Array.isArray(row)) throw bad(`expected an object, got ${JSON.stringify(row)}`);
  const input = row as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!FIELD_KEYS.has(key) && input[key] !== undefined) throw bad(`unknown field '${key}'`);
  }
  const out: Record<string, number> = {};
  for (const { key, required } of METRIC_FIELDS) {
    const value = input[key];
    if (value === undefined) {
      if (required) throw bad(`missing '${key}'`);
      continue;
    }
    if (typeof value !== 'number') throw bad(`'${key}' is ${JSON.stringify(value)}, expected a number`);
    out[key] = value;
  }
  checkStep(out.step, `step in metric row (${where})`);
  return out as unknown as MetricRow;
}

/** Checks rows and drops any whose step repeats an earlier one in the same batch (the first one wins). */
export function checkMetricRows(rows: readonly unknown[]): MetricRow[] {
  if (!Array.isArray(rows)) throw new StoreError('bad-input', 'appendMetrics takes an array of rows', 'pass [] for none');
  const seen = new Set<number>();
  const out: MetricRow[] = [];
  rows.forEach((row, i) => {
    const checked = checkMetricRow(row, `index ${i}`);
    if (seen.has(checked.step)) return;
    seen.add(checked.step);
    out.push(checked);
  });
  return out;
}

function checkNumber(value: unknown, field: string, kind: 'positive' | 'positive-integer' | 'finite' | 'integer'): void {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (kind === 'finite' || kind === 'integer' ? true : value > 0) &&
    (kind === 'positive-integer' || kind === 'integer' ? Number.isInteger(value) : true);
  if (!ok) {
    throw new StoreError(
      'bad-input',
      `bad run: '${field}' is ${JSON.stringify(value)}, expected a ${kind.replace('-', ' ')} number`,
      "the run summary fields come from the model's own accounting and the run config",
    );
  }
}

/** Checks what putRun was given and returns a copy with only the known fields. */
export function checkNewRun(run: NewRun): NewRun {
  if (typeof run !== 'object' || run === null) throw new StoreError('bad-input', 'putRun takes a run object', 'see NewRun in src/store/store.ts');
  const id = checkRunId(run.id);
  if (typeof run.name !== 'string' || run.name.length === 0) {
    throw new StoreError('bad-input', `bad run ${id}: 'name' must be a non-empty string`, 'names read like d2-b32-s0-t1M');
  }
  if (run.sweep !== undefined && (typeof run.sweep !== 'string' || run.sweep.length === 0)) {
    throw new StoreError('bad-input', `bad run ${id}: 'sweep' must be a non-empty string when given`, 'leave it out for a run outside a sweep');
  }
  checkNumber(run.paramsKaplan, 'paramsKaplan', 'positive-integer');
  checkNumber(run.paramsTotal, 'paramsTotal', 'positive-integer');
  checkNumber(run.batchSize, 'batchSize', 'positive-integer');
  checkNumber(run.context, 'context', 'positive-integer');
  checkNumber(run.batchTokens, 'batchTokens', 'positive-integer');
  if (run.lr !== undefined) checkNumber(run.lr, 'lr', 'positive');
  if (run.seed !== undefined) checkNumber(run.seed, 'seed', 'integer');
  if (run.warmupSteps !== undefined) checkNumber(run.warmupSteps, 'warmupSteps', 'integer');
  for (const key of ['schedule', 'data'] as const) {
    const v = run[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0)) {
      throw new StoreError(
        'bad-input',
        `bad run ${id}: '${key}' must be a non-empty string when given`,
        key === 'schedule' ? "the LR schedule's name, e.g. 'constant' or 'cosine'" : "corpus and tokenizer, e.g. 'gutenberg/byte'",
      );
    }
  }
  let model: ModelShape | undefined;
  if (run.model !== undefined) {
    const m = run.model;
    for (const key of ['nLayer', 'dModel', 'nHead', 'vocab', 'context'] as const) checkNumber(m?.[key], `model.${key}`, 'positive-integer');
    model = { nLayer: m.nLayer, dModel: m.dModel, nHead: m.nHead, vocab: m.vocab, context: m.context };
  }
  checkJsonValue(run.spec, 'spec');
  if (run.spec === undefined) throw new StoreError('bad-input', `bad run ${id}: 'spec' is missing`, 'the spec is the resolved run config, saved with the run');
  return { ...pickMeta({ ...run, model }), spec: JSON.parse(JSON.stringify(run.spec)) as unknown };
}

export function checkCheckpointBytes(bytes: unknown): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new StoreError('bad-input', 'saveCheckpoint takes the checkpoint as a Uint8Array', 'serialise the training state first (train/ owns its format)');
  }
}

export function checkStatus(status: unknown, detail: StatusDetail = {}): void {
  if (!RUN_STATUSES.includes(status as RunStatus)) {
    throw new StoreError(
      'bad-input',
      `bad status ${JSON.stringify(status)}: expected one of ${RUN_STATUSES.join(', ')}`,
      'RunStatus is defined in src/analysis/records.ts',
    );
  }
  if (detail.step !== undefined) checkStep(detail.step, 'status step');
  if (detail.attempt !== undefined && !(Number.isInteger(detail.attempt) && detail.attempt >= 1)) {
    throw new StoreError('bad-input', `bad status attempt ${String(detail.attempt)}: expected an integer >= 1`, 'attempts count from 1');
  }
  for (const key of ['message', 'worker'] as const) {
    if (detail[key] !== undefined && typeof detail[key] !== 'string') {
      throw new StoreError('bad-input', `bad status ${key}: expected a string`, 'status details are for people and dashboards');
    }
  }
}

/** Throws unless `value` survives JSON unchanged: null, booleans, finite numbers, strings, arrays, plain objects. */
function checkJsonValue(value: unknown, path: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || value === undefined) return;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return;
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => checkJsonValue(v, `${path}[${i}]`));
    return;
  } else if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) checkJsonValue(v, `${path}.${k}`);
    return;
  }
  throw new StoreError('bad-input', `bad run spec: ${path} is ${String(value)}, which JSON cannot hold`, 'a spec is plain JSON data: the resolved config');
}

// ---- encodings

/** One metrics.jsonl line (with its '\n'). Non-finite numbers become the strings "NaN", "Infinity", "-Infinity". */
export function encodeMetricLine(row: MetricRow): string {
  const out: Record<string, number | string> = {};
  for (const { key } of METRIC_FIELDS) {
    const v = row[key];
    if (v !== undefined) out[key] = Number.isFinite(v) ? v : String(v);
  }
  return JSON.stringify(out) + '\n';
}

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** Parses one line written by encodeMetricLine; undefined when it is not one (a torn or foreign line). */
export function decodeMetricLine(line: string): MetricRow | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const obj = parsed as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (typeof v === 'string' && v in NON_FINITE) obj[key] = NON_FINITE[v];
  }
  try {
    return checkMetricRow(obj, 'stored');
  } catch {
    return undefined;
  }
}

/** The first place two JSON values differ, as 'path: stored X, given Y' (for spec-mismatch messages). */
export function firstDifference(stored: unknown, given: unknown, path = 'spec'): string | undefined {
  if (canonicalJson(stored) === canonicalJson(given)) return undefined;
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(stored) && isObj(given)) {
    const keys = [...new Set([...Object.keys(stored), ...Object.keys(given)])].sort();
    for (const key of keys) {
      const found = firstDifference(stored[key], given[key], `${path}.${key}`);
      if (found !== undefined) return found;
    }
  }
  if (Array.isArray(stored) && Array.isArray(given) && stored.length === given.length) {
    for (let i = 0; i < stored.length; i++) {
      const found = firstDifference(stored[i], given[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
  }
  const show = (v: unknown) => (v === undefined ? 'nothing' : canonicalJson(v).slice(0, 80));
  return `${path}: stored ${show(stored)}, given ${show(given)}`;
}

// ---- shapes both stores return

/** A status detail with only the fields that were given (no undefined keys in JSON or rows). */
export function pickDetail(detail: StatusDetail): StatusDetail {
  return {
    ...(detail.step !== undefined && { step: detail.step }),
    ...(detail.message !== undefined && { message: detail.message }),
    ...(detail.worker !== undefined && { worker: detail.worker }),
    ...(detail.attempt !== undefined && { attempt: detail.attempt }),
  };
}

/** The RunMeta fields of a run, leaving out optional ones that are undefined (no undefined keys in JSON). */
export function pickMeta(run: RunMeta): RunMeta {
  return {
    id: run.id,
    name: run.name,
    ...(run.sweep !== undefined && { sweep: run.sweep }),
    ...(run.model !== undefined && { model: run.model }),
    paramsKaplan: run.paramsKaplan,
    paramsTotal: run.paramsTotal,
    batchSize: run.batchSize,
    context: run.context,
    batchTokens: run.batchTokens,
    ...(run.lr !== undefined && { lr: run.lr }),
    ...(run.warmupSteps !== undefined && { warmupSteps: run.warmupSteps }),
    ...(run.seed !== undefined && { seed: run.seed }),
    ...(run.schedule !== undefined && { schedule: run.schedule }),
    ...(run.data !== undefined && { data: run.data }),
    ...(run.trainer !== undefined && { trainer: run.trainer }),
  };
}

/** A stored run and its rows as the RunRecord analysis consumes. */
export function toRecord(run: StoredRun, metrics: MetricRow[]): RunRecord {
  return { ...pickMeta(run), status: run.state.status, metrics };
}
