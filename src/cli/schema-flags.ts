// Turns a zod object schema into commander options, one kebab-case flag per key with the schema's
// description and default in --help, and reads the parsed flags back into an object for the schema.
import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { maxOf } from '../analysis/extent.ts';
import { formatGrouped, formatSig } from '../util/format.ts';
import { number } from './helpers.ts';

type AnySchema = z.ZodType & { def: { type: string; innerType?: AnySchema; defaultValue?: unknown } };

/** camelCase -> kebab-case: batchSize -> batch-size */
export const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The field's base type and default, looking through .optional() and .default(). */
function describeField(schema: AnySchema): { type: string; defaultValue?: unknown; choices?: string[] } {
  let t = schema;
  let defaultValue: unknown;
  while (t.def.type === 'optional' || t.def.type === 'default') {
    if (t.def.type === 'default') defaultValue = t.def.defaultValue;
    t = t.def.innerType!;
  }
  const choices = t.def.type === 'enum' ? (t as unknown as { options: string[] }).options : undefined;
  return { type: t.def.type, defaultValue, choices };
}

/**
 * Add one option per schema key, except the keys in `skip` (flags the command takes from options.ts's shared ones).
 * Defaults are shown in help but applied by the schema, not commander.
 */
export function addSchemaOptions(cmd: Command, shape: Record<string, z.ZodType>, skip: readonly string[] = []): Command {
  for (const [key, field] of Object.entries(shape)) {
    if (skip.includes(key)) continue;
    const flag = kebab(key);
    const info = describeField(field as AnySchema);
    const help = (field.description ?? key) + (info.defaultValue !== undefined ? ` (default: ${String(info.defaultValue)})` : '');
    const opt = new Option(info.type === 'boolean' ? `--${flag}` : `--${flag} <value>`, help);
    if (info.type === 'number') opt.argParser(number(`--${flag}`));
    if (info.choices) opt.choices(info.choices);
    cmd.addOption(opt);
  }
  return cmd;
}

/** The flags the user actually gave, keyed by schema key, ready for schema.parse. */
export function schemaValues(opts: Record<string, unknown>, shape: Record<string, z.ZodType>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(shape)) if (opts[key] !== undefined) out[key] = opts[key];
  return out;
}

/** A two-column table of a resolved config, printed at the start of a run (docs/ARCHITECTURE.md 5.3). */
export function configTable(title: string, values: Record<string, unknown>): string {
  const rows = Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [kebab(k), typeof v === 'number' ? formatNumber(v) : String(v)]);
  const width = maxOf(rows.map(([k]) => k.length));
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
}

/** A config value: integers grouped (1,000,000), others as given, or to 3 figures with an exponent outside [1e-3, 1e6). */
function formatNumber(v: number): string {
  if (Number.isInteger(v)) return formatGrouped(v);
  return Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6 ? formatSig(v, { digits: 3, small: 1e-3, large: 1e6, trim: false }) : String(v);
}
