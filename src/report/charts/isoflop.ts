// IsoFLOP profiles with their parabolas (Hoffmann et al. 2022 Figure 3, Approach 2) and the compute-optimal frontier
// N_opt(C), D_opt(C) from Approaches 2 and 3. The fits are analysis/isoflop.ts and analysis/allocation.ts.
import type { IsoFlopFit } from '../../analysis/isoflop.ts';
import { chinchillaAllocation } from '../../analysis/allocation.ts';
import { BASE_CONFIG, COUNT_LABELS, EXP_LABELS, logTicks, logspace, lossTicks, sci, skipped, type Chart } from '../common.ts';
import type { ReportData } from '../data.ts';
import type { LndPanel } from './lnd.ts';
import { maxOf, minOf } from '../../analysis/extent.ts';

export const ISOFLOP_TITLE = 'IsoFLOP profiles';
export const FRONTIER_TITLE = 'Compute-optimal frontier';

const budgetLabel = (c: number): string => `C = ${sci(c)} FLOPs`;

export function isoflopChart(data: ReportData, iso: IsoFlopFit | null, reason?: string): Chart {
  if (!iso || !data.points) return skipped('isoflop', ISOFLOP_TITLE, `IsoFLOP profiles need run end points: ${reason ?? 'none'}`);
  const withParabola = iso.profiles.filter((p) => p.parabola !== null && p.status !== 'too-few-sizes');
  if (withParabola.length === 0) {
    const best = maxOf(iso.profiles.map((p) => new Set(p.runs).size));
    return skipped('isoflop', ISOFLOP_TITLE, `an IsoFLOP profile needs 3 or more model sizes at one FLOP budget (within 10%); the most this data set has at one budget is ${best} run${best === 1 ? '' : 's'} (${iso.profiles.length} budgets)`);
  }
  const byId = new Map(data.points.points.map((p) => [p.id, p]));
  const rows = withParabola.flatMap((pr) => pr.runs.map((id) => ({ id, budget: budgetLabel(pr.c), c: pr.c, n: byId.get(id)!.n, loss: byId.get(id)!.loss })));
  const curves = withParabola.flatMap((pr) => {
    const ns = pr.runs.map((id) => byId.get(id)!.n);
    const q = pr.parabola!;
    return logspace(minOf(ns) / 1.4, maxOf(ns) * 1.4, 40).map((n) => ({ budget: budgetLabel(pr.c), c: pr.c, n, loss: q.c0 + q.c1 * Math.log(n) + q.c2 * Math.log(n) ** 2 }));
  });
  const vertices = withParabola.filter((p) => p.status === 'ok').map((p) => ({ budget: budgetLabel(p.c), n: p.nOpt, loss: p.lossOpt, d: p.dOpt }));
  const notOk = iso.profiles.filter((p) => p.status !== 'ok').map((p) => `${budgetLabel(p.c)}: ${p.reason}`);
  const nLo = minOf(curves.map((r) => r.n));
  const nHi = maxOf(curves.map((r) => r.n));
  const ls = rows.map((r) => r.loss);
  const lLo = minOf(ls) * 0.96;
  const lHi = maxOf(ls) * 1.04;
  const domain = [...new Map(withParabola.map((p) => [budgetLabel(p.c), p.c])).entries()].sort((a, b) => a[1] - b[1]).map(([l]) => l);
  const x = { field: 'n', type: 'quantitative', title: 'N, parameters', scale: { type: 'log', domain: [nLo, nHi], nice: false }, axis: { values: logTicks(nLo, nHi), labelExpr: COUNT_LABELS } };
  const y = { field: 'loss', type: 'quantitative', title: 'Final validation loss', scale: { domain: [lLo, lHi], nice: false, zero: false }, axis: { values: lossTicks(lLo, lHi).length >= 3 ? lossTicks(lLo, lHi) : undefined, format: '~g' } };
  const color = { field: 'budget', type: 'ordinal', title: 'FLOP budget', scale: { domain, scheme: 'plasma' }, legend: { orient: 'right' } };
  return {
    status: 'drawn',
    id: 'isoflop',
    title: ISOFLOP_TITLE,
    caption:
      `Final loss against model size for runs grouped by FLOP budget (${iso.grouping}); lines: the parabola in log N fitted per budget (Hoffmann et al. 2022 Approach 2); ` +
      `crosses: its minimum N_opt(C). ${data.nWords}; ${data.cWords}.` + (notOk.length ? ` Left out of the frontier: ${notOk.join('; ')}.` : ''),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: BASE_CONFIG,
      title: { text: 'IsoFLOP profiles', subtitle: `${withParabola.length} budgets, ${vertices.length} with a minimum inside the sizes tried` },
      width: 520,
      height: 320,
      layer: [
        { name: 'iso_parabolas', data: { values: curves }, mark: { type: 'line', strokeWidth: 1.6, clip: true }, encoding: { x, y, color, detail: { field: 'budget' }, order: { field: 'n', type: 'quantitative' } } },
        { name: 'iso_runs', data: { values: rows }, mark: { type: 'circle', size: 50, opacity: 0.95, clip: true }, encoding: { x, y, color, tooltip: [{ field: 'id' }, { field: 'n', format: '.3s' }, { field: 'loss', format: '.3f' }, { field: 'c', format: '.2e' }] } },
        { name: 'iso_vertices', data: { values: vertices }, mark: { type: 'point', shape: 'cross', size: 120, filled: true, color: 'black', clip: true }, encoding: { x, y, tooltip: [{ field: 'budget' }, { field: 'n', title: 'N_opt', format: '.3s' }, { field: 'd', title: 'D_opt', format: '.3s' }] } },
      ],
    } as never,
  };
}

export function frontierChart(data: ReportData, iso: IsoFlopFit | null, lnd: readonly LndPanel[], reason?: string): Chart {
  const ch = lnd.find((p) => p.form === 'chinchilla' && p.set === data.points);
  const ok = iso?.profiles.filter((p) => p.status === 'ok') ?? [];
  if (!iso?.nOpt && !ch) {
    return skipped('frontier', FRONTIER_TITLE, `the frontier needs IsoFLOP profiles at 2 or more budgets with a minimum inside the sizes tried, or an L(N, D) fit; ${reason ?? `this data set has ${ok.length} usable profile${ok.length === 1 ? '' : 's'}`}`);
  }
  const cs = [...(data.points?.points.map((p) => p.c) ?? []), ...ok.map((p) => p.c)];
  const cLo = minOf(cs) / 1.5;
  const cHi = maxOf(cs) * 1.5;
  const rows: { panel: string; series: string; c: number; v: number; kind: string }[] = [];
  const domain: string[] = [];
  const range: string[] = [];
  const series = (name: string, color: string) => {
    domain.push(name);
    range.push(color);
    return name;
  };
  if (ok.length) {
    const s = series('IsoFLOP minima (Approach 2)', '#222');
    for (const p of ok) {
      rows.push({ panel: 'N_opt', series: s, c: p.c, v: p.nOpt, kind: 'point' });
      rows.push({ panel: 'D_opt', series: s, c: p.c, v: p.dOpt, kind: 'point' });
    }
  }
  if (iso?.nOpt && iso.dOpt) {
    const sn = series(`Approach 2: N_opt ~ C^${sci(iso.nOpt.p)} (+-${sci(iso.nOpt.pStdErr)}), D_opt ~ C^${sci(iso.dOpt.p)} (+-${sci(iso.dOpt.pStdErr)})`, '#1f77b4');
    for (const c of logspace(cLo, cHi, 20)) {
      rows.push({ panel: 'N_opt', series: sn, c, v: iso.nOpt.k * c ** iso.nOpt.p, kind: 'line' });
      rows.push({ panel: 'D_opt', series: sn, c, v: iso.dOpt.k * c ** iso.dOpt.p, kind: 'line' });
    }
  }
  if (ch && ch.form === 'chinchilla') {
    const a0 = chinchillaAllocation(ch.fit.params, cLo);
    const s3 = series(`Approach 3 (C = 6ND): N_opt ~ C^${sci(a0.a)}, D_opt ~ C^${sci(a0.b)}`, '#d62728');
    for (const c of logspace(cLo, cHi, 20)) {
      const a = chinchillaAllocation(ch.fit.params, c);
      rows.push({ panel: 'N_opt', series: s3, c, v: a.nOpt, kind: 'line' });
      rows.push({ panel: 'D_opt', series: s3, c, v: a.dOpt, kind: 'line' });
    }
  }
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain, range }, legend: { orient: 'bottom', direction: 'vertical', columns: 1 } };
  const panel = (name: 'N_opt' | 'D_opt', i: number) => {
    const vs = rows.filter((r) => r.panel === name).map((r) => r.v);
    const vLo = minOf(vs) / 1.4;
    const vHi = maxOf(vs) * 1.4;
    const x = { field: 'c', type: 'quantitative', title: 'Training FLOPs C', scale: { type: 'log', domain: [cLo, cHi], nice: false }, axis: { values: logTicks(cLo, cHi), labelExpr: EXP_LABELS } };
    const y = { field: 'v', type: 'quantitative', title: name === 'N_opt' ? 'Compute-optimal N (parameters)' : 'Compute-optimal D (tokens)', scale: { type: 'log', domain: [vLo, vHi], nice: false }, axis: { values: logTicks(vLo, vHi), labelExpr: COUNT_LABELS } };
    return {
      title: name === 'N_opt' ? 'N_opt(C)' : 'D_opt(C)',
      width: 300,
      height: 250,
      layer: [
        { name: `frontier${i}_lines`, data: { values: rows.filter((r) => r.panel === name && r.kind === 'line') }, mark: { type: 'line', strokeWidth: 2, clip: true }, encoding: { x, y, color, detail: { field: 'series' } } },
        { name: `frontier${i}_points`, data: { values: rows.filter((r) => r.panel === name && r.kind === 'point') }, mark: { type: 'point', shape: 'cross', filled: true, size: 110, clip: true }, encoding: { x, y, color } },
      ],
    };
  };
  return {
    status: 'drawn',
    id: 'frontier',
    title: FRONTIER_TITLE,
    caption:
      `Compute-optimal model size and tokens against the FLOP budget: IsoFLOP minima with the power laws fitted to them (Approach 2, exponent +- standard error), and the allocation implied by the ` +
      `L(N, D) fit (Approach 3, Hoffmann et al. 2022 eq. 4, which assumes C = 6ND). ${data.nWords}; ${data.cWords}.`,
    spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: BASE_CONFIG, title: { text: 'Compute-optimal frontier' }, hconcat: [panel('N_opt', 0), panel('D_opt', 1)] } as never,
  };
}
