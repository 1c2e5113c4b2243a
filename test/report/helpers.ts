// Helpers for the report tests: reading marks out of Vega's SVG output and finding charts in a report.
// The fixtures (run records) are in fixtures.ts; the charts under test are src/report/.
import type { Chart, DrawnChart, SkippedChart, ChartId } from '../../src/report/common.ts';

/** Number of <path> elements inside every mark group named `${name}_marks` (one path per line series). */
export function countPaths(svg: string, name: string): number {
  const parts = svg.split(new RegExp(`<g class="mark-[a-z]+ role-mark ${name}_marks"`));
  let n = 0;
  for (const p of parts.slice(1)) n += (p.slice(0, p.indexOf('</g>')).match(/<path/g) ?? []).length;
  return n;
}

/** Number of mark items (paths, for symbols and rules too) in groups named `${name}_marks`, any mark type. */
export function countItems(svg: string, name: string): number {
  const parts = svg.split(new RegExp(`<g class="mark-[a-z]+ role-mark ${name}_marks"`));
  let n = 0;
  for (const p of parts.slice(1)) n += (p.slice(0, p.indexOf('</g>')).match(/<(path|line|text|rect)\b/g) ?? []).length;
  return n;
}

/** Text of every axis label in the SVG (Vega marks them role-axis-label). */
export function axisLabels(svg: string): string[] {
  const out: string[] = [];
  for (const part of svg.split('role-axis-label').slice(1)) {
    const block = part.slice(0, part.indexOf('</g>'));
    for (const m of block.matchAll(/<text[^>]*>([^<]*)<\/text>/g)) out.push(m[1]);
  }
  return out;
}

export function drawn(charts: Chart[], id: ChartId): DrawnChart {
  const c = charts.find((x) => x.id === id);
  if (!c || c.status !== 'drawn') throw new Error(`chart ${id} was not drawn: ${c && c.status === 'skipped' ? c.reason : 'missing'}`);
  return c;
}

export function skippedChart(charts: Chart[], id: ChartId): SkippedChart {
  const c = charts.find((x) => x.id === id);
  if (!c || c.status !== 'skipped') throw new Error(`chart ${id} was expected to be skipped, got ${c?.status ?? 'missing'}`);
  return c;
}

/** Every unit spec's encodings in a (layered / concatenated) Vega-Lite spec. */
export function encodings(spec: unknown): Record<string, { scale?: { type?: string; reverse?: boolean }; field?: string; title?: unknown }>[] {
  const out: Record<string, { scale?: { type?: string; reverse?: boolean }; field?: string }>[] = [];
  const visit = (s: unknown): void => {
    if (!s || typeof s !== 'object') return;
    const o = s as Record<string, unknown>;
    if (o.encoding) out.push(o.encoding as never);
    for (const k of ['layer', 'hconcat', 'vconcat', 'concat']) if (Array.isArray(o[k])) (o[k] as unknown[]).forEach(visit);
  };
  visit(spec);
  return out;
}
