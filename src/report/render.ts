// Headless rendering: Vega-Lite spec -> Vega spec -> SVG with `vega` (a View with renderer 'none'), SVG -> PNG
// with @resvg/resvg-js using the system fonts. What to draw is the chart modules' business; the page is html.ts.
import * as vl from 'vega-lite';
import * as vega from 'vega';
import { Resvg } from '@resvg/resvg-js';
import type { TopLevelSpec } from 'vega-lite';
import { ReportInputError } from './common.ts';

// ---- text widths

/**
 * Advance widths of DejaVu Sans in em (from its hmtx table, units per em 2048), for the characters labels use.
 * Without node-canvas Vega guesses 0.8 em per character, which truncates legend labels and leaves wide gaps;
 * the fonts resvg draws with are DejaVu, so measuring with its widths lays text out as it will look.
 */
const EM: Record<string, number> = {
  ' ': 0.318,
  a: 0.613,
  b: 0.635,
  c: 0.55,
  d: 0.635,
  e: 0.615,
  f: 0.352,
  g: 0.635,
  h: 0.634,
  i: 0.278,
  j: 0.278,
  k: 0.579,
  l: 0.278,
  m: 0.974,
  n: 0.634,
  o: 0.612,
  p: 0.635,
  q: 0.635,
  r: 0.411,
  s: 0.521,
  t: 0.392,
  u: 0.634,
  v: 0.592,
  w: 0.818,
  x: 0.592,
  y: 0.592,
  z: 0.525,
  A: 0.684,
  B: 0.686,
  C: 0.698,
  D: 0.77,
  E: 0.632,
  F: 0.575,
  G: 0.775,
  H: 0.752,
  I: 0.295,
  J: 0.295,
  K: 0.656,
  L: 0.557,
  M: 0.863,
  N: 0.748,
  O: 0.787,
  P: 0.603,
  Q: 0.787,
  R: 0.695,
  S: 0.635,
  T: 0.611,
  U: 0.732,
  V: 0.684,
  W: 0.989,
  X: 0.685,
  Y: 0.611,
  Z: 0.685,
  '.': 0.318,
  ',': 0.318,
  ':': 0.337,
  ';': 0.337,
  '-': 0.361,
  _: 0.5,
  '(': 0.39,
  ')': 0.39,
  '[': 0.39,
  ']': 0.39,
  '/': 0.337,
  '*': 0.5,
  '+': 0.838,
  '=': 0.838,
  '^': 0.838,
  '%': 0.95,
  "'": 0.275,
  '"': 0.46,
  '!': 0.4,
  '<': 0.838,
  '>': 0.838,
  '~': 0.838,
  '|': 0.337,
  '±': 0.838,
  '·': 0.318,
};
const DIGIT = 0.636;

function dejavuWidth(item: { fontSize?: number; fontWeight?: string | number }, text: unknown): number {
  const size = item.fontSize ?? 11;
  const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600 ? 1.1 : 1;
  let w = 0;
  for (const ch of String(text ?? '')) w += ch >= '0' && ch <= '9' ? DIGIT : (EM[ch] ?? 0.62);
  return w * size * bold;
}

/** Width in pixels of `text` in DejaVu Sans at `fontSize` (what Vega will lay out and resvg will draw). */
export function textWidth(text: string, fontSize = 11, bold = false): number {
  return dejavuWidth({ fontSize, fontWeight: bold ? 'bold' : 'normal' }, text);
}

let metricsSet = false;
function useDejavuMetrics(): void {
  if (metricsSet) return;
  (vega as unknown as { textMetrics: { width: typeof dejavuWidth } }).textMetrics.width = dejavuWidth;
  metricsSet = true;
}

// ---- SVG and PNG

/** Set SCALING_LAB_DEBUG=vega (or 1) to see Vega's and Vega-Lite's own warnings on stderr as they come. */
const debugVega = (): boolean => /^(1|true|vega|all)$/i.test(process.env.SCALING_LAB_DEBUG ?? '') || /(^|,)vega(,|$)/.test(process.env.SCALING_LAB_DEBUG ?? '');

/**
 * A logger for Vega and Vega-Lite in place of theirs (which print with console.warn/console.log): warnings go to
 * `warn` and nowhere else; `fatal` decides what an error does (Vega-Lite's are thrown: the spec is wrong).
 */
function libraryLogger(warn: (message: string) => void, fatal: (message: string) => void) {
  let level = vega.Warn;
  const text = (m: unknown[]) => m.map((x) => (x instanceof Error ? x.message : String(x))).join(' ');
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error: (...m: unknown[]) => {
      fatal(text(m));
      return logger;
    },
    warn: (...m: unknown[]) => {
      if (level >= vega.Warn) warn(text(m));
      return logger;
    },
    info: (...m: unknown[]) => {
      if (level >= vega.Info && debugVega()) warn(`info: ${text(m)}`);
      return logger;
    },
    debug: () => logger,
  };
  return logger;
}

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string. The libraries' warnings (Vega-Lite's when compiling,
 * Vega's when running the dataflow) go to `onWarn` and never to stdout; with SCALING_LAB_DEBUG=vega they are also
 * written to stderr.
 */
export async function renderSvg(spec: TopLevelSpec, onWarn?: (message: string) => void): Promise<string> {
  const warn = (source: string) => (m: string) => {
    onWarn?.(`${source}: ${m}`);
    if (debugVega()) process.stderr.write(`${source} warning: ${m}\n`);
  };
  const vlLogger = libraryLogger(warn('vega-lite'), (m) => {
    throw new Error(`vega-lite: ${m}`);
  });
  const vgLogger = libraryLogger(warn('vega'), (m) => warn('vega')(`error: ${m}`));
  useDejavuMetrics();
  const compiled = vl.compile(spec, { logger: vlLogger as never }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger: vgLogger as never, logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Fonts resvg may use, found on Debian-like systems; text renders only if at least one is there. */
const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts'];

/**
 * Rasterises an SVG at `scale` (2 = twice the SVG's pixel size, for print) on white. resvg draws text only
 * with fonts it can load: the system fonts, with DejaVu Sans standing in for the generic families.
 */
export function svgToPng(svg: string, scale = 2): Buffer {
  let r: Resvg;
  try {
    r = new Resvg(svg, {
      background: 'white',
      fitTo: { mode: 'zoom', value: scale },
      font: { loadSystemFonts: true, fontDirs: FONT_DIRS, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    });
  } catch (err) {
    throw new ReportInputError(`cannot rasterise the SVG: ${(err as Error).message}`, 'this is a bug in the chart spec; the SVG output is still written');
  }
  return r.render().asPng();
}
