// IsoFLOP profiles with their parabolas (Hoffmann et al. 2022 Figure 3, Approach 2) and the compute-optimal frontier
// N_opt(C), D_opt(C) from Approach 2, Approach 3 and VPNLS with bootstrap bands. The fits are analysis/isoflop.ts,
// analysis/approaches.ts and analysis/allocation.ts.
import type { IsoFlopFit } from '../../analysis/isoflop.ts';
import type { ApproachComparison } from '../../analysis/approaches.ts';
import { chinchillaAllocation } from '../../analysis/allocation.ts';
import { paramsFromX, type ChinchillaParams } from '../../analysis/chinchilla.ts';
import { quantile } from '../../analysis/stats.ts';
import { BASE_CONFIG, COUNT_LABELS, EXP_LABELS, logTicks, logspace, lossTicks, lossTitle, sci, skipped, type Chart } from '../common.ts';
import { interval, plusMinus, power } from './format.ts';
import type { ReportData } from '../data.ts';
import type { LndPanel } from './lnd.ts';
import { maxOf, minOf } from '../../analysis/extent.ts';

const ISOFLOP_TITLE = 'IsoFLOP profiles';
const FRONTIER_TITLE = 'Compute-optimal frontier';
/** Most entries a categorical legend may have; more budgets get a colour bar (still one colour per budget). */
const MAX_LEGEND = 12;

const budgetLabel = (c: number): string => `C = ${sci(c)} FLOPs`;

/**
 * Loss ticks for the linear IsoFLOP axis: the round loss values over a narrow range; Vega's evenly spaced ticks over
 * a wide one (0.5, 0.8, 1.2, 2, 3, 4, 6 on a linear axis crowd at the bottom and lose labels).
 */
function yTicks(lo: number, hi: number): number[] | undefined {
  const t = lossTicks(lo, hi).filter((v) => v >= lo && v <= hi);
  return t.length >= 3 && t.length <= 8 && hi / lo < 2 ? t : undefined;
}

/** A budget's legend entry: its C, and what became of its parabola when it gives no minimum. */
const profileLabel = (pr: { c: number; status: string }): string =>
  budgetLabel(pr.c) +
  (pr.status === 'not-convex' ? ' (not fitted: parabola opens downward)' : pr.status === 'minimum-outside-sizes' ? ' (minimum outside the sizes)' : '');

export function isoflopChart(data: ReportData, iso: IsoFlopFit | null, reason?: string): Chart {
  if (!iso || !data.points) return skipped('isoflop', ISOFLOP_TITLE, `IsoFLOP profiles need run end points: ${reason ?? 'none'}`);
  const pts = data.points.points;
  // profiles[i] is budgets.groups[i]: its runs by index (ids need not be unique)
  const members = (i: number) => (iso.budgets.groups[i]?.members ?? []).map((k) => pts[k]);
  // every budget with 3 or more sizes: its runs, and its parabola only where it opens upward (a concave one is an
  // ill-posed budget: its points are shown and its legend entry says it was not fitted)
  const shown = iso.profiles.map((pr, i) => ({ pr, runs: members(i) })).filter(({ pr, runs }) => pr.status !== 'too-few-sizes' && runs.length > 0);
  if (shown.length === 0) {
    const best = iso.profiles.length ? maxOf(iso.profiles.map((p) => new Set(p.runs).size)) : 0;
    const most = iso.profiles.length
      ? `the most this data set has at one budget is ${best} run${best === 1 ? '' : 's'} (${iso.profiles.length} budgets)`
      : 'this data set has no FLOP budget at all';
    return skipped('isoflop', ISOFLOP_TITLE, `an IsoFLOP profile needs 3 or more model sizes at one FLOP budget (${iso.grouping}); ${most}`);
  }
  const rows = shown.flatMap(({ pr, runs }) => runs.map((q) => ({ id: q.id, budget: profileLabel(pr), c: pr.c, n: q.n, loss: q.loss })));
  // each parabola over its own budget's sizes only (never beyond the runs it was fitted to)
  const curves = shown.flatMap(({ pr, runs }) => {
    const q = pr.parabola;
    if (!q || !(q.c2 > 0)) return [];
    const ns = runs.map((r) => r.n);
    return logspace(minOf(ns), maxOf(ns), 40).map((n) => ({ budget: profileLabel(pr), c: pr.c, n, loss: q.c0 + q.c1 * Math.log(n) + q.c2 * Math.log(n) ** 2 }));
  });
  const vertices = shown
    .filter(({ pr }) => pr.status === 'ok')
    .map(({ pr }) => ({ budget: profileLabel(pr), c: pr.c, n: pr.nOpt, loss: pr.lossOpt, d: pr.dOpt }));
  const notFitted = shown.filter(({ pr }) => pr.status === 'not-convex').map(({ pr }) => sci(pr.c));
  const notOk = iso.profiles.filter((p) => p.status !== 'ok').map((p) => `${budgetLabel(p.c)}: ${p.reason}`);
  const ns = rows.map((r) => r.n);
  const nLo = minOf(ns) / 1.15;
  const nHi = maxOf(ns) * 1.15;
  const ls = [...rows.map((r) => r.loss), ...curves.map((r) => r.loss), ...vertices.map((r) => r.loss)];
  const lLo = minOf(ls) - 0.04 * (maxOf(ls) - minOf(ls) || minOf(ls));
  const lHi = maxOf(ls) + 0.04 * (maxOf(ls) - minOf(ls) || minOf(ls));
  // runs on no budget, where they fall inside the profiles' axes (a grey cloud, not the chart's extent)
  const looseAll = iso.budgets.unassigned.map((k) => ({ id: pts[k].id, n: pts[k].n, loss: pts[k].loss, c: pts[k].c }));
  const loose = looseAll.filter((q) => q.n >= nLo && q.n <= nHi && q.loss >= lLo && q.loss <= lHi);
  const sorted = [...shown].sort((a, b) => a.pr.c - b.pr.c);
  const budgets = sorted.map(({ pr }) => pr.c);
  const domain = [...new Set(sorted.map(({ pr }) => profileLabel(pr)))];
  const lossName = lossTitle(data.points.lossColumn, 'final');
  const x = {
    field: 'n',
    type: 'quantitative',
    title: 'N, parameters',
    scale: { type: 'log', domain: [nLo, nHi], nice: false },
    axis: { values: logTicks(nLo, nHi), labelExpr: COUNT_LABELS },
  };
  const y = {
    field: 'loss',
    type: 'quantitative',
    title: lossName,
    scale: { domain: [lLo, lHi], nice: false, zero: false },
    axis: { values: yTicks(lLo, lHi), format: '~g' },
  };
  // one colour per budget: a legend entry each up to MAX_LEGEND budgets, a log colour bar beyond
  const color =
    domain.length <= MAX_LEGEND
      ? { field: 'budget', type: 'ordinal', title: 'FLOP budget', scale: { domain, scheme: 'plasma' }, legend: { orient: 'right' } }
      : {
          field: 'c',
          type: 'quantitative',
          title: 'FLOP budget',
          scale: { type: 'log', scheme: 'plasma', domain: [budgets[0], budgets[budgets.length - 1]] },
          legend: { type: 'gradient', labelExpr: EXP_LABELS, gradientLength: 200 },
        };
  const label = data.points.label;
  const how = iso.budgets.source === 'column' ? 'budget column' : 'C clustered in log space';
  return {
    status: 'drawn',
    id: 'isoflop',
    title: ISOFLOP_TITLE,
    caption:
      `${label}: ${lossName.toLowerCase()} against model size for runs grouped by FLOP budget (${iso.grouping}); lines: the parabola in log N fitted per budget (Hoffmann et al. 2022 Approach 2); ` +
      `each drawn over its budget's own sizes only; black crosses: its minimum N_opt(C)${looseAll.length ? `; grey: ${looseAll.length} runs on no budget, left out${loose.length < looseAll.length ? ` (${looseAll.length - loose.length} outside the axes)` : ''}` : ''}. ` +
      `${notFitted.length ? `Not fitted (the parabola opens downward, an ill-posed budget; points only): C = ${notFitted.join(', ')}. ` : ''}${data.nWords}; ${data.cWords}.` +
      (notOk.length ? ` Left out of the frontier: ${notOk.join('; ')}.` : ''),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: BASE_CONFIG,
      title: {
        text: `IsoFLOP profiles: ${label}`,
        subtitle: [
          `${domain.length} budgets (${how}), ${vertices.length} with a minimum inside the sizes tried`,
          ...(notFitted.length
            ? [
                `${notFitted.length} not fitted (parabola opens downward; points only): C = ${notFitted.slice(0, 5).join(', ')}${notFitted.length > 5 ? ` and ${notFitted.length - 5} more` : ''}`,
              ]
            : []),
        ],
        // the width of the plot and its legend: a subtitle cut mid-number ("2e...") hides which budgets
        limit: 760,
        anchor: 'start',
      },
      width: 520,
      height: 320,
      layer: [
        ...(loose.length
          ? [
              {
                name: 'iso_unassigned',
                data: { values: loose },
                mark: { type: 'circle', size: 22, color: '#bbb', opacity: 0.8, clip: true },
                encoding: { x, y, tooltip: [{ field: 'id' }, { field: 'n', format: '.3s' }, { field: 'loss', format: '.3f' }, { field: 'c', format: '.2e' }] },
              },
            ]
          : []),
        {
          name: 'iso_parabolas',
          data: { values: curves },
          mark: { type: 'line', strokeWidth: 1.6, clip: true },
          encoding: { x, y, color, detail: { field: 'budget' }, order: { field: 'n', type: 'quantitative' } },
        },
        {
          name: 'iso_runs',
          data: { values: rows },
          mark: { type: 'circle', size: 50, opacity: 0.95, clip: true },
          encoding: { x, y, color, tooltip: [{ field: 'id' }, { field: 'n', format: '.3s' }, { field: 'loss', format: '.3f' }, { field: 'c', format: '.2e' }] },
        },
        {
          name: 'iso_vertices',
          data: { values: vertices },
          mark: { type: 'point', shape: 'cross', size: 120, filled: true, color: 'black', clip: true },
          encoding: { x, y, tooltip: [{ field: 'budget' }, { field: 'n', title: 'N_opt', format: '.3s' }, { field: 'd', title: 'D_opt', format: '.3s' }] },
        },
      ],
    } as never,
  };
}

/** Percentile band of N_opt(C) and D_opt(C) over a bootstrap's refits (rows of [log A, log B, log E, alpha, beta]). */
function allocationBand(xs: readonly ArrayLike<number>[], c: number, level: number): { n: [number, number]; d: [number, number] } | null {
  const ns: number[] = [];
  const ds: number[] = [];
  for (const x of xs) {
    const a = chinchillaAllocation(paramsFromX(x), c);
    if (Number.isFinite(a.nOpt) && Number.isFinite(a.dOpt)) {
      ns.push(a.nOpt);
      ds.push(a.dOpt);
    }
  }
  if (ns.length < 10) return null;
  const q = (1 - level) / 2;
  return { n: [quantile(ns, q), quantile(ns, 1 - q)], d: [quantile(ds, q), quantile(ds, 1 - q)] };
}

export function frontierChart(
  data: ReportData,
  iso: IsoFlopFit | null,
  lnd: readonly LndPanel[],
  reason?: string,
  comparison: ApproachComparison | null = null,
): Chart {
  const ch = lnd.find((p) => p.form === 'chinchilla' && p.set === data.points);
  const ok = iso?.profiles.filter((p) => p.status === 'ok') ?? [];
  if (!iso?.nOpt && !ch) {
    return skipped(
      'frontier',
      FRONTIER_TITLE,
      `the frontier needs IsoFLOP profiles at 3 or more budgets with a minimum inside the sizes tried, or an L(N, D) fit; ${reason ?? iso?.reason ?? `this data set has ${ok.length} usable profile${ok.length === 1 ? '' : 's'}`}`,
    );
  }
  const level = comparison?.level ?? 0.95;
  const cs = [...(data.points?.points.map((p) => p.c) ?? []), ...ok.map((p) => p.c)];
  const cLo = minOf(cs) / 1.5;
  const cHi = maxOf(cs) * 1.5;
  // each law over the budgets it was fitted to: Approach 2 over its minima, Approach 3 and VPNLS over the runs' C
  const grid = logspace(minOf(cs), maxOf(cs), 24);
  const okGrid = ok.length ? logspace(minOf(ok.map((p) => p.c)), maxOf(ok.map((p) => p.c)), 24) : [];
  const rows: { panel: string; series: string; c: number; v: number; kind: string }[] = [];
  const bands: { panel: string; series: string; c: number; lo: number; hi: number }[] = [];
  const domain: string[] = [];
  const range: string[] = [];
  const series = (name: string, color: string) => {
    domain.push(name);
    range.push(color);
    return name;
  };
  if (ok.length) {
    const s = series('IsoFLOP minima of the data (Approach 2)', '#222');
    for (const p of ok) {
      rows.push({ panel: 'N_opt', series: s, c: p.c, v: p.nOpt, kind: 'point' });
      rows.push({ panel: 'D_opt', series: s, c: p.c, v: p.dOpt, kind: 'point' });
    }
  }
  const a2 = comparison?.approaches.find((x) => x.approach === 'approach2' && x.fitted);
  if (iso?.nOpt && iso.dOpt) {
    // the exponent's bootstrap interval, else its standard error, else nothing (never "+-" before a missing number)
    const ci = (e: { ci: [number, number] } | undefined, stdErr: number) => {
      const t = interval(e?.ci) || plusMinus(stdErr);
      return t ? ` ${t}` : '';
    };
    const sn = series(
      `Approach 2: N_opt ~ ${power('C', iso.nOpt.p)}${ci(a2?.a, iso.nOpt.pStdErr)}, D_opt ~ ${power('C', iso.dOpt.p)}${ci(a2?.b, iso.dOpt.pStdErr)}`,
      '#1f77b4',
    );
    // the band: the exponent's bootstrap interval, the line pivoting about the minima's centre in log-log space
    const centre = (key: 'nOpt' | 'dOpt') => ({
      lc: ok.reduce((t, p) => t + Math.log(p.c), 0) / ok.length,
      lv: ok.reduce((t, p) => t + Math.log(p[key]), 0) / ok.length,
    });
    for (const [panel, law, est, key] of [
      ['N_opt', iso.nOpt, a2?.a, 'nOpt'],
      ['D_opt', iso.dOpt, a2?.b, 'dOpt'],
    ] as const) {
      const m = centre(key);
      for (const c of okGrid) {
        rows.push({ panel, series: sn, c, v: law.k * c ** law.p, kind: 'line' });
        if (est && Number.isFinite(est.ci[0])) {
          const ys = est.ci.map((p) => Math.exp(m.lv + p * (Math.log(c) - m.lc)));
          bands.push({ panel, series: sn, c, lo: Math.min(ys[0], ys[1]), hi: Math.max(ys[0], ys[1]) });
        }
      }
    }
  }
  const parametric = (
    name: string,
    color: string,
    params: ChinchillaParams,
    xs: readonly ArrayLike<number>[] | undefined,
    ci: { a?: { ci: [number, number] } } | undefined,
  ) => {
    const a0 = chinchillaAllocation(params, cLo);
    const aci = interval(ci?.a?.ci);
    const s = series(`${name} (C = 6ND): N_opt ~ ${power('C', a0.a)}${aci ? ` ${aci}` : ''}, D_opt ~ ${power('C', a0.b)}`, color);
    for (const c of grid) {
      const a = chinchillaAllocation(params, c);
      rows.push({ panel: 'N_opt', series: s, c, v: a.nOpt, kind: 'line' });
      rows.push({ panel: 'D_opt', series: s, c, v: a.dOpt, kind: 'line' });
      const b = xs ? allocationBand(xs, c, level) : null;
      if (b) {
        bands.push({ panel: 'N_opt', series: s, c, lo: b.n[0], hi: b.n[1] });
        bands.push({ panel: 'D_opt', series: s, c, lo: b.d[0], hi: b.d[1] });
      }
    }
  };
  const a3 = comparison?.approach3;
  if (a3)
    parametric(
      'Approach 3',
      '#d62728',
      a3.fit.params,
      a3.bootstrap?.x,
      comparison?.approaches.find((x) => x.approach === 'approach3'),
    );
  else if (ch && ch.form === 'chinchilla') parametric('Approach 3', '#d62728', ch.fit.params, ch.boot?.x, undefined);
  const vp = comparison?.vpnls;
  if (vp)
    parametric(
      'VPNLS',
      '#2ca02c',
      vp.fit.params,
      vp.bootstrap?.x,
      comparison?.approaches.find((x) => x.approach === 'vpnls'),
    );
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain, range },
    legend: { orient: 'bottom', direction: 'vertical', columns: 1, symbolOpacity: 1, symbolType: 'stroke', symbolStrokeWidth: 2.5 },
  };
  const panel = (name: 'N_opt' | 'D_opt', i: number) => {
    const vs = [...rows.filter((r) => r.panel === name).map((r) => r.v), ...bands.filter((b) => b.panel === name).flatMap((b) => [b.lo, b.hi])].filter(
      (v) => v > 0 && Number.isFinite(v),
    );
    const vLo = minOf(vs) / 1.4;
    const vHi = maxOf(vs) * 1.4;
    const x = {
      field: 'c',
      type: 'quantitative',
      title: 'Training FLOPs C',
      scale: { type: 'log', domain: [cLo, cHi], nice: false },
      axis: { values: logTicks(cLo, cHi), labelExpr: EXP_LABELS },
    };
    const y = {
      field: 'v',
      type: 'quantitative',
      title: name === 'N_opt' ? 'Compute-optimal N (parameters)' : 'Compute-optimal D (tokens)',
      scale: { type: 'log', domain: [vLo, vHi], nice: false },
      axis: { values: logTicks(vLo, vHi), labelExpr: COUNT_LABELS },
    };
    return {
      title: name === 'N_opt' ? 'N_opt(C)' : 'D_opt(C)',
      width: 300,
      height: 250,
      layer: [
        {
          name: `frontier${i}_bands`,
          data: { values: bands.filter((b) => b.panel === name) },
          mark: { type: 'area', opacity: 0.15, clip: true },
          encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color, detail: { field: 'series' } },
        },
        {
          name: `frontier${i}_lines`,
          data: { values: rows.filter((r) => r.panel === name && r.kind === 'line') },
          mark: { type: 'line', strokeWidth: 2, clip: true },
          encoding: { x, y, color, detail: { field: 'series' } },
        },
        {
          name: `frontier${i}_points`,
          data: { values: rows.filter((r) => r.panel === name && r.kind === 'point') },
          mark: { type: 'point', shape: 'cross', filled: true, size: 110, clip: true },
          encoding: { x, y, color },
        },
      ],
    };
  };
  const label = data.points?.label ?? '';
  return {
    status: 'drawn',
    id: 'frontier',
    title: FRONTIER_TITLE,
    caption:
      `${label}: compute-optimal model size and tokens against the FLOP budget. Crosses: the data's IsoFLOP minima; lines: the power laws fitted to them (Approach 2) and the allocation implied by the ` +
      `L(N, D) fits (Approach 3 and VPNLS, Hoffmann et al. 2022 eq. 4, which assumes C = 6ND). Bands: ${Math.round(level * 100)}% bootstrap intervals (Approach 3 and VPNLS: the allocation over the refits; ` +
      `Approach 2: the exponent's interval, the line pivoting about the minima's centre). ${data.nWords}; ${data.cWords}.`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: BASE_CONFIG,
      title: { text: `Compute-optimal frontier: ${label}`, limit: 640, anchor: 'start' },
      hconcat: [panel('N_opt', 0), panel('D_opt', 1)],
    } as never,
  };
}
