// `scaling-lab fit`: reads runs' end points from CSV/JSONL, fits L(N, D) (Chinchilla Approach 3 or Kaplan's
// form) with bootstrap intervals, prints a table or JSON. All science is in analysis/; this is the shell.
import { Command, Option } from 'commander';
import { AnalysisInputError } from '../../analysis/errors.ts';
import {
  baseName,
  importGroupedPoints,
  importSummary,
  parseTable,
  parseWhere,
  WHERE_SYNTAX,
  type GroupedImport,
  type PointImport,
} from '../../analysis/importers.ts';
import { bootstrapChinchilla, fitChinchilla, CHINCHILLA_KEYS, type ChinchillaBootstrap, type ChinchillaFit } from '../../analysis/chinchilla.ts';
import {
  chinchillaAllocation,
  chinchillaAllocationInterval,
  kaplanAllocation,
  kaplanAllocationInterval,
  type Allocation,
  type AllocationInterval,
} from '../../analysis/allocation.ts';
import { bootstrapKaplanND, fitKaplanND, KAPLAN_ND_KEYS, type KaplanNDParams } from '../../analysis/kaplan.ts';
import type { ParamConvention } from '../../analysis/records.ts';
import { compareApproaches } from '../../analysis/approaches.ts';
import { APPROACH_HEADER, approachNotes, approachRows } from '../../report/approaches.ts';
import { ciText, collect, commaList, EXIT_CODES_HELP, finishWarnings, fmt, fraction, int, positive, readSource, renderTable } from '../helpers.ts';
import { warningLines, type DataCounts, type Warning } from '../../analysis/diagnostics.ts';
import { addDeprecatedAlias, addShared } from '../options.ts';

export type Law = 'chinchilla' | 'kaplan';

export interface FitOptions {
  law: Law;
  bootstrap: number;
  bootstrapSeed: number;
  level: number;
  json: boolean;
  nColumn?: string;
  dColumn?: string;
  lossColumn?: string;
  flopsColumn?: string;
  idColumn?: string;
  nConvention: ParamConvention | 'unknown';
  flops6nd: boolean;
  dropHighest: number;
  extraStarts: number;
  warmOptima: number;
  fullGridBootstrap: boolean;
  budget: number[];
  /** fit each group of rows separately: column names (a comma-separated flag) */
  group?: string[];
  /** --where conditions, all required (importers.ts WHERE_SYNTAX) */
  where?: string[];
  keepOutliers?: boolean;
  excludeColumn?: string;
  budgetColumn?: string;
  /** also fit Approach 2 and VPNLS and print every approach side by side */
  approaches?: boolean;
  /** exit with EXIT_WARNINGS when a result carries warnings */
  strict?: boolean;
}

export function registerFit(program: Command): void {
  const cmd = program
    .command('fit')
    .description(
      'Fit L(N, D) to runs in a CSV or JSONL file (one row per run: N, D and/or C, final loss), with bootstrap confidence intervals and the compute-optimal allocation.',
    )
    .argument('<file>', 'CSV or JSONL (.jsonl/.ndjson) file, one row per run; columns N, D, C, loss are recognised by those and common names')
    .addOption(
      new Option('--law <law>', 'chinchilla: Hoffmann et al. 2022 Approach 3, E + A/N^alpha + B/D^beta; kaplan: Kaplan et al. 2020 eq. 1.5')
        .choices(['chinchilla', 'kaplan'])
        .default('chinchilla'),
    );
  addShared(cmd, 'bootstrap', 'bootstrapSeed');
  cmd
    .option('--level <p>', 'confidence level of the percentile intervals', fraction('--level'), 0.95)
    .option('--json', 'print one JSON object instead of tables', false)
    .option('--n-column <column>', 'column holding N, the parameter count (default: detect N, params, Model Size, ...)')
    .option('--d-column <column>', 'column holding D, the training tokens (default: detect D, tokens, ...; else D = C / 6N)')
    .option('--loss-column <column>', 'column holding the final loss (default: detect loss, val_loss, ...)')
    .option('--flops-column <column>', 'column holding C, the training FLOPs (default: detect C, flops, Training FLOP, ...; else C = 6ND)')
    .option('--id-column <column>', 'column naming each run (default: detect id, run, name; else the line number)');
  addShared(cmd, 'nConvention');
  cmd
    .option('--flops-6nd', 'ignore any C column and use C = 6ND', false)
    .option('--drop-highest <k>', 'drop the k highest-loss rows first (Besiroglu et al. 2024 drop 5)', int('--drop-highest', 0), 0)
    .option('--warm-optima <k>', 'chinchilla bootstrap: refits start from the k best distinct full-data optima...', int('--warm-optima', 1), 4)
    .option('--extra-starts <k>', '...plus k random grid points per resample', int('--extra-starts', 0), 2)
    .option('--full-grid-bootstrap', 'refit every bootstrap resample from the whole 4500-point grid (slow reference; chinchilla)', false)
    .option('--budget <flops...>', 'FLOP budgets C to print the compute-optimal N, D and loss for', (v: string, prev: number[] = []) => [
      ...prev,
      positive('--budget')(v),
    ])
    .option(
      '--group <columns>',
      'fit each group of rows separately, grouped by this column (or several, comma separated), e.g. experiment',
      commaList('--group'),
    )
    .option('--where <condition>', `keep only the rows that match: ${WHERE_SYNTAX}`, collect)
    .option('--keep-outliers', 'keep the rows an outlier/exclude column flags (default: leave them out and say how many)', false)
    .option('--exclude-column <column>', 'column flagging rows to leave out, true/false (default: detect outlier, is_outlier, exclude, ...)')
    .option('--budget-column <column>', "column holding each run's nominal FLOP budget (default: detect budget, flop_budget, ...)")
    .option(
      '--approaches',
      'also fit Approach 2 (IsoFLOP parabolas) and VPNLS, and print every approach side by side with bootstrap intervals, where they disagree, and the held-out-budget error',
      false,
    );
  addShared(cmd, 'strict');
  cmd.addHelpText('after', `\n${EXIT_CODES_HELP}`);
  addDeprecatedAlias(cmd, '--seed <s>', '--bootstrap-seed');
  for (const c of ['n', 'd', 'loss', 'flops', 'id']) addDeprecatedAlias(cmd, `--${c} <column>`, `--${c}-column`);
  cmd.action((file: string, opts: Omit<FitOptions, 'budget'> & { budget?: number[] }) => {
    const { text, ...result } = runFit(file, { ...opts, budget: opts.budget ?? [] });
    console.log(opts.json ? JSON.stringify(result, null, 2) : text);
    finishWarnings(allWarnings(result), { strict: opts.strict });
    // every group refused: the command failed, though it said why for each
    if (Array.isArray(result.groups) && !(result.groups as { fitted: boolean }[]).some((g) => g.fitted)) process.exitCode = 2;
  });
}

/** Every warning of a `fit` result: its own, or each fitted group's (labelled). */
function allWarnings(result: Record<string, unknown>): Warning[] {
  if (Array.isArray(result.groups))
    return (result.groups as { label: string; warnings?: Warning[] }[]).flatMap((g) =>
      (g.warnings ?? []).map((w) => ({ ...w, message: `${g.label}: ${w.message}` })),
    );
  return (result.warnings as Warning[] | undefined) ?? [];
}

/** The import summary as JSON: rows, filters, exclusions, groups. */
function importJson(g: GroupedImport) {
  return {
    rows: g.total,
    where: g.where,
    filtered: g.filtered,
    exclude: g.exclude,
    groupColumns: g.groupColumns,
    groups: g.groups.map((x) => ({ label: x.label, rows: x.rows, fitted: x.imp !== null, ...(x.reason ? { reason: x.reason } : {}) })),
  };
}

/** Everything `fit` prints; `text` is the human rendering (left out of --json). */
function runFit(file: string, o: FitOptions): Record<string, unknown> & { text?: string } {
  const table = parseTable(readSource(file), file);
  const minRuns = o.law === 'chinchilla' ? 6 : 5;
  const g = importGroupedPoints(table, {
    columns: { n: o.nColumn, d: o.dColumn, loss: o.lossColumn, c: o.flopsColumn, id: o.idColumn, budget: o.budgetColumn },
    nConvention: o.nConvention,
    flops: o.flops6nd ? '6ND' : 'auto',
    dropHighest: o.dropHighest,
    group: o.group,
    where: (o.where ?? []).map(parseWhere),
    exclude: { column: o.excludeColumn, keep: o.keepOutliers },
    minRuns,
    label: baseName(file),
  });
  const lawOf = (label: string, imp: PointImport) => {
    switch (o.law) {
      case 'chinchilla':
        return chinchillaReport(label, imp, o);
      case 'kaplan':
        return kaplanReport(label, imp, o);
      default:
        throw new Error(`unknown law ${o.law satisfies never}`);
    }
  };
  const fitOne = (label: string, imp: PointImport): Record<string, unknown> & { text: string } => {
    const r = lawOf(label, imp);
    if (!o.approaches) return r;
    const c = compareApproaches(imp.points, { budget: imp.budget, bootstrap: o.bootstrap, seed: o.bootstrapSeed, level: o.level, label });
    const extra = c.warnings.filter((w) => !r.warnings.some((x) => x.code === w.code));
    const text = [
      r.text,
      ...warningLines(extra),
      '',
      `every approach side by side (${c.n} runs${o.bootstrap > 0 ? `, ${Math.round(c.level * 100)}% bootstrap intervals, ${o.bootstrap} resamples` : ', no bootstrap: no intervals'}):`,
      renderTable(APPROACH_HEADER, approachRows(c)),
      ...approachNotes(c),
    ].join('\n');
    const approaches = {
      approaches: c.approaches,
      disagreements: c.disagreements.map((d) => d.text),
      heldOut: c.heldOut.map(({ predictions, ...h }) => ({ ...h, runs: predictions.length })),
      ...(c.heldOutReason ? { heldOutReason: c.heldOutReason } : {}),
    };
    return { ...r, warnings: [...r.warnings, ...extra], approaches, text };
  };
  const summary = `${file}: ${importSummary(g)}`;
  if (!o.group?.length) {
    const only = g.groups[0];
    if (!only.imp)
      throw new AnalysisInputError(
        only.reason!.startsWith(file) ? only.reason! : `${file}: ${only.reason}`,
        'add runs to the file, or loosen --where / --keep-outliers',
        { file },
      );
    const { text, ...r } = fitOne(only.label, only.imp);
    return { ...r, import: importJson(g), text: `${text}\n${summary}` };
  }
  const groups: Record<string, unknown>[] = [];
  const blocks: string[] = [summary];
  for (const x of g.groups) {
    blocks.push('', `== ${x.label} ==`);
    if (!x.imp) {
      groups.push({ label: x.label, fitted: false, rows: x.rows, reason: x.reason });
      blocks.push(`not fitted: ${x.reason}`);
      continue;
    }
    try {
      const { text, ...r } = fitOne(x.label, x.imp);
      groups.push({ label: x.label, fitted: true, ...r });
      blocks.push(text);
    } catch (err) {
      if (!(err instanceof AnalysisInputError)) throw err;
      groups.push({ label: x.label, fitted: false, rows: x.rows, reason: `${err.message} (${err.hint})` });
      blocks.push(`not fitted: ${err.message} (${err.hint})`);
    }
  }
  const fitted = groups.filter((x) => x.fitted).length;
  blocks.push(
    '',
    `${fitted} of ${groups.length} groups fitted${
      fitted < groups.length
        ? `; not fitted: ${groups
            .filter((x) => !x.fitted)
            .map((x) => x.label)
            .join(', ')}`
        : ''
    }`,
  );
  return { file, law: o.law, import: importJson(g), groups, text: blocks.join('\n') };
}

function chinchillaReport(label: string, imp: PointImport, o: FitOptions) {
  const fit: ChinchillaFit = fitChinchilla(imp.points, { accounting: imp.accounting, duplicatesDropped: imp.duplicates, budget: imp.budget });
  const boot: ChinchillaBootstrap | null =
    o.bootstrap > 0
      ? bootstrapChinchilla(imp.points, fit, {
          samples: o.bootstrap,
          seed: o.bootstrapSeed,
          level: o.level,
          starts: o.fullGridBootstrap ? 'grid' : 'warm',
          extraStarts: o.extraStarts,
          warmOptima: o.warmOptima,
        })
      : null;
  const nan: [number, number] = [NaN, NaN];
  const ci = Object.fromEntries(CHINCHILLA_KEYS.map((k) => [k, boot ? boot.ci[k] : nan]));
  const se = Object.fromEntries(CHINCHILLA_KEYS.map((k) => [k, boot ? boot.standardError[k] : NaN]));
  const warnings: Warning[] = [...fit.warnings, ...(boot?.warnings ?? [])];
  // the exponents do not depend on the budget: any C gives them
  const interval = boot && !boot.withheld ? chinchillaAllocationInterval(fit.params, boot, 1e21) : null;
  const alloc = interval ?? chinchillaAllocation(fit.params, 1e21);
  const exponents = { a: alloc.a, b: alloc.b, ci: { a: interval?.ci.a ?? nan, b: interval?.ci.b ?? nan } };
  const budgets: (Allocation | AllocationInterval)[] = o.budget.map((c) =>
    boot ? chinchillaAllocationInterval(fit.params, boot, c) : chinchillaAllocation(fit.params, c),
  );
  const rows = CHINCHILLA_KEYS.map((k) => [k, fmt(fit.params[k]), ciText(ci[k]), fmt(se[k])]);
  const text = [
    `${fit.formula}   (Hoffmann et al. 2022 Approach 3: log-space LSE, Huber delta ${fit.diagnostics.huberDelta}, best of ${fit.diagnostics.starts} L-BFGS starts)`,
    `${label}: ${fit.n} runs used${imp.dropped ? ` (${imp.dropped} dropped)` : ''}; N = ${imp.columns.n} (${imp.accounting.n}), ${imp.columns.d ? `D = ${imp.columns.d}` : 'D = C/(6N)'}, C ${imp.accounting.flops === 'given' ? `= ${imp.columns.c}` : '= 6ND'}, loss = ${imp.columns.loss}`,
    '',
    renderTable(['param', 'estimate', `${Math.round(o.level * 100)}% CI`, 'std err'], rows),
    '',
    `compute-optimal (C = 6ND): N_opt ~ C^${fmt(exponents.a)} ${ciText(exponents.ci.a)}, D_opt ~ C^${fmt(exponents.b)} ${ciText(exponents.ci.b)}`,
    ...budgets.map(
      (b) =>
        `  C = ${b.c.toExponential(2)}: N_opt ${b.nOpt.toExponential(3)}, D_opt ${b.dOpt.toExponential(3)}, L ${b.loss.toFixed(4)}${'ci' in b ? ` ${ciText((b as AllocationInterval).ci.loss)}` : ''}`,
    ),
    boot
      ? `bootstrap: ${boot.samples.E.length} resamples (seed ${o.bootstrapSeed}, ${boot.failures} failed), ${boot.strategy}, ${(boot.ms / 1000).toFixed(1)} s`
      : 'bootstrap: none',
    `fit: objective ${fit.objective.toExponential(4)}, rmse(log L) ${fmt(fit.diagnostics.rmseLog)}, R^2(log L) ${fmt(fit.diagnostics.r2Log)}, ${fit.diagnostics.atBest}/${fit.diagnostics.starts} starts reached the best, ${fit.diagnostics.converged} converged, ${(fit.diagnostics.ms / 1000).toFixed(1)} s`,
    countsLine(fit.counts),
    ...warningLines(warnings),
  ].join('\n');
  return {
    law: 'chinchilla',
    counts: fit.counts,
    warnings,
    notIdentified: fit.notIdentified,
    form: fit.form,
    formula: fit.formula,
    params: fit.params,
    ci,
    standardError: se,
    level: o.level,
    n: fit.n,
    dropped: imp.dropped,
    accounting: imp.accounting,
    columns: imp.columns,
    exponents,
    budgets,
    objective: fit.objective,
    diagnostics: { ...fit.diagnostics, bestStart: Array.from(fit.diagnostics.bestStart) },
    bootstrap: boot
      ? {
          samples: boot.samples.E.length,
          failures: boot.failures,
          failureFraction: boot.failureFraction,
          intervalsWithheld: boot.withheld,
          seed: o.bootstrapSeed,
          strategy: boot.strategy,
          ms: boot.ms,
        }
      : null,
    text,
  };
}

function kaplanReport(label: string, imp: PointImport, o: FitOptions) {
  const fit = fitKaplanND(imp.points, imp.accounting, undefined, { duplicatesDropped: imp.duplicates, budget: imp.budget });
  const boot = o.bootstrap > 0 ? bootstrapKaplanND(imp.points, fit, { samples: o.bootstrap, seed: o.bootstrapSeed, level: o.level }) : null;
  const nan: [number, number] = [NaN, NaN];
  const ci = Object.fromEntries(KAPLAN_ND_KEYS.map((k) => [k, boot ? boot.ci[k] : nan]));
  const se = Object.fromEntries(KAPLAN_ND_KEYS.map((k) => [k, boot ? boot.standardError[k] : NaN]));
  const warnings: Warning[] = [...fit.warnings, ...(boot?.warnings ?? [])];
  // the exponents do not depend on the budget: any C gives them
  const interval = boot && !boot.withheld ? kaplanAllocationInterval(fit.params, boot, 1e21) : null;
  const alloc = interval ?? kaplanAllocation(fit.params, 1e21);
  const exponents = { a: alloc.a, b: alloc.b, ci: { a: interval?.ci.a ?? nan, b: interval?.ci.b ?? nan } };
  const budgets = o.budget.map((c) => kaplanAllocation(fit.params, c));
  const rows = KAPLAN_ND_KEYS.map((k) => [k, fmt(fit.params[k as keyof KaplanNDParams]), ciText(ci[k]), fmt(se[k])]);
  const text = [
    `${fit.formula}   (Kaplan et al. 2020 eq. 1.5, least squares in log L)`,
    `${label}: ${fit.n} runs used${imp.dropped ? ` (${imp.dropped} dropped)` : ''}; N = ${imp.columns.n} (${imp.accounting.n}), ${imp.columns.d ? `D = ${imp.columns.d}` : 'D = C/(6N)'}, loss = ${imp.columns.loss}`,
    '',
    renderTable(['param', 'estimate', `${Math.round(o.level * 100)}% CI`, 'std err'], rows),
    '',
    `compute-optimal from this form (C = 6ND): N_opt ~ C^${fmt(exponents.a)} ${ciText(exponents.ci.a)}, D_opt ~ C^${fmt(exponents.b)} ${ciText(exponents.ci.b)}`,
    ...budgets.map((b) => `  C = ${b.c.toExponential(2)}: N_opt ${b.nOpt.toExponential(3)}, D_opt ${b.dOpt.toExponential(3)}, L ${b.loss.toFixed(4)}`),
    boot ? `bootstrap: ${boot.samples.Nc.length} resamples (seed ${o.bootstrapSeed}, ${boot.failures} failed), warm-started` : 'bootstrap: none',
    `fit: rmse(log L) ${fmt(fit.diagnostics.rmseLog)}, R^2(log L) ${fmt(fit.diagnostics.r2Log ?? NaN)}, ${fit.diagnostics.converged}/${fit.diagnostics.starts} starts converged`,
    countsLine(fit.counts!),
    ...warningLines(warnings),
  ].join('\n');
  return {
    law: 'kaplan',
    counts: fit.counts,
    warnings,
    form: fit.form,
    formula: fit.formula,
    params: fit.params,
    ci,
    standardError: se,
    level: o.level,
    n: fit.n,
    dropped: imp.dropped,
    accounting: imp.accounting,
    columns: imp.columns,
    exponents,
    budgets,
    objective: fit.objective,
    diagnostics: fit.diagnostics,
    text,
  };
}

/** "data: 20 runs, 5 model sizes, 4 token counts, 20 budgets; 20 duplicate rows dropped" */
function countsLine(c: DataCounts): string {
  return `data: ${c.runs} runs, ${c.sizes} model sizes, ${c.tokens} token counts, ${c.budgets} FLOP budgets${c.duplicatesDropped ? `; ${c.duplicatesDropped} exact duplicate rows dropped` : ''}`;
}
