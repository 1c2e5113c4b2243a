// The self-contained report page: pre-rendered SVGs for the 2D charts, Plotly (inlined from plotly.js-dist-min) for
// the rotatable 3D chart, fit tables with CIs and the runs table. No network at view time. Charts come from build.ts.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ciText, params, sci, type Chart } from './common.ts';
import type { Report } from './build.ts';
import { OWN_TRAINER, type BcritAnalysis } from '../analysis/bcrit.ts';
import { bootCount, formName, formulaText } from './charts/lnd.ts';
import { APPROACH_HEADER, approachNotes, approachRows } from './approaches.ts';
import { CHINCHILLA_KEYS } from '../analysis/chinchilla.ts';
import { KAPLAN_ND_KEYS } from '../analysis/kaplan.ts';

let plotlySource: string | undefined;

/** plotly.min.js from node_modules, read once. */
function plotly(): string {
  plotlySource ??= readFileSync(createRequire(import.meta.url).resolve('plotly.js-dist-min'), 'utf8');
  return plotlySource;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** JSON safe inside a <script>: no "</script>" or "<!--" can close it. */
const jsonScript = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

function table(header: string[], rows: (string | number)[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

// ---- sections

function chartSection(c: Chart, k: number): string {
  switch (c.status) {
    case 'skipped':
      return `<section class="chart" id="${c.id}" data-chart="${c.id}" data-status="skipped"><h2>${esc(c.title)}</h2><div class="skipped"><b>Not drawn.</b> ${esc(c.reason)}</div></section>`;
    case 'drawn': {
      const figure = c.plotly
        ? `<div class="panel-titles">${(c.plotly.panelTitles ?? []).map(([t, f]) => `<div><b>${esc(t)}</b><br><span class="formula">${esc(f)}</span></div>`).join('')}</div><div class="plotly-figure" id="plotly-${k}" data-plotly="${k}"></div><details><summary>static view (as in the SVG/PNG)</summary>${c.svg ?? ''}</details>`
        : `<div class="svg">${c.svg ?? '<p>(not rendered)</p>'}</div>`;
      return `<section class="chart" id="${c.id}" data-chart="${c.id}" data-status="drawn" data-kind="${c.plotly ? 'plotly' : 'svg'}"><h2>${esc(c.title)}</h2>${figure}<p class="caption">${esc(c.caption)}</p></section>`;
    }
    default:
      throw new Error(`unknown chart status ${(c satisfies never as Chart).status}`);
  }
}

/** Per batch size, the LRs tried and the winner of the envelope, marked when it sits at the edge of the axis. */
function lrTable(a: BcritAnalysis): string {
  const rows = a.curves
    .filter((c) => c.lr)
    .map((c) => [c.batchTokens, c.lr!.tried.map((v) => sci(v, 3)).join(', '), sci(c.lr!.best, 3), c.lr!.edge ? 'at the edge: a better LR may lie beyond' : '']);
  return rows.length
    ? `<p>LR envelope per batch size (tokens): the LR whose runs reached the lowest final loss.</p>${table(['batch (tokens)', 'LRs tried', 'best', ''], rows)}`
    : '';
}

export function fitSection(r: Omit<Report, 'html'>): string {
  const h = r.headline;
  const pct = `${Math.round(h.level * 100)}% CI`;
  const parts: string[] = [`<h2>Fitted laws</h2><p class="note">Intervals: percentile bootstrap, ${h.bootstrap} resamples, seed ${h.seed}.</p>`];
  const scans = r.fits.scans.filter((s) => s.analysis);
  if (scans.length) {
    parts.push('<h3>Critical batch size, B_crit(L) = B* / L^(1/alpha_B) (Kaplan et al. 2020 eq. 5.3), tokens</h3>');
    parts.push(
      table(
        ['model size', 'B* (tokens)', pct, 'alpha_B', pct, '1/alpha_B', 'levels', 'R^2'],
        scans.map((s) => {
          const f = s.analysis!.fit;
          return f
            ? [s.group.label, sci(f.bStar, 3), ciText(f.ci.bStar), sci(f.alphaB, 3), ciText(f.ci.alphaB), sci(1 / f.alphaB, 3), f.n, sci(f.r2, 3)]
            : [s.group.label, '-', '-', '-', '-', '-', 0, s.analysis!.fitReason ?? ''];
        }),
      ),
    );
    const pl = r.fits.pooled;
    // issue 17: scans of several trainers are never one scan; the pooled law says whether the trainers agree
    const trainers = [...new Set(scans.flatMap((s) => (s.group.trainer !== undefined ? [s.group.trainer] : [])))].sort(
      (a, b) => Number(a !== OWN_TRAINER) - Number(b !== OWN_TRAINER) || a.localeCompare(b),
    );
    const fitted = scans.filter((s) => s.analysis!.fit);
    const disagree = pl
      ? fitted
          .flatMap((s, i) => {
            const g = pl.groupsAgree[i];
            const off = [g?.alphaB ? '' : 'alpha_B', g?.bCritMid ? '' : `B_crit at L ${sci(pl.lossMid, 3)}`].filter(Boolean);
            return off.length ? [`${s.group.label}: the pooled ${off.join(' and ')} outside its interval`] : [];
          })
          .join('; ')
      : '';
    // a scan whose intervals are withheld (NaN) cannot contain the pooled law: agreement is undetermined, not refuted
    const withheld = fitted.filter((s) => s.analysis!.intervalsWithheld).map((s) => s.group.label);
    if (pl) {
      parts.push(
        `<p>Pooled across the ${pl.groups} scans (Kaplan et al. 2020 Figure 10, one line): B* = ${esc(sci(pl.bStar, 3))} ${esc(ciText(pl.ci.bStar))} tokens, alpha_B = ${esc(sci(pl.alphaB, 3))} ${esc(ciText(pl.ci.alphaB))} over ${pl.n} levels; ${withheld.length ? `whether the scans agree with it cannot be judged: the intervals of ${esc(withheld.join(', '))} are withheld (more than half of their bootstrap resamples failed)` : pl.agree ? `every scan agrees with it within its own intervals (alpha_B, and B_crit at L ${esc(sci(pl.lossMid, 3))}): B_crit depends on the loss, not the model size${trainers.length > 1 ? ` nor the trainer (${esc(trainers.join(', '))})` : ''}` : `the scans do <b>not</b> agree with one law within their intervals${trainers.length > 1 ? ` (trainers ${esc(trainers.join(', '))}): ${esc(disagree)}` : ''}`} (F-test of one line vs one per scan, indicative only as levels are correlated: F = ${esc(sci(pl.f, 3))}, p = ${esc(sci(pl.p, 2))}).</p>`,
      );
    }
    const warn = scans.flatMap((s) => [...s.analysis!.fitWarnings, ...s.analysis!.lrWarnings].map((w) => `${s.group.label}: ${w}`));
    if (warn.length) parts.push(`<ul class="warnings">${warn.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`);
    for (const s of scans) {
      parts.push(
        `<details><summary>${esc(s.group.label)}: per-level eq. 5.1 fits</summary>${table(
          ['loss', 'batch sizes', 'S_min', 'E_min', 'B_crit (tokens)', pct, 'R^2', 'status'],
          s.analysis!.levels.map((l) => [
            sci(l.loss, 4),
            l.batchSizes,
            sci(l.sMin, 3),
            sci(l.eMin, 3),
            sci(l.bCrit, 3),
            l.ci ? ciText(l.ci) : '',
            sci(l.r2, 3),
            l.status + (l.reason ? `: ${l.reason}` : ''),
          ]),
        )}${lrTable(s.analysis!)}</details>`,
      );
    }
  }
  for (const p of r.fits.lnd) {
    parts.push(`<h3>${esc(p.label)}: ${esc(formName(p))}</h3><p class="formula">${esc(formulaText(p))}</p>`);
    const keys: string[] = p.form === 'chinchilla' ? CHINCHILLA_KEYS : KAPLAN_ND_KEYS;
    const est = p.fit.params as unknown as Record<string, number>;
    const ci = (p.boot?.ci ?? {}) as Record<string, [number, number]>;
    const se = (p.boot?.standardError ?? {}) as Record<string, number>;
    parts.push(
      table(
        ['parameter', 'estimate', pct, 'std err'],
        keys.map((k) => [k, sci(est[k], 4), ciText(ci[k], 3), sci(se[k], 2)]),
      ),
    );
    parts.push(
      `<p class="note">${p.fit.n} runs; N counted as ${esc(p.set.accounting.n)}; C ${p.set.accounting.flops === 'given' ? 'as logged/given' : '= 6ND'}; rmse(log L) ${sci(p.fit.diagnostics.rmseLog, 3)}; ${bootCount(p)} bootstrap resamples.</p>`,
    );
  }
  if (h.allocation) {
    parts.push(
      `<h3>Compute-optimal allocation</h3><p>From the Chinchilla fit (C = 6ND): N_opt ~ C^${sci(h.allocation.a, 3)} ${ciText(h.allocation.aCi, 3)}, D_opt ~ C^${sci(h.allocation.b, 3)} ${ciText(h.allocation.bCi, 3)}.</p>`,
    );
  }
  if (h.isoflop) {
    parts.push(
      `<p>From ${h.isoflop.profiles} IsoFLOP profiles (Approach 2): N_opt ~ C^${sci(h.isoflop.a, 3)} (std err ${sci(h.isoflop.aStdErr, 2)}), D_opt ~ C^${sci(h.isoflop.b, 3)} (std err ${sci(h.isoflop.bStdErr, 2)}).</p>`,
    );
  }
  if (r.fits.lndReason) parts.push(`<p class="note">No L(N, D) fit: ${esc(r.fits.lndReason)}</p>`);
  for (const g of r.fits.approaches ?? []) {
    parts.push(`<h3 data-approaches="${esc(g.label)}">${esc(g.label)}: every approach side by side (${g.set.points.length} runs)</h3>`);
    if (!g.comparison) {
      parts.push(`<p class="note">Not fitted: ${esc(g.reason ?? '')}</p>`);
      continue;
    }
    parts.push(table(APPROACH_HEADER, approachRows(g.comparison), 'approaches'));
    parts.push(
      `<ul class="note">${approachNotes(g.comparison)
        .map((l) => `<li>${esc(l)}</li>`)
        .join('')}</ul>`,
    );
  }
  return `<section class="fits" id="fits">${parts.join('\n')}</section>`;
}

function runsSection(r: Omit<Report, 'html'>): string {
  if (r.data.records.length === 0) {
    const pts = r.data.points?.points ?? [];
    if (pts.length === 0) return `<section id="runs"><h2>Runs</h2><p>${r.data.curves.length} imported loss curves.</p></section>`;
    return `<section id="runs"><h2>Runs (imported end points)</h2>${table(
      ['run', 'N', 'D (tokens)', 'C (FLOPs)', 'loss'],
      pts.map((p) => [p.id, sci(p.n, 3), sci(p.d, 3), sci(p.c, 3), p.loss.toFixed(4)]),
      'runs',
    )}</section>`;
  }
  const rows = r.data.records.map((x) => {
    const last = x.metrics[x.metrics.length - 1];
    const test = [...x.metrics].reverse().find((m) => m.testLoss !== undefined);
    return [
      x.name || x.id,
      x.sweep ?? '',
      x.status,
      params(x.paramsKaplan),
      params(x.paramsTotal),
      x.batchSize,
      x.context,
      x.lr !== undefined ? sci(x.lr) : '',
      last?.step ?? 0,
      sci(last?.tokens ?? NaN, 3),
      sci(last?.flops ?? NaN, 3),
      test?.testLoss?.toFixed(4) ?? '-',
    ];
  });
  return `<section id="runs"><h2>Runs (${rows.length})</h2>${table(['run', 'sweep', 'status', 'N (Kaplan)', 'N (total)', 'batch (seqs)', 'T', 'lr', 'steps', 'tokens', 'FLOPs', 'final test loss'], rows, 'runs')}</section>`;
}

// ---- page

const STYLE = `
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1280px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.caption,.note{color:#444;font-size:13px;max-width:1100px}.skipped{background:#fff6e0;border:1px solid #e8c66a;padding:10px 14px;border-radius:4px;font-size:14px}
.svg svg{max-width:100%;height:auto}.plotly-figure{width:100%;height:520px}.panel-titles{display:flex;font-size:13px}.panel-titles>div{flex:1;text-align:center}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
table.runs{display:block;max-height:420px;overflow:auto}.warn{color:#8a4b00}.formula{font-family:"DejaVu Sans Mono",monospace}
nav a{margin-right:12px;font-size:13px}`;

/** The whole page; `report` without its html. */
export function reportHtml(report: Omit<Report, 'html'>): string {
  const figures = report.charts.map((c, k) => (c.status === 'drawn' && c.plotly ? { k, figure: c.plotly } : null)).filter((f) => f !== null);
  const nav = report.charts.map((c) => `<a href="#${c.id}">${esc(c.title)}${c.status === 'skipped' ? ' (not drawn)' : ''}</a>`).join('');
  const warnings = report.warnings.length ? `<ul class="warn">${report.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  const plotScript = figures.length
    ? `<script>${plotly()}</script>
<script>
(function () {
  var figs = ${jsonScript(figures)};
  var done = figs.map(function (f) {
    var el = document.getElementById('plotly-' + f.k);
    return Plotly.newPlot(el, f.figure.data, f.figure.layout, { responsive: true, displaylogo: false });
  });
  Promise.all(done).then(function () { window.__reportReady = true; }, function (e) { window.__reportError = String(e); console.error(e); });
})();
</script>`
    : '<script>window.__reportReady = true;</script>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scaling-lab report: ${esc(report.source)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>scaling-lab report</h1>
<p class="note">Source: ${esc(report.source)}; ${report.data.records.length || report.data.curves.length || (report.data.pointGroups ?? (report.data.points ? [report.data.points] : [])).reduce((t, set) => t + set.points.length, 0)} runs; generated ${new Date().toISOString()}.</p>
${warnings}
<nav>${nav}<a href="#fits">Fitted laws</a><a href="#runs">Runs</a></nav>
${report.charts.map(chartSection).join('\n')}
${fitSection(report)}
${runsSection(report)}
${plotScript}
</body></html>
`;
}
