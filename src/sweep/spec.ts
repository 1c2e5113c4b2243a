// A sweep spec (YAML or JSON, zod-validated): a base run config, axes to cross, explicit extra runs and the
// couplings (micro-batch and LR following the batch size); expandSweep turns it into run configs. Running is executor.ts's.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ExtraValueSchema, RunConfigSchema, TrainerSpecSchema, parseRunConfig, runId, type RunConfig } from '../train/config.ts';
import { externalCommand } from '../train/external.ts';
import type { SweepManifest as StoredManifest } from '../store/store.ts';

// ---- errors

/** A spec that cannot be expanded or run, with what to do about it (main.ts prints the hint). */
export class SweepSpecError extends Error {
  override name = 'SweepSpecError';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

// ---- the schema

/** Every RunConfig key can be an axis, a base value or an override in an extra run. */
const AXIS_KEYS = Object.keys(RunConfigSchema.shape) as (keyof RunConfig)[];

const SWEEP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * micro-batch = the largest divisor of the batch size that is <= `max` and leaves at least `minSplits`
 * micro-batches, so the noise-scale probe (McCandlish et al. 2018 App. A.1) has two batch sizes to compare.
 */
const MicroBatchRule = z
  .object({
    max: z.number().int().min(1).default(64).describe('largest micro-batch (memory per forward/backward)'),
    minSplits: z.number().int().min(1).default(2).describe('at least this many micro-batches per step where the batch allows'),
  })
  .strict();

/**
 * LR per batch size (docs/METHODS.md section 1: a fixed LR starves large batches and biases B_crit):
 * lr = base * (batch / refBatch)^power, clamped to [min, max]; power 0.5 is the square-root rule, 1 the linear one.
 * `scan` multiplies the rule's LR by each factor, crossing a small LR axis with every batch size (take the envelope).
 * `where` limits a rule to the runs whose config has those values (e.g. { depth: 2 }): couple.lr may be a list of
 * rules, and each run takes the first rule that matches it (a rule without `where` matches every run).
 */
const LrRule = z
  .object({
    base: z.number().positive().describe('LR at refBatch'),
    refBatch: z.number().int().min(1).describe('the batch size at which lr = base'),
    power: z.number().min(0).max(1).default(0.5).describe('0.5: sqrt rule (default), 1: linear'),
    max: z.number().positive().optional().describe('cap'),
    min: z.number().positive().optional().describe('floor'),
    scan: z.array(z.number().positive()).min(1).optional().describe('multipliers of the rule LR, crossed with every run'),
    where: z.record(z.string(), z.unknown()).optional().describe('only runs whose config has these values (e.g. { depth: 2 })'),
  })
  .strict();
type LrRule = z.output<typeof LrRule>;

const SweepSpecSchema = z
  .object({
    name: z.string().regex(SWEEP_NAME, 'letters, digits, . _ - (at most 100), starting with a letter or digit'),
    purpose: z.string().min(1).default('free').describe("'batch-scan', 'size-data', or free text; reports pick charts by it"),
    description: z.string().optional(),
    base: z.record(z.string(), z.unknown()).default({}),
    axes: z.record(z.string(), z.array(z.unknown())).default({}),
    runs: z.array(z.record(z.string(), z.unknown())).default([]),
    couple: z
      .object({ microBatch: MicroBatchRule.optional(), lr: z.union([LrRule, z.array(LrRule).min(1)]).optional() })
      .strict()
      .default({}),
    // an external trainer (docs/ARCHITECTURE.md 4.9): every run of the sweep is launched through it
    trainer: TrainerSpecSchema.optional(),
  })
  .strict();

export type SweepSpecInput = z.input<typeof SweepSpecSchema>;
export type SweepSpec = z.output<typeof SweepSpecSchema>;

// ---- parsing

const issuePath = (path: readonly PropertyKey[]) =>
  path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), '') || '(spec)';

/**
 * Validate a parsed document; every problem names the path of the bad field (e.g. axes.batch[2]). An external
 * trainer's relative cwd and runDir are resolved against `baseDir` (the spec file's directory; default: the current one).
 */
export function parseSweepSpec(input: unknown, source = 'sweep spec', baseDir = '.'): SweepSpec {
  const parsed = SweepSpecSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`);
    throw new SweepSpecError(`invalid ${source}:\n  ${lines.join('\n  ')}`, 'see examples/*.yaml for the shape of a sweep spec');
  }
  const spec = parsed.data;
  if (spec.trainer) {
    const { cwd, runDir } = spec.trainer;
    spec.trainer = { ...spec.trainer, cwd: resolve(baseDir, cwd ?? '.'), ...(runDir !== undefined && { runDir: resolve(baseDir, runDir) }) };
  }
  const problems: string[] = [];
  const checkFields = (where: string, values: Record<string, unknown>, kind: string) => {
    for (const [key, value] of Object.entries(values)) {
      const field =
        (RunConfigSchema.shape as Record<string, z.ZodType>)[key] ?? (spec.trainer && key !== 'trainer' && key !== 'extra' ? ExtraValueSchema : undefined);
      if (field === undefined) {
        problems.push(
          `${where}.${key}: unknown ${kind} '${key}'; run config keys are ${AXIS_KEYS.join(', ')} (an external trainer's own keys need a trainer section)`,
        );
        continue;
      }
      const list = kind === 'axis' ? (value as unknown[]) : [value];
      list.forEach((v, i) => {
        const r = field.safeParse(v);
        if (!r.success)
          problems.push(`${where}.${key}${kind === 'axis' ? `[${i}]` : ''}: ${r.error.issues.map((x) => x.message).join('; ')} (got ${JSON.stringify(v)})`);
      });
    }
  };
  checkFields('base', spec.base, 'key');
  checkFields('axes', spec.axes, 'axis');
  spec.runs.forEach((r, i) => checkFields(`runs[${i}]`, r, 'key'));
  for (const [key, values] of Object.entries(spec.axes)) {
    if (values.length === 0) problems.push(`axes.${key}: no values, so the grid is empty; give at least one value or remove the axis`);
  }
  if (spec.couple.lr && 'lr' in spec.axes)
    problems.push('couple.lr: both an lr axis and an lr rule; use one (couple.lr.scan crosses LR multipliers with the rule)');
  lrRules(spec).forEach((rule, i) => {
    const at = Array.isArray(spec.couple.lr) ? `couple.lr[${i}].where` : 'couple.lr.where';
    if (rule.where) checkFields(at, rule.where, 'key');
  });
  if (problems.length)
    throw new SweepSpecError(
      `invalid ${source}:\n  ${problems.join('\n  ')}`,
      'axes and base keys are run config keys (see `scaling-lab train --help`, camelCase)',
    );
  return spec;
}

/** Read a .yaml/.yml/.json file (JSON is parsed as YAML too). */
export async function loadSweepSpec(path: string): Promise<SweepSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SweepSpecError(`cannot read sweep spec ${path}: ${(err as Error).message}`, 'give the path of a .yaml or .json sweep spec (see examples/)');
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new SweepSpecError(`sweep spec ${path} is not valid YAML/JSON: ${(err as Error).message}`, 'fix the syntax at the line shown');
  }
  return parseSweepSpec(doc, `sweep spec ${path}`, dirname(resolve(path)));
}

// ---- expansion

/** The cross product of the axes, in spec order (the last axis varies fastest). */
function cross(axes: Record<string, unknown[]>): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(axes)) points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  return points;
}

function largestDivisor(n: number, atMost: number): number {
  for (let d = Math.max(1, Math.min(n, atMost)); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

function lrRules(spec: SweepSpec): LrRule[] {
  const lr = spec.couple.lr;
  return lr === undefined ? [] : Array.isArray(lr) ? lr : [lr];
}

/** Does a run's config have every value of `where`? (the run's values after base and defaults: depth 1 = depth 1) */
function matches(where: Record<string, unknown> | undefined, point: Record<string, unknown>): boolean {
  if (!where) return true;
  for (const [key, want] of Object.entries(where)) {
    const field = (RunConfigSchema.shape as Record<string, z.ZodType>)[key];
    const have = point[key] ?? field?.safeParse(undefined).data;
    if (JSON.stringify(have) !== JSON.stringify(want)) return false;
  }
  return true;
}

/** Apply the couplings to one point (keys the point sets itself are left alone). Returns one or more points (LR scan). */
function couple(spec: SweepSpec, point: Record<string, unknown>, own: Set<string>): Record<string, unknown>[] {
  const out = { ...point };
  const batch = Number(out.batch ?? RunConfigSchema.shape.batch.parse(undefined));
  const mb = spec.couple.microBatch;
  if (mb && !own.has('microBatch')) out.microBatch = largestDivisor(batch, Math.min(mb.max, Math.floor(batch / mb.minSplits) || 1));
  if (own.has('lr')) return [out];
  const lr = lrRules(spec).find((rule) => matches(rule.where, out));
  if (!lr) return [out];
  let rate = lr.base * Math.pow(batch / lr.refBatch, lr.power);
  if (lr.max !== undefined) rate = Math.min(rate, lr.max);
  if (lr.min !== undefined) rate = Math.max(rate, lr.min);
  // rounded to 4 significant digits so the config (and run id) reads well and is stable across platforms
  const round = (x: number) => Number(x.toPrecision(4));
  return (lr.scan ?? [1]).map((m) => ({ ...out, lr: round(rate * m) }));
}

/** The runs of a sweep: base + each grid point (+ couplings), then the extra runs; duplicates (same run id) dropped. */
export function expandSweep(spec: SweepSpec): RunConfig[] {
  const points: { values: Record<string, unknown>; own: Set<string>; where: string }[] = [];
  const hasAxes = Object.keys(spec.axes).length > 0;
  if (hasAxes || spec.runs.length === 0) {
    for (const p of cross(spec.axes)) points.push({ values: p, own: new Set(Object.keys(p)), where: JSON.stringify(p) });
  }
  spec.runs.forEach((r, i) => points.push({ values: r, own: new Set(Object.keys(r)), where: `runs[${i}]` }));
  if (!hasAxes && spec.runs.length === 0 && Object.keys(spec.base).length === 0) {
    throw new SweepSpecError('empty grid: the spec has no axes, no runs and no base config', 'add axes (e.g. axes: { batch: [8, 16, 32] }) or a list of runs');
  }

  const configs: RunConfig[] = [];
  const seen = new Set<string>();
  for (const p of points) {
    for (const values of couple(spec, { ...spec.base, ...p.values }, p.own)) {
      let config: RunConfig;
      try {
        // keys RunConfigSchema does not know are an external trainer's own (parseSweepSpec allowed them only with one)
        const known = Object.fromEntries(Object.entries(values).filter(([k]) => k in RunConfigSchema.shape));
        const extra = Object.fromEntries(Object.entries(values).filter(([k]) => !(k in RunConfigSchema.shape)));
        config = parseRunConfig({ ...known, ...(Object.keys(extra).length > 0 && { extra }), ...(spec.trainer && { trainer: spec.trainer }) });
        // a command template naming a key this run does not have is refused before anything starts
        if (config.trainer) externalCommand(config, '<run_dir>', true);
      } catch (err) {
        const e = err as Error & { hint?: string };
        throw new SweepSpecError(`sweep ${spec.name}: run ${p.where} is not a valid run: ${e.message}`, e.hint ?? 'fix the base config or the axis values');
      }
      const id = runId(config);
      if (seen.has(id)) continue;
      seen.add(id);
      configs.push(config);
    }
  }
  if (configs.length === 0) throw new SweepSpecError(`sweep ${spec.name}: empty grid`, 'add values to the axes or runs');
  return configs;
}

/**
 * What identifies a sweep's work: its name, purpose and the sorted ids of its runs (ids hash the full config).
 * Reformatting the file or reordering axes keeps the hash; any change in what is trained changes it.
 */
export function sweepHash(spec: SweepSpec, configs: RunConfig[] = expandSweep(spec)): string {
  const ids = configs.map(runId).sort();
  return createHash('sha256')
    .update(JSON.stringify({ name: spec.name, purpose: spec.purpose, ids }))
    .digest('hex')
    .slice(0, 16);
}

// ---- the sweep's record in the store (store/manifest.ts keeps it; executor.ts recordSweep checks it)

/** A sweep as recorded in the store: name, purpose, spec, run ids in expansion order and sweepHash. */
export type SweepManifest = StoredManifest<SweepSpec>;

export function makeManifest(spec: SweepSpec, configs: RunConfig[]): SweepManifest {
  return { name: spec.name, purpose: spec.purpose, hash: sweepHash(spec, configs), spec, runIds: configs.map(runId), createdAt: new Date().toISOString() };
}
