// `scaling-lab report`: charts (SVG, PNG) and a self-contained HTML report from a store or an import file.
// The shell only: loading is report/source.ts, fits and charts are report/build.ts over analysis/.
import { Command, InvalidArgumentError } from 'commander';
import { buildReport, type Format } from '../../report/build.ts';
import { checkReportOut, writeReportAtomic } from '../../report/output.ts';
import { loadReportInput, importReference } from '../../report/source.ts';
import { warnDamagedSource } from '../damaged.ts';
import { ReportInputError, sci, ciText } from '../../report/common.ts';
import { collect, commaList, EXIT_CODES_HELP, finishWarnings, positive, renderTable } from '../helpers.ts';
import { addDeprecatedAlias, addShared } from '../options.ts';
import { APPROACH_HEADER, approachNotes, approachRows } from '../../report/approaches.ts';
import { WHERE_SYNTAX } from '../../analysis/importers.ts';

interface ReportCliOptions {
  out: string;
  format: Format[];
  bootstrap: number;
  bootstrapSeed: number;
  sweep?: string;
  context?: number;
  nParams: 'kaplan' | 'total';
  nConvention: 'kaplan' | 'total' | 'unknown';
  reference?: string;
  referenceLabel: string;
  quiet: boolean;
  group?: string[];
  where?: string[];
  keepOutliers: boolean;
  excludeColumn?: string;
  budgetColumn?: string;
  label?: string;
  panels?: string[];
  strict?: boolean;
}

const FORMATS: Format[] = ['svg', 'png', 'html'];

const formats = (v: string): Format[] => {
  const out = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const f of out)
    if (!FORMATS.includes(f as Format)) throw new InvalidArgumentError(`--format takes ${FORMATS.join(', ')} separated by commas, got "${f}"`);
  if (out.length === 0) throw new InvalidArgumentError('--format needs at least one of svg, png, html');
  return out as Format[];
};

export function registerReport(program: Command): void {
  const cmd = program
    .command('report')
    .description(
      'Draw the scaling-law charts (batch-size scans, critical batch size, L(N, D) in 3D, learning curves, IsoFLOP profiles, compute-optimal frontier) as SVG/PNG and one self-contained HTML report.',
    )
    .argument(
      '<source>',
      'a runs directory (file store), a postgres:// store URL, or a CSV/JSONL import of loss curves (run, batch_tokens, step, loss) or run end points (N, D, loss)',
    )
    .option(
      '--out <dir>',
      'directory for the charts and report.html: written beside it first, then moved into place (an earlier report there is replaced whole)',
      'reports',
    )
    .option('--format <list>', 'what to write, comma separated: svg, png, html', formats, FORMATS);
  addShared(cmd, 'bootstrap', 'bootstrapSeed');
  cmd
    .option('--sweep <name>', 'for a store: only the runs of this sweep')
    .option('--context <T>', 'for an import with batch_size in sequences: tokens per sequence', positive('--context'));
  // N of our runs is chosen (--n-params); N of an import or --reference is declared (--n-convention)
  addShared(cmd, 'nParams', 'nConvention');
  cmd
    .option('--reference <file>', "a CSV/JSONL of end points (N, D, loss) to fit beside ours in the L(N, D) chart, e.g. Chinchilla's published runs")
    .option('--reference-label <text>', 'name of the reference data set in titles', 'reference')
    .option(
      '--group <columns>',
      'for an end-point import: one L(N, D) data set per value of this column (or columns, comma separated), e.g. experiment; every group is fitted, two are drawn side by side',
      commaList('--group'),
    )
    .option(
      '--panels <groups>',
      'with --group: the two groups drawn side by side, comma separated (labels or patterns with *; default: the first two that can be fitted)',
      (v: string) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
    )
    .option('--where <condition>', `for an end-point import: keep only the rows that match: ${WHERE_SYNTAX}`, collect)
    .option('--keep-outliers', 'keep the rows an outlier/exclude column flags (default: leave them out and say how many)', false)
    .option('--exclude-column <column>', 'column flagging rows to leave out, true/false (default: detect outlier, is_outlier, exclude, ...)')
    .option(
      '--budget-column <column>',
      "column holding each run's nominal FLOP budget (default: detect budget, flop_budget, ...; else budgets are clustered from C)",
    )
    .option('--label <text>', "the data set's name in chart titles (default: the file's basename)")
    .option('--quiet', 'no progress lines on stderr', false);
  addShared(cmd, 'strict');
  cmd.addHelpText('after', `\n${EXIT_CODES_HELP}`);
  addDeprecatedAlias(cmd, '--seed <s>', '--bootstrap-seed');
  addDeprecatedAlias(cmd, '--n-count <count>', '--n-params');
  cmd.action(async (source: string, o: ReportCliOptions) => {
    const progress = o.quiet ? undefined : (line: string) => process.stderr.write(`report: ${line}\n`);
    // before any fitting: a read-only or misnamed --out fails now, not after minutes of bootstrap
    checkReportOut(o.out);
    await warnDamagedSource(source);
    const input = await loadReportInput(source, {
      sweep: o.sweep,
      context: o.context,
      nConvention: o.nConvention,
      group: o.group,
      where: o.where,
      keepOutliers: o.keepOutliers,
      excludeColumn: o.excludeColumn,
      budgetColumn: o.budgetColumn,
      label: o.label,
      panels: o.panels,
    });
    if (o.panels && !o.group) throw new ReportInputError('--panels picks two groups of a grouped import', 'add --group COLUMN (e.g. --group experiment)');
    if (o.reference) input.reference = importReference(o.reference, o.referenceLabel, o.nConvention);
    if (input.reference && input.records.length === 0 && !input.points) {
      throw new ReportInputError('--reference needs end points of our own runs to sit beside', 'give a store or an end-point import as SOURCE');
    }
    const report = await buildReport(input, { bootstrap: o.bootstrap, seed: o.bootstrapSeed, nCount: o.nParams, onProgress: progress });
    const written = writeReportAtomic(o.out, report, o.format, progress);
    for (const w of report.warnings) console.log(`warning: ${w}`);
    for (const c of report.charts) {
      if (c.status === 'skipped') console.log(`not drawn: ${c.title}: ${c.reason}`);
    }
    const h = report.headline;
    for (const b of h.bcrit)
      console.log(`B_crit(L) ${b.size}: B* = ${sci(b.bStar, 3)} tokens ${ciText(b.bStarCi)}, alpha_B = ${sci(b.alphaB, 3)} ${ciText(b.alphaBCi)}`);
    if (h.chinchilla) {
      const p = h.chinchilla.params;
      console.log(
        `L(N, D) = E + A/N^alpha + B/D^beta: E ${sci(p.E, 3)} ${ciText(h.chinchilla.ci.E)}, A ${sci(p.A, 3)} ${ciText(h.chinchilla.ci.A)}, B ${sci(p.B, 3)} ${ciText(h.chinchilla.ci.B)}, alpha ${sci(p.alpha, 3)} ${ciText(h.chinchilla.ci.alpha)}, beta ${sci(p.beta, 3)} ${ciText(h.chinchilla.ci.beta)}`,
      );
    }
    if (h.allocation)
      console.log(
        `compute-optimal (Approach 3, C = 6ND): N_opt ~ C^${sci(h.allocation.a, 3)} ${ciText(h.allocation.aCi)}, D_opt ~ C^${sci(h.allocation.b, 3)} ${ciText(h.allocation.bCi)}`,
      );
    if (h.isoflop) console.log(`compute-optimal (Approach 2, IsoFLOP): N_opt ~ C^${sci(h.isoflop.a, 3)}, D_opt ~ C^${sci(h.isoflop.b, 3)}`);
    for (const g of report.fits.approaches) {
      console.log(
        `\nL(N, D) approaches side by side: ${g.label} (${g.set.points.length} runs${g.comparison && o.bootstrap > 0 ? `, ${Math.round(g.comparison.level * 100)}% bootstrap intervals, ${o.bootstrap} resamples` : ''})`,
      );
      if (!g.comparison) {
        console.log(`not fitted: ${g.reason}`);
        continue;
      }
      console.log(renderTable(APPROACH_HEADER, approachRows(g.comparison)));
      for (const line of approachNotes(g.comparison)) console.log(line);
    }
    console.log(`wrote ${written.files.length} files to ${written.dir}${o.format.includes('html') ? ` (open ${written.dir}/report.html)` : ''}`);
    finishWarnings(report.diagnostics, { strict: o.strict });
  });
}
