// The report library entry: input -> fits (by calling analysis/) -> charts (specs, rendered SVG) -> headline numbers
// and the HTML page; writeReport puts SVG/PNG/HTML files on disk. Chart specs live in charts/, the page in html.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analyzeBatchScan, pooledLaw, type PooledLaw } from '../analysis/bcrit.ts';
import { noiseAgreement, noiseScaleBins } from '../analysis/noise.ts';
import { bootstrapChinchilla, fitChinchilla, type ChinchillaBootstrap, type ChinchillaFit, type ChinchillaParams } from '../analysis/chinchilla.ts';
import { bootstrapKaplanND, fitKaplanND, type KaplanFit, type KaplanNDParams } from '../analysis/kaplan.ts';
import { fitIsoFlop, type IsoFlopFit } from '../analysis/isoflop.ts';
import { compareApproaches, type ApproachComparison } from '../analysis/approaches.ts';
import { quantile, type BootstrapResult } from '../analysis/stats.ts';
import { AnalysisInputError } from '../analysis/errors.ts';
import { LND_MIN_SIZES, LND_MIN_TOKENS, type Warning } from '../analysis/diagnostics.ts';
import { CHART_ORDER, ReportInputError, type Chart, type ChartId } from './common.ts';
import { prepareData, type NCount, type PointSet, type ReportData, type ReportInput } from './data.ts';
import { scanChart, type ScanFit } from './charts/scan.ts';
import { bcritChart, type NoiseSeries } from './charts/bcrit.ts';
import { lndCharts, type LndPanel } from './charts/lnd.ts';
import { learningCurvesChart } from './charts/curves.ts';
import { isoflopChart, frontierChart } from './charts/isoflop.ts';
import { renderSvg, svgToPng } from './render.ts';
import { reportHtml } from './html.ts';

export interface ReportOptions {
  /** bootstrap resamples for every confidence interval (default 200) */
  bootstrap?: number;
  seed?: number;
  /** confidence level (default 0.95) */
  level?: number;
  /** how N is counted for L(N, D) from our own runs (default 'kaplan', matching the logged FLOPs) */
  nCount?: NCount;
  /** render each chart's SVG (default true; false leaves `svg` unset and the HTML without 2D charts) */
  render?: boolean;
  /** a line per stage, for the CLI's stderr */
  onProgress?: (line: string) => void;
}

export interface ReportFits {
  scans: ScanFit[];
  /** Kaplan's single B_crit(L) across the scans, with the F-test of agreement (null with fewer than 2 laws) */
  pooled: PooledLaw | null;
  noise: NoiseSeries[];
  /** the two side-by-side L(N, D) fits (empty with `lndReason` when the data cannot support them) */
  lnd: LndPanel[];
  lndReason?: string;
  isoflop: IsoFlopFit | null;
  isoflopReason?: string;
  /** Approach 2, Approach 3 and VPNLS side by side per L(N, D) data set (every group of a grouped import), or why not */
  approaches: ApproachFits[];
}

export interface ApproachFits {
  label: string;
  set: PointSet;
  comparison: ApproachComparison | null;
  reason?: string;
}

/** The numbers a demo prints: critical batch size laws, L(N, D) parameters with CIs, allocation exponents. */
export interface Headline {
  /** per scan: its label (model size, and the trainer and other parts that differ), its trainer (stored runs), the law */
  bcrit: { size: string; trainer?: string; n: number; bStar: number; bStarCi: [number, number]; alphaB: number; alphaBCi: [number, number]; levels: number }[];
  /** the pooled law across scans and whether the per-scan laws agree with it */
  bcritPooled: PooledLaw | null;
  chinchilla: { label: string; params: ChinchillaParams; ci: Record<keyof ChinchillaParams, [number, number]>; runs: number; nCount: string } | null;
  kaplan: { label: string; params: KaplanNDParams; ci: Record<keyof KaplanNDParams, [number, number]>; runs: number; nCount: string } | null;
  /** N_opt ~ C^a, D_opt ~ C^b from the Chinchilla fit (Approach 3, C = 6ND), with bootstrap intervals */
  allocation: { a: number; aCi: [number, number]; b: number; bCi: [number, number] } | null;
  /** the same exponents from IsoFLOP profiles (Approach 2), with standard errors */
  isoflop: { a: number; aStdErr: number; b: number; bStdErr: number; profiles: number } | null;
  level: number;
  bootstrap: number;
  seed: number;
}

export interface Report {
  source: string;
  charts: Chart[];
  fits: ReportFits;
  headline: Headline;
  /** data notes (runs left out, import notes) and every fit's warning as "[code] where: message", for the page and the CLI */
  warnings: string[];
  /** every fit's warnings, machine-readable, each labelled with the fit it belongs to (analysis/diagnostics.ts WARNING_CODES) */
  diagnostics: (Warning & { fit: string })[];
  data: ReportData;
  /** the self-contained page (scripts and data inlined) */
  html: string;
}

export type Format = 'svg' | 'png' | 'html';

// ---- fits

const fitErr = (err: unknown): string => {
  if (err instanceof AnalysisInputError) return err.message;
  throw err;
};

function scanFits(data: ReportData, o: Required<Pick<ReportOptions, 'bootstrap' | 'seed' | 'level'>>): ScanFit[] {
  return data.groups.map((group) => {
    if (group.batchTokens.length < 3)
      return { group, analysis: null, reason: `${group.batchTokens.length} batch size${group.batchTokens.length === 1 ? '' : 's'}; a scan needs 3` };
    try {
      // the analysis's own bootstrap seed per scan, so that pooledLaw can pool replicate r of every scan
      return { group, analysis: analyzeBatchScan(group.curves, { bootstrap: { samples: Math.max(1, o.bootstrap), seed: o.seed, level: o.level } }) };
    } catch (err) {
      return { group, analysis: null, reason: fitErr(err) };
    }
  });
}

/** B_simple per scan as a ratio of means, binned on the smoothed test loss at the scan's B_crit levels. */
function noiseFits(data: ReportData, scans: readonly ScanFit[]): NoiseSeries[] {
  const out: NoiseSeries[] = [];
  for (const g of data.groups) {
    if (g.runs.length === 0) continue;
    const analysis = scans.find((s) => s.group === g)?.analysis;
    const levels = analysis?.levels.map((l) => l.loss);
    const bins = noiseScaleBins(g.runs, levels && levels.length >= 2 ? { levels } : {});
    if (bins.some((b) => Number.isFinite(b.bSimpleTokens)))
      out.push({ label: g.label, bins, loss: 'test', agreement: analysis ? noiseAgreement(g.runs, analysis) : null });
  }
  return out;
}

type Boot<K extends string> = { ci: Record<K, [number, number]>; level: number };

function lndFit(set: PointSet, form: 'chinchilla' | 'kaplan', o: Required<Pick<ReportOptions, 'bootstrap' | 'seed' | 'level'>>): LndPanel {
  switch (form) {
    case 'chinchilla': {
      const fit: ChinchillaFit = fitChinchilla(set.points, { accounting: set.accounting, budget: set.budget, duplicatesDropped: set.duplicates });
      const boot: ChinchillaBootstrap | null =
        o.bootstrap > 0 ? bootstrapChinchilla(set.points, fit, { samples: o.bootstrap, seed: o.seed, level: o.level }) : null;
      return { label: set.label, form, set, fit, boot };
    }
    case 'kaplan': {
      const fit: KaplanFit<KaplanNDParams> = fitKaplanND(set.points, set.accounting, undefined, { budget: set.budget, duplicatesDropped: set.duplicates });
      const boot: BootstrapResult<keyof KaplanNDParams> | null =
        o.bootstrap > 0 ? bootstrapKaplanND(set.points, fit, { samples: o.bootstrap, seed: o.seed, level: o.level }) : null;
      return { label: set.label, form, set, fit, boot };
    }
    default:
      throw new Error(`unknown form ${form satisfies never}`);
  }
}

/** Every approach on every L(N, D) data set: each group of a grouped import, else our runs (and the reference). */
function approachFits(data: ReportData, o: Required<Pick<ReportOptions, 'bootstrap' | 'seed' | 'level'>>, progress: (l: string) => void): ApproachFits[] {
  const sets = data.pointGroups ?? [data.points, data.reference].filter((x): x is PointSet => !!x && x.points.length > 0);
  return sets.map((set) => {
    progress(`comparing Approach 2, Approach 3 and VPNLS on ${set.label} (${set.points.length} runs, ${o.bootstrap} bootstrap resamples each)`);
    try {
      return {
        label: set.label,
        set,
        comparison: compareApproaches(set.points, {
          budget: set.budget,
          bootstrap: o.bootstrap,
          seed: o.seed,
          level: o.level,
          label: set.label,
          duplicatesDropped: set.duplicates,
        }),
      };
    } catch (err) {
      return { label: set.label, set, comparison: null, reason: fitErr(err) };
    }
  });
}

function lndFits(
  data: ReportData,
  o: Required<Pick<ReportOptions, 'bootstrap' | 'seed' | 'level'>>,
  progress: (l: string) => void,
  approaches: readonly ApproachFits[] = [],
): { panels: LndPanel[]; reason?: string } {
  // Approach 3 was fitted (with its bootstrap) in the comparison: the panel reuses it
  const chinchilla = (set: PointSet): LndPanel => {
    const a3 = approaches.find((x) => x.set === set)?.comparison?.approach3;
    return a3 ? { label: set.label, form: 'chinchilla', set, fit: a3.fit, boot: a3.bootstrap } : lndFit(set, 'chinchilla', o);
  };
  const set = data.points;
  if (!set) return { panels: [], reason: data.pointsReason ?? 'no end points' };
  const sizes = new Set(set.points.map((p) => p.n)).size;
  const budgets = new Set(set.points.map((p) => p.d)).size;
  if (set.points.length < 6 || sizes < LND_MIN_SIZES || budgets < LND_MIN_TOKENS) {
    return {
      panels: [],
      reason: `L(N, D) needs at least 6 runs over ${LND_MIN_SIZES} or more model sizes and ${LND_MIN_TOKENS} or more token counts; this data set has ${set.points.length} runs, ${sizes} size${sizes === 1 ? '' : 's'}, ${budgets} token count${budgets === 1 ? '' : 's'}`,
    };
  }
  try {
    progress(`fitting L(N, D), Chinchilla form, ${set.points.length} runs, ${o.bootstrap} bootstrap resamples`);
    const first = chinchilla(set);
    if (data.reference) {
      progress(`fitting L(N, D) on the reference data (${data.reference.label}, ${data.reference.points.length} runs)`);
      return { panels: [first, chinchilla(data.reference)] };
    }
    progress(`fitting L(N, D), Kaplan form, ${o.bootstrap} bootstrap resamples`);
    return { panels: [first, lndFit(set, 'kaplan', o)] };
  } catch (err) {
    return { panels: [], reason: fitErr(err) };
  }
}

function isoFit(data: ReportData, approaches: readonly ApproachFits[] = []): { fit: IsoFlopFit | null; reason?: string } {
  if (!data.points) return { fit: null, reason: data.pointsReason };
  const done = approaches.find((x) => x.set === data.points)?.comparison?.isoflop;
  if (done) return { fit: done };
  try {
    return { fit: fitIsoFlop(data.points.points, { accounting: data.points.accounting, budget: data.points.budget }) };
  } catch (err) {
    return { fit: null, reason: fitErr(err) };
  }
}

// ---- headline

function headline(fits: ReportFits, o: Required<Pick<ReportOptions, 'bootstrap' | 'seed' | 'level'>>): Headline {
  const nan: [number, number] = [NaN, NaN];
  const bcrit = fits.scans.flatMap((s) => {
    const f = s.analysis?.fit;
    return f
      ? [
          {
            size: s.group.label,
            ...(s.group.trainer !== undefined && { trainer: s.group.trainer }),
            n: s.group.n,
            bStar: f.bStar,
            bStarCi: f.ci.bStar,
            alphaB: f.alphaB,
            alphaBCi: f.ci.alphaB,
            levels: f.n,
          },
        ]
      : [];
  });
  const ch = fits.lnd.find((p) => p.form === 'chinchilla');
  const kp = fits.lnd.find((p) => p.form === 'kaplan');
  let chinchilla: Headline['chinchilla'] = null;
  let allocation: Headline['allocation'] = null;
  if (ch && ch.form === 'chinchilla') {
    const boot = ch.boot as (ChinchillaBootstrap & Boot<keyof ChinchillaParams>) | null;
    const p = ch.fit.params;
    chinchilla = {
      label: ch.label,
      params: p,
      ci: boot ? boot.ci : { E: nan, A: nan, B: nan, alpha: nan, beta: nan },
      runs: ch.fit.n,
      nCount: ch.set.accounting.n,
    };
    // Hoffmann et al. 2022 eq. (4): N_opt ~ C^(beta/(alpha+beta)), D_opt ~ C^(alpha/(alpha+beta)); intervals over the refits
    const lo = (1 - o.level) / 2;
    const as = boot ? boot.x.map((x) => x[4] / (x[3] + x[4])) : [];
    const q = (v: number[]): [number, number] => (v.length ? [quantile(v, lo), quantile(v, 1 - lo)] : nan);
    allocation = { a: p.beta / (p.alpha + p.beta), aCi: q(as), b: p.alpha / (p.alpha + p.beta), bCi: q(as.map((a) => 1 - a)) };
  }
  let kaplan: Headline['kaplan'] = null;
  if (kp && kp.form === 'kaplan') {
    const boot = kp.boot as Boot<keyof KaplanNDParams> | null;
    kaplan = {
      label: kp.label,
      params: kp.fit.params,
      ci: boot ? boot.ci : { Nc: nan, Dc: nan, alphaN: nan, alphaD: nan },
      runs: kp.fit.n,
      nCount: kp.set.accounting.n,
    };
  }
  const iso = fits.isoflop;
  return {
    bcrit,
    bcritPooled: fits.pooled,
    chinchilla,
    kaplan,
    allocation,
    isoflop: iso?.nOpt && iso.dOpt ? { a: iso.nOpt.p, aStdErr: iso.nOpt.pStdErr, b: iso.dOpt.p, bStdErr: iso.dOpt.pStdErr, profiles: iso.nOpt.n } : null,
    level: o.level,
    bootstrap: o.bootstrap,
    seed: o.seed,
  };
}

/**
 * Every fit's warnings, once each, labelled with the fit: the B_crit(L) laws, the L(N, D) panels and their bootstraps,
 * and the approaches compared per data set (Approach 3 of a panel is the comparison's own fit: not repeated).
 */
function fitDiagnostics(fits: ReportFits): (Warning & { fit: string })[] {
  const out: (Warning & { fit: string })[] = [];
  const add = (fit: string, ws: readonly Warning[] | undefined) => {
    for (const w of ws ?? []) if (!out.some((x) => x.fit === fit && x.code === w.code && x.message === w.message)) out.push({ ...w, fit });
  };
  for (const s of fits.scans) add(`B_crit(L) of ${s.group.label}`, s.analysis?.warnings);
  for (const p of fits.lnd) {
    const name = `L(N, D) ${p.form === 'chinchilla' ? 'Chinchilla' : 'Kaplan'} form on ${p.label}`;
    add(name, p.fit.warnings);
    add(name, (p.boot as { warnings?: Warning[] } | null)?.warnings);
  }
  for (const a of fits.approaches) {
    const panel = fits.lnd.find((p) => p.form === 'chinchilla' && p.set === a.set);
    add(panel ? `L(N, D) Chinchilla form on ${a.label}` : `approaches on ${a.label}`, a.comparison?.warnings);
  }
  return out;
}

// ---- build and write

/**
 * Fits everything the data support (analysis/), builds every chart (or the reason it cannot be drawn), renders the
 * SVGs and the HTML page. Throws ReportInputError for input with nothing to draw (an empty store).
 */
export async function buildReport(input: ReportInput, options: ReportOptions = {}): Promise<Report> {
  const progress = options.onProgress ?? (() => {});
  const o = { bootstrap: options.bootstrap ?? 200, seed: options.seed ?? 0, level: options.level ?? 0.95 };
  if (input.records.length === 0 && !input.curves?.length && !input.points?.points.length) {
    throw new ReportInputError(
      `${input.source}: the source holds no runs`,
      'run a sweep into it first (scaling-lab sweep), or point at another store or an import file',
    );
  }
  const data = prepareData(input, options.nCount ?? 'kaplan');
  const endPoints = (data.pointGroups ?? (data.points ? [data.points] : [])).reduce((t, set) => t + set.points.length, 0);
  if (data.records.length || data.curves.length) {
    progress(
      `loaded ${data.records.length || data.curves.length} runs in ${data.groups.length} model size${data.groups.length === 1 ? '' : 's'} from ${data.source}`,
    );
    progress(`fitting batch-size scans (${data.groups.map((g) => `${g.label}: ${g.batchTokens.length} batch sizes`).join(', ')})`);
  } else {
    progress(`loaded ${endPoints} run end points${data.pointGroups ? ` in ${data.pointGroups.length} groups` : ''} from ${data.source}`);
  }
  const scans = scanFits(data, o);
  const noise = noiseFits(data, scans);
  const pooled = pooledLaw(
    scans.flatMap((s) => (s.analysis ? [s.analysis] : [])),
    o.level,
  );
  const approaches = approachFits(data, o, progress);
  const lnd = lndFits(data, o, progress, approaches);
  const iso = isoFit(data, approaches);
  const fits: ReportFits = { scans, pooled, noise, lnd: lnd.panels, lndReason: lnd.reason, isoflop: iso.fit, isoflopReason: iso.reason, approaches };
  const charts: Chart[] = [
    scanChart(data, scans),
    bcritChart(data, scans, noise),
    ...lndCharts(data, fits.lnd, fits.lndReason),
    learningCurvesChart(data),
    isoflopChart(data, fits.isoflop, fits.isoflopReason),
    frontierChart(data, fits.isoflop, fits.lnd, fits.isoflopReason, approaches.find((x) => x.set === data.points)?.comparison ?? null),
  ];
  charts.sort((a, b) => CHART_ORDER.indexOf(a.id) - CHART_ORDER.indexOf(b.id));
  if (options.render ?? true) {
    for (const c of charts) {
      if (c.status !== 'drawn') continue;
      progress(`rendering ${c.id}`);
      c.svg = await renderSvg(c.spec, (m) => (c.renderWarnings ??= []).push(m));
    }
  }
  const head = headline(fits, o);
  const diagnostics = fitDiagnostics(fits);
  const report: Omit<Report, 'html'> = {
    source: data.source,
    charts,
    fits,
    headline: head,
    warnings: [...data.warnings, ...diagnostics.map((w) => `[${w.code}] ${w.fit}: ${w.message}`)],
    diagnostics,
    data,
  };
  return { ...report, html: reportHtml(report) };
}

export interface WrittenFiles {
  dir: string;
  files: { chart: ChartId | 'report'; format: Format; path: string }[];
}

/** Writes `<id>.svg`, `<id>.png` per drawn chart and `report.html` (as asked by `formats`) into `dir`. */
export function writeReport(
  dir: string,
  report: Report,
  formats: readonly Format[] = ['svg', 'png', 'html'],
  onProgress?: (line: string) => void,
): WrittenFiles {
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  const files: WrittenFiles['files'] = [];
  for (const c of report.charts) {
    if (c.status !== 'drawn') continue;
    if (!c.svg) throw new ReportInputError(`chart ${c.id} was not rendered`, 'build the report with render: true before writing SVG or PNG');
    for (const f of formats) {
      switch (f) {
        case 'svg':
          writeFileSync(join(out, `${c.id}.svg`), c.svg);
          files.push({ chart: c.id, format: f, path: join(out, `${c.id}.svg`) });
          break;
        case 'png':
          onProgress?.(`rasterising ${c.id}.png`);
          writeFileSync(join(out, `${c.id}.png`), svgToPng(c.svg));
          files.push({ chart: c.id, format: f, path: join(out, `${c.id}.png`) });
          break;
        case 'html':
          break;
        default:
          throw new Error(`unknown format ${f satisfies never}`);
      }
    }
  }
  if (formats.includes('html')) {
    writeFileSync(join(out, 'report.html'), report.html);
    files.push({ chart: 'report', format: 'html', path: join(out, 'report.html') });
  }
  return { dir: out, files };
}
