// What every chart module shares: the chart result types, the report's error type, number formatting for
// labels and the Vega-Lite base config (fonts, sizes). Fits live in analysis/; rendering lives in render.ts.
import type { TopLevelSpec } from 'vega-lite';
import { formatInterval, formatParams, formatSig } from '../util/format.ts';

// ---- errors

/** Bad input to a report (an empty store, an unreadable source, a bad flag): what came, and what to do. */
export class ReportInputError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'ReportInputError';
    this.hint = hint;
  }
}

// ---- chart results

export type ChartId = 'batch-scan' | 'bcrit' | 'lnd-3d' | 'lnd-vs-n' | 'lnd-vs-d' | 'learning-curves' | 'isoflop' | 'frontier';

/** The charts in the order the report shows them. */
export const CHART_ORDER: ChartId[] = ['batch-scan', 'bcrit', 'lnd-3d', 'lnd-vs-n', 'lnd-vs-d', 'learning-curves', 'isoflop', 'frontier'];

/** A Plotly figure (data + layout), drawn only in the HTML report. */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  /** per scene, its title and the fitted formula, shown above the plot by the page */
  panelTitles?: [string, string][];
}

/** A chart that the data support: its Vega-Lite spec (static SVG/PNG) and, for 3D, a Plotly figure (HTML). */
export interface DrawnChart {
  status: 'drawn';
  id: ChartId;
  title: string;
  /** what is plotted and the accounting (Kaplan non-embedding or total N; how C is counted) */
  caption: string;
  spec: TopLevelSpec;
  plotly?: PlotlyFigure;
  /** filled by buildReport: the rendered SVG of `spec` */
  svg?: string;
  /** filled by buildReport: what Vega and Vega-Lite warned while rendering it (never printed; SCALING_LAB_DEBUG=vega shows them) */
  renderWarnings?: string[];
}

/** A chart the data cannot support, with the reason shown in its place. */
export interface SkippedChart {
  status: 'skipped';
  id: ChartId;
  title: string;
  reason: string;
}

export type Chart = DrawnChart | SkippedChart;

export const skipped = (id: ChartId, title: string, reason: string): SkippedChart => ({ status: 'skipped', id, title, reason });

// ---- formatting

/**
 * The report's label style of util/format.ts's formatSig: short exponent outside [1e-2, 1e4) (2.1e8, 1.8e-3), one
 * more digit from 1 to 1e4 (0.34, 12.3, 1230).
 */
export function sci(v: number, digits = 2): string {
  const a = Math.abs(v);
  return formatSig(v, { digits: a >= 1 && a < 1e4 ? digits + 1 : digits, small: 1e-2, large: 1e4, shortExponent: true });
}

/** Parameter counts as people say them: 3.1M, 85M, 1.2B (util/format.ts formatParams). */
export const params = formatParams;

export function ciText(ci: readonly [number, number] | undefined, digits = 2): string {
  return formatInterval(ci, (v) => sci(v, digits));
}

/** n log-spaced values from lo to hi inclusive. */
export function logspace(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / Math.max(1, n - 1)));
}

// ---- which loss

/**
 * An axis title that says which loss is plotted, from where it came: `column` is an import's loss column
 * ("val_loss", "loss") or "testLoss" for our runs. `kind`: a run's last value (end points), every logged value
 * (learning curves) or the smoothed running minimum (batch-size scans). A column that does not say whether it is
 * a train or a held-out loss is named as imported: 'Final loss (as imported: "loss")'.
 */
export function lossTitle(column: string | undefined, kind: 'final' | 'curve' | 'smoothed'): string {
  const c = (column ?? '').toLowerCase();
  const which = /train/.test(c) ? 'train loss' : /val|eval|valid/.test(c) ? 'validation loss' : /test/.test(c) ? 'test loss' : null;
  const final = kind === 'final' || /final|last/.test(c);
  const suffix = kind === 'smoothed' ? ', smoothed' : '';
  if (which === null) return `${final ? 'Final loss' : 'Loss'}${suffix} (as imported${column ? `: "${column}"` : ''})`;
  const text = `${final ? 'final ' : ''}${which}${suffix}`;
  return text[0].toUpperCase() + text.slice(1);
}

// ---- Vega-Lite base

/** DejaVu Sans first: resvg turns the SVG's text into pixels with the system fonts, and Debian has DejaVu. */
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

export const BASE_CONFIG = {
  font: FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 15, anchor: 'start', offset: 10, subtitleFontSize: 12, subtitleColor: '#444' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6', labelOverlap: true },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 800 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  view: { stroke: '#bbb' },
  concat: { spacing: 28 },
} as const;

/** Axis labels for counts on log scales: 300, 3k, 10M, 1.2B (Vega's default "1,000,000,000" is unreadable). */
export const COUNT_LABELS =
  "datum.value >= 1e12 ? format(datum.value / 1e12, '~g') + 'T' : datum.value >= 1e9 ? format(datum.value / 1e9, '~g') + 'B' : " +
  "datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + 'M' : datum.value >= 1e3 ? format(datum.value / 1e3, '~g') + 'k' : format(datum.value, '~g')";

/** Axis labels for FLOPs: 1e15, 3e16. */
export const EXP_LABELS = "replace(format(datum.value, '.0e'), 'e+', 'e')";

/** Tick values for a log axis over [lo, hi]: the powers of ten inside, with 2x and 5x when fewer than 3 decades. */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const mult = hi / lo <= 1e3 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = a; e <= b; e++)
    for (const m of mult) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(Number(v.toPrecision(3)));
    }
  return out;
}

/** Ticks for a loss axis on a log scale (losses span less than a decade): 2, 2.5, 3, 4, 5 ... */
export function lossTicks(lo: number, hi: number): number[] {
  const cands = [0.5, 0.6, 0.8, 1, 1.2, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12, 15, 20];
  const out = cands.filter((v) => v >= lo * 0.98 && v <= hi * 1.02);
  if (out.filter((v) => v >= lo && v <= hi).length >= 3 || !(hi > lo)) return out;
  // a narrow range (2.2 to 2.6): round steps inside it, 3 to 6 of them
  const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5].find((st) => (hi - lo) / st <= 6) ?? 1;
  const fine: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) fine.push(Number(v.toFixed(2)));
  return fine.length >= out.filter((v) => v >= lo && v <= hi).length ? fine : out;
}

/**
 * At most about `max` of a curve's points for drawing, evenly spaced in log x (first and last always kept): a chart
 * of a store with millions of metric rows stays a few hundred KB, and a log-x curve keeps its shape.
 */
export function thinLog<T>(items: readonly T[], x: (item: T) => number, max = 200): T[] {
  if (items.length <= max) return [...items];
  const lo = Math.log(x(items[0]));
  const hi = Math.log(x(items[items.length - 1]));
  if (!(hi > lo)) return [items[0], items[items.length - 1]];
  const gap = (hi - lo) / max;
  const out: T[] = [items[0]];
  let next = lo + gap;
  for (let i = 1; i < items.length - 1; i++) {
    const v = Math.log(x(items[i]));
    if (v >= next) {
      out.push(items[i]);
      next = v + gap;
    }
  }
  out.push(items[items.length - 1]);
  return out;
}
