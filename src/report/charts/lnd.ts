// Seed chart 3 (docs/METHODS.md 12.3): L(N, D) as a 3D scatter coloured by FLOPs with the fitted law, two fits side by
// side: a Plotly 3D figure for the HTML page, and for SVG/PNG a fixed oblique projection plus 2D projections.
import type { ChinchillaBootstrap, ChinchillaFit } from '../../analysis/chinchilla.ts';
import { chinchillaLoss } from '../../analysis/chinchilla.ts';
import { kaplanNDLoss, type KaplanFit, type KaplanNDKey, type KaplanNDParams } from '../../analysis/kaplan.ts';
import type { BootstrapResult } from '../../analysis/stats.ts';
import { BASE_CONFIG, COUNT_LABELS, EXP_LABELS, logTicks, logspace, lossTicks, lossTitle, skipped, type Chart, type PlotlyFigure } from '../common.ts';
import { count, countRange, num, power } from './format.ts';
import type { PointSet, ReportData } from '../data.ts';
import { maxOf, minOf } from '../../analysis/extent.ts';

export type LndPanel =
  | { label: string; form: 'chinchilla'; set: PointSet; fit: ChinchillaFit; boot: ChinchillaBootstrap | null }
  | { label: string; form: 'kaplan'; set: PointSet; fit: KaplanFit<KaplanNDParams>; boot: BootstrapResult<KaplanNDKey> | null };

export function predict(p: LndPanel, N: number, D: number): number {
  switch (p.form) {
    case 'chinchilla':
      return chinchillaLoss(p.fit.params, N, D);
    case 'kaplan':
      return kaplanNDLoss(p.fit.params, N, D);
    default:
      throw new Error(`unknown form ${(p satisfies never as LndPanel).form}`);
  }
}

/** The fitted law with its numbers, e.g. "L(N,D) = 1.69 + 406/N^0.34 + 411/D^0.28". */
export function formulaText(p: LndPanel): string {
  switch (p.form) {
    case 'chinchilla': {
      const q = p.fit.params;
      // each term's sign written once ("+ -406/N^0.34" would be a sign printed twice)
      const term = (v: number, rest: string) => `${v < 0 ? ' - ' : ' + '}${num(Math.abs(v), 3)}${rest}`;
      return `L(N,D) = ${num(q.E, 3)}${term(q.A, `/${power('N', q.alpha)}`)}${term(q.B, `/${power('D', q.beta)}`)}`;
    }
    case 'kaplan': {
      const q = p.fit.params;
      return `L(N,D) = [${power(`(${num(q.Nc)}/N)`, q.alphaN / q.alphaD)} + ${num(q.Dc)}/D]^${num(q.alphaD)}`;
    }
    default:
      throw new Error(`unknown form ${(p satisfies never as LndPanel).form}`);
  }
}

export function formName(p: LndPanel): string {
  return p.form === 'chinchilla' ? 'Chinchilla form (Hoffmann et al. 2022, Approach 3)' : 'Kaplan form (Kaplan et al. 2020, eq. 1.5)';
}

const shortForm = (p: LndPanel): string => (p.form === 'chinchilla' ? 'Chinchilla form, Approach 3' : 'Kaplan form, eq. 1.5');

/**
 * Every 3D panel has this size whatever its title: the title and subtitle are cut (with an ellipsis) at the panel's
 * width instead of widening it (a file path as title once made a 4232 x 814 PNG, mostly empty).
 */
const PANEL_3D = { width: 400, height: 330 } as const;
const PANEL_2D = { width: 330, height: 260 } as const;

/** Successful bootstrap resamples behind a panel's intervals. */
export function bootCount(p: LndPanel): number {
  return p.boot ? ((Object.values(p.boot.samples)[0] as Float64Array | undefined)?.length ?? 0) : 0;
}

const nWordsOf = (p: LndPanel): string =>
  p.set.accounting.n === 'kaplan' ? 'N non-embedding (Kaplan)' : p.set.accounting.n === 'total' ? 'N = all parameters' : 'N as given';

// ---- the fixed 3D view: an oblique projection computed here

/** Kaplan-style camera: azimuth 40 degrees, elevation 25 degrees, over the unit cube (log D, log N, loss). */
const AZ = (40 * Math.PI) / 180;
const EL = (25 * Math.PI) / 180;

export function project(u: number, v: number, w: number): { x: number; y: number; depth: number } {
  const back = u * Math.sin(AZ) + v * Math.cos(AZ);
  return { x: u * Math.cos(AZ) - v * Math.sin(AZ), y: back * Math.sin(EL) + w * Math.cos(EL), depth: back * Math.cos(EL) - w * Math.sin(EL) };
}

interface Ranges {
  d: [number, number];
  n: [number, number];
  loss: [number, number];
  c: [number, number];
}

function ranges(p: LndPanel): Ranges {
  const pts = p.set.points;
  const d: [number, number] = [minOf(pts.map((q) => q.d)), maxOf(pts.map((q) => q.d))];
  const n: [number, number] = [minOf(pts.map((q) => q.n)), maxOf(pts.map((q) => q.n))];
  const ls = pts.map((q) => q.loss);
  return { d, n, loss: [minOf(ls) * 0.97, maxOf(ls) * 1.03], c: [minOf(pts.map((q) => q.c)), maxOf(pts.map((q) => q.c))] };
}

function obliquePanel(p: LndPanel, i: number, cDomain: [number, number]) {
  const r = ranges(p);
  const U = (d: number) => (Math.log(d) - Math.log(r.d[0])) / (Math.log(r.d[1]) - Math.log(r.d[0]) || 1);
  const V = (n: number) => (Math.log(n) - Math.log(r.n[0])) / (Math.log(r.n[1]) - Math.log(r.n[0]) || 1);
  const W = (l: number) => (l - r.loss[0]) / (r.loss[1] - r.loss[0]);
  const pts = p.set.points
    .map((q) => {
      const s = project(U(q.d), V(q.n), W(q.loss));
      const f = project(U(q.d), V(q.n), 0);
      return { id: q.id, N: q.n, D: q.d, C: q.c, loss: q.loss, x: s.x, y: s.y, fy: f.y, depth: s.depth };
    })
    .sort((a, b) => b.depth - a.depth)
    .map((q, k) => ({ ...q, order: k }));
  const wire: { line: string; k: number; x: number; y: number }[] = [];
  const ns = logspace(r.n[0], r.n[1], 6);
  const ds = logspace(r.d[0], r.d[1], 6);
  const add = (name: string, N: (t: number) => number, D: (t: number) => number) => {
    for (let k = 0; k <= 24; k++) {
      const t = k / 24;
      const w = W(predict(p, N(t), D(t)));
      if (w < -0.02 || w > 1.02) continue;
      const s = project(U(D(t)), V(N(t)), w);
      wire.push({ line: name, k, x: s.x, y: s.y });
    }
  };
  ns.forEach((N, j) =>
    add(
      `n${j}`,
      () => N,
      (t) => r.d[0] * (r.d[1] / r.d[0]) ** t,
    ),
  );
  ds.forEach((D, j) =>
    add(
      `d${j}`,
      (t) => r.n[0] * (r.n[1] / r.n[0]) ** t,
      () => D,
    ),
  );
  // the box: floor square, back walls' verticals
  const corners: [number, number, number][][] = [
    [
      [0, 0, 0],
      [1, 0, 0],
    ],
    [
      [1, 0, 0],
      [1, 1, 0],
    ],
    [
      [1, 1, 0],
      [0, 1, 0],
    ],
    [
      [0, 1, 0],
      [0, 0, 0],
    ],
    [
      [1, 0, 0],
      [1, 0, 1],
    ],
    [
      [1, 1, 0],
      [1, 1, 1],
    ],
    [
      [0, 1, 0],
      [0, 1, 1],
    ],
    [
      [1, 0, 1],
      [1, 1, 1],
    ],
    [
      [1, 1, 1],
      [0, 1, 1],
    ],
  ];
  const box = corners.flatMap((seg, j) => seg.map(([u, v, w], k) => ({ edge: j, k, ...project(u, v, w) })));
  const labels: { text: string; x: number; y: number; align: string; kind: string }[] = [];
  for (const d of logTicks(r.d[0], r.d[1])) {
    const s = project(U(d), 0, 0);
    labels.push({ text: compact(d), x: s.x + 0.015, y: s.y - 0.06, align: 'left', kind: 'tick' });
  }
  for (const n of logTicks(r.n[0], r.n[1])) {
    const s = project(0, V(n), 0);
    labels.push({ text: compact(n), x: s.x - 0.015, y: s.y - 0.06, align: 'right', kind: 'tick' });
  }
  for (const l of zTicks(r.loss[0], r.loss[1])) {
    const s = project(1, 0, W(l));
    labels.push({ text: String(l), x: s.x + 0.03, y: s.y, align: 'left', kind: 'tick' });
  }
  const dl = project(0.55, 0, 0);
  const nl = project(0, 0.55, 0);
  const ll = project(1, 0, 1.08);
  labels.push({ text: 'D (tokens)', x: dl.x + 0.06, y: dl.y - 0.16, align: 'left', kind: 'axis' });
  labels.push({ text: 'N (parameters)', x: nl.x - 0.06, y: nl.y - 0.16, align: 'right', kind: 'axis' });
  labels.push({ text: lossTitle(p.set.lossColumn, 'final').toLowerCase(), x: ll.x, y: ll.y, align: 'center', kind: 'axis' });
  const all = [...box, ...labels];
  const xDom = [minOf(all.map((q) => q.x)) - 0.12, maxOf(all.map((q) => q.x)) + 0.12];
  const yDom = [minOf(all.map((q) => q.y)) - 0.05, maxOf(all.map((q) => q.y)) + 0.05];
  const x = { field: 'x', type: 'quantitative', axis: null, scale: { domain: xDom, nice: false, zero: false } };
  const y = { field: 'y', type: 'quantitative', axis: null, scale: { domain: yDom, nice: false, zero: false } };
  return {
    title: { text: p.label, subtitle: [formulaText(p), `${shortForm(p)}; ${p.fit.n} runs; ${nWordsOf(p)}`], limit: PANEL_3D.width, anchor: 'start' },
    width: PANEL_3D.width,
    height: PANEL_3D.height,
    view: { stroke: null },
    layer: [
      {
        name: `lnd${i}_box`,
        data: { values: box },
        mark: { type: 'line', color: '#bbb', strokeWidth: 1 },
        encoding: { x, y, detail: { field: 'edge' }, order: { field: 'k' } },
      },
      {
        name: `lnd${i}_surface`,
        data: { values: wire },
        mark: { type: 'line', color: '#888', strokeWidth: 0.8, opacity: 0.7 },
        encoding: { x, y, detail: { field: 'line' }, order: { field: 'k' } },
      },
      { name: `lnd${i}_drops`, data: { values: pts }, mark: { type: 'rule', color: '#ccc', strokeWidth: 0.8 }, encoding: { x, y, y2: { field: 'fy' } } },
      {
        name: `lnd${i}_points`,
        data: { values: pts },
        mark: { type: 'circle', size: 55, opacity: 1, stroke: '#333', strokeWidth: 0.5 },
        encoding: {
          x,
          y,
          order: { field: 'order' },
          color: {
            field: 'C',
            type: 'quantitative',
            title: 'Training FLOPs',
            scale: { type: 'log', scheme: 'plasma', domain: cDomain },
            legend: { type: 'gradient', labelExpr: EXP_LABELS, gradientLength: 180 },
          },
          tooltip: [
            { field: 'id' },
            { field: 'N', format: '.3s' },
            { field: 'D', format: '.3s' },
            { field: 'C', format: '.2e' },
            { field: 'loss', format: '.3f' },
          ],
        },
      },
      // a text layer per alignment and weight (Vega-Lite has no align or fontWeight channel: they are mark properties)
      ...(['left', 'right', 'center'] as const).flatMap((align) =>
        (['tick', 'axis'] as const)
          .filter((kind) => labels.some((l) => l.align === align && l.kind === kind))
          .map((kind) => ({
            name: `lnd${i}_labels_${kind}_${align}`,
            data: { values: labels.filter((l) => l.align === align && l.kind === kind) },
            mark: { type: 'text', fontSize: 10, color: '#333', align, fontWeight: kind === 'axis' ? 'bold' : 'normal' },
            encoding: { x, y, text: { field: 'text' } },
          })),
      ),
    ],
  };
}

/** Loss ticks for the 3D box: the usual loss ticks, or 3-5 evenly spaced round values over a narrow range. */
function zTicks(lo: number, hi: number): number[] {
  const t = lossTicks(lo, hi);
  if (t.length >= 3) return t;
  const raw = (hi - lo) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

const compact = (v: number): string => count(v);

// ---- 2D projections: loss vs N in D bands, loss vs D in N bands

/** Splits values into up to k log-spaced bands; returns each value's band label and each band's geometric centre. */
function bands(values: number[], k: number): { of: (v: number) => number; labels: string[]; centres: number[] } {
  const lo = Math.log(minOf(values));
  const hi = Math.log(maxOf(values));
  const m = Math.max(1, Math.min(k, new Set(values).size));
  const w = (hi - lo) / m || 1;
  const of = (v: number) => Math.min(m - 1, Math.floor((Math.log(v) - lo) / w));
  const used = [...new Set(values.map(of))].sort((a, b) => a - b);
  const centres = Array.from({ length: m }, (_, j) => {
    const inBand = values.filter((v) => of(v) === j);
    return inBand.length ? Math.exp(inBand.reduce((s, v) => s + Math.log(v), 0) / inBand.length) : NaN;
  });
  const labels = Array.from({ length: m }, (_, j) => countRange(Math.exp(lo + j * w), Math.exp(lo + (j + 1) * w)));
  return { of: (v) => (used.indexOf(of(v)) >= 0 ? of(v) : 0), labels, centres };
}

function projectionPanel(p: LndPanel, i: number, along: 'n' | 'd') {
  const other = along === 'n' ? 'd' : 'n';
  const pts = p.set.points;
  const b = bands(
    pts.map((q) => q[other]),
    5,
  );
  const bandName = (j: number) => `${other === 'd' ? 'D' : 'N'} ${b.labels[j]}`;
  const rows = pts.map((q) => ({ id: q.id, x: q[along], loss: q.loss, band: bandName(b.of(q[other])), bandIndex: b.of(q[other]) }));
  const xs = pts.map((q) => q[along]);
  const xLo = minOf(xs) / 1.3;
  const xHi = maxOf(xs) * 1.3;
  const curves: { band: string; bandIndex: number; x: number; loss: number }[] = [];
  b.centres.forEach((c, j) => {
    if (!Number.isFinite(c)) return;
    // the law at the band's centre, over the band's own span of the x variable only (never beyond its runs)
    const inBand = pts.filter((q) => b.of(q[other]) === j).map((q) => q[along]);
    if (!(maxOf(inBand) > minOf(inBand))) return;
    for (const v of logspace(minOf(inBand), maxOf(inBand), 30))
      curves.push({ band: bandName(j), bandIndex: j, x: v, loss: along === 'n' ? predict(p, v, c) : predict(p, c, v) });
  });
  const ls = [...rows.map((r) => r.loss), ...curves.map((r) => r.loss)].filter(Number.isFinite);
  const lLo = minOf(ls) * 0.95;
  const lHi = maxOf(ls) * 1.05;
  const domain = b.labels.map((_, j) => bandName(j)).filter((_, j) => Number.isFinite(b.centres[j]));
  const x = {
    field: 'x',
    type: 'quantitative',
    title:
      along === 'n'
        ? `N, parameters (${p.set.accounting.n === 'kaplan' ? 'non-embedding, Kaplan' : p.set.accounting.n === 'total' ? 'all, Chinchilla' : 'as given'})`
        : 'D, training tokens',
    scale: { type: 'log', domain: [xLo, xHi], nice: false },
    axis: { values: logTicks(xLo, xHi), labelExpr: COUNT_LABELS },
  };
  const y = {
    field: 'loss',
    type: 'quantitative',
    title: lossTitle(p.set.lossColumn, 'final'),
    scale: { type: 'log', domain: [lLo, lHi], nice: false },
    axis: { values: zTicks(lLo, lHi), format: '~g' },
  };
  const color = {
    field: 'band',
    type: 'ordinal',
    title: other === 'd' ? 'D band (tokens)' : 'N band (params)',
    scale: { domain, scheme: 'viridis' },
    legend: { orient: 'right' },
  };
  return {
    title: {
      text: p.label,
      subtitle: [`loss vs ${along === 'n' ? 'N, by band of D' : 'D, by band of N'}`, formulaText(p)],
      limit: PANEL_2D.width,
      anchor: 'start',
    },
    width: PANEL_2D.width,
    height: PANEL_2D.height,
    layer: [
      {
        name: `proj${i}_fit`,
        data: { values: curves },
        mark: { type: 'line', strokeDash: [5, 3], strokeWidth: 1.5, clip: true },
        encoding: { x, y, color, detail: { field: 'band' } },
      },
      {
        name: `proj${i}_points`,
        data: { values: rows },
        mark: { type: 'circle', size: 45, opacity: 0.9, clip: true },
        encoding: { x, y, color, tooltip: [{ field: 'id' }, { field: 'x', format: '.3s' }, { field: 'loss', format: '.3f' }] },
      },
    ],
  };
}

// ---- Plotly (HTML)

/** Matplotlib's plasma (as in Vega's 'plasma' scheme of the static view); Plotly has no built-in of that name. */
const PLASMA = [
  [0, '#0d0887'],
  [0.25, '#7e03a8'],
  [0.5, '#cc4778'],
  [0.75, '#f89540'],
  [1, '#f0f921'],
];

function plotlyFigure(panels: LndPanel[]): PlotlyFigure {
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    margin: { l: 0, r: 0, t: 10, b: 0 },
    height: 520,
    showlegend: false,
    font: { family: 'DejaVu Sans, Arial, sans-serif' },
  };
  const cLo = minOf(panels.flatMap((p) => p.set.points.map((q) => q.c)));
  const cHi = maxOf(panels.flatMap((p) => p.set.points.map((q) => q.c)));
  panels.forEach((p, i) => {
    const scene = i === 0 ? 'scene' : `scene${i + 1}`;
    const r = ranges(p);
    const pts = p.set.points;
    data.push({
      type: 'scatter3d',
      mode: 'markers',
      scene,
      name: p.label,
      x: pts.map((q) => q.d),
      y: pts.map((q) => q.n),
      z: pts.map((q) => q.loss),
      text: pts.map((q) => `${q.id}<br>N ${compact(q.n)}, D ${compact(q.d)}<br>C ${q.c.toExponential(2)}<br>loss ${q.loss.toFixed(3)}`),
      hoverinfo: 'text',
      marker: {
        size: 4,
        color: pts.map((q) => Math.log10(q.c)),
        cmin: Math.log10(cLo),
        cmax: Math.log10(cHi),
        colorscale: PLASMA,
        showscale: i === 0,
        colorbar: { title: { text: 'log10 FLOPs' }, x: 1.0, len: 0.7 },
        line: { width: 0.5, color: '#333' },
      },
    });
    const ns = logspace(r.n[0], r.n[1], 20);
    const ds = logspace(r.d[0], r.d[1], 20);
    data.push({
      type: 'surface',
      scene,
      x: ds,
      y: ns,
      z: ns.map((N) => ds.map((D) => predict(p, N, D))),
      opacity: 0.35,
      showscale: false,
      colorscale: 'Greys',
      hoverinfo: 'skip',
    });
    const w = 1 / panels.length;
    layout[scene] = {
      domain: { x: [i * w, (i + 1) * w - 0.02], y: [0, 1] },
      xaxis: { type: 'log', dtick: 1, title: { text: 'D (tokens)' } },
      yaxis: { type: 'log', dtick: 1, title: { text: 'N (params)' } },
      zaxis: { title: { text: lossTitle(p.set.lossColumn, 'final').toLowerCase() } },
      camera: { eye: { x: -1.6, y: -1.6, z: 0.9 } },
    };
  });
  return { data, layout, panelTitles: panels.map((p) => [`${p.label} (${shortForm(p)})`, formulaText(p)]) };
}

// ---- the three charts

export function lndCharts(data: ReportData, panels: readonly LndPanel[], reason?: string): Chart[] {
  const title3d = 'L(N, D): loss over parameters and tokens';
  if (panels.length === 0) {
    const why = `chart 3 needs end points of runs over several model sizes and token counts: ${reason ?? 'none'}`;
    return [skipped('lnd-3d', title3d, why), skipped('lnd-vs-n', 'L(N, D): loss vs N', why), skipped('lnd-vs-d', 'L(N, D): loss vs D', why)];
  }
  const cDomain: [number, number] = [minOf(panels.flatMap((p) => p.set.points.map((q) => q.c))), maxOf(panels.flatMap((p) => p.set.points.map((q) => q.c)))];
  const accounting = panels.map((p) => `${p.label}: ${nWordsOf(p)}, C ${p.set.accounting.flops === 'given' ? 'as logged/given' : '= 6ND'}`).join('; ');
  const fitWords = panels
    .map(
      (p) =>
        `${p.label}, ${formName(p)}: ${formulaText(p)} (${p.fit.n} runs${p.boot ? `, CIs in the fit table from ${bootCount(p)} bootstrap resamples over runs` : ''})`,
    )
    .join('; ');
  const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: BASE_CONFIG };
  return [
    {
      status: 'drawn',
      id: 'lnd-3d',
      title: title3d,
      caption:
        `Each point is one run's ${lossTitle(panels[0].set.lossColumn, 'final').toLowerCase()} over its training tokens D and parameters N, coloured by training FLOPs (log scale); the wireframe is the fitted law. ` +
        `Static view: a fixed oblique projection (azimuth 40 deg, elevation 25 deg) of (log D, log N, loss) computed in TypeScript, with drop lines to the floor; the HTML report has the rotatable 3D plot. ` +
        `${fitWords}. Accounting: ${accounting}. ${data.cWords}.`,
      spec: { ...base, hconcat: panels.map((p, i) => obliquePanel(p, i, cDomain)), resolve: { scale: { color: 'shared' } } } as never,
      plotly: plotlyFigure([...panels]),
    },
    {
      status: 'drawn',
      id: 'lnd-vs-n',
      title: 'L(N, D): loss vs N in D bands',
      caption: `Projection of chart 3: ${lossTitle(panels[0].set.lossColumn, 'final').toLowerCase()} against N, runs coloured by their band of training tokens D; dashed: the fitted law at each band's geometric-mean D. Accounting: ${accounting}.`,
      spec: { ...base, hconcat: panels.map((p, i) => projectionPanel(p, i, 'n')), resolve: { scale: { color: 'independent' } } } as never,
    },
    {
      status: 'drawn',
      id: 'lnd-vs-d',
      title: 'L(N, D): loss vs D in N bands',
      caption: `Projection of chart 3: ${lossTitle(panels[0].set.lossColumn, 'final').toLowerCase()} against D, runs coloured by their band of model size N; dashed: the fitted law at each band's geometric-mean N. Accounting: ${accounting}.`,
      spec: { ...base, hconcat: panels.map((p, i) => projectionPanel(p, i + 2, 'd')), resolve: { scale: { color: 'independent' } } } as never,
    },
  ];
}
