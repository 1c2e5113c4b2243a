// `scaling-lab bcrit`: critical batch size from a batch-size scan, read from a CSV/JSONL of loss curves or
// from a store (runs directory or postgres:// URL); prints, per scan group, the per-loss table and the B*, alpha_B fit,
// and the pooled law across groups. The method is docs/METHODS.md section 1.
import { statSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AnalysisInputError } from '../../analysis/errors.ts';
import { importLossCurves, parseTable } from '../../analysis/importers.ts';
import { analyzeBatchScan, curvesFromRuns, groupCurves, pooledLaw, type BcritAnalysis, type BcritLevel } from '../../analysis/bcrit.ts';
import { params } from '../../report/common.ts';
import type { LossCurve } from '../../analysis/records.ts';
import { openStore } from '../../store/store.ts';
import { warnDamagedSource } from '../damaged.ts';
import { ciText, EXIT_CODES_HELP, finishWarnings, fmt, int, positive, readSource, renderTable } from '../helpers.ts';
import type { Warning } from '../../analysis/diagnostics.ts';
import { addDeprecatedAlias, addShared } from '../options.ts';

export interface BcritCliOptions {
  json: boolean;
  context?: number;
  runColumn?: string;
  batchTokensColumn?: string;
  batchSizeColumn?: string;
  stepColumn?: string;
  tokensColumn?: string;
  lossColumn?: string;
  warmupColumn?: string;
  lrColumn?: string;
  seedColumn?: string;
  group?: string;
  levels?: number[];
  nLevels: number;
  smooth: number;
  warmupSteps?: number;
  minBatchSizes: number;
  scanMargin: number;
  breakP: number;
  bootstrap: number;
  bootstrapSeed: number;
  lossKind: 'test' | 'train';
  sweep?: string;
  strict?: boolean;
}

const lossList = (v: string): number[] =>
  v.split(',').map((s) => {
    const x = Number(s);
    if (!(x > 0)) throw new InvalidArgumentError(`--levels takes positive losses separated by commas, got "${s}"`);
    return x;
  });

export function registerBcrit(program: Command): void {
  const cmd = program
    .command('bcrit')
    .description(
      'Critical batch size from a batch-size scan (Kaplan et al. 2020 section 5.1): S_min, E_min, B_crit per target loss and the fit B_crit(L) = B* / L^(1/alpha_B).',
    )
    .argument(
      '<source>',
      'CSV/JSONL of loss curves (one row per run and step: run, batch_tokens or batch_size, step, tokens, loss), or a store: runs directory or postgres:// URL',
    )
    .option('--json', 'print one JSON object instead of tables', false)
    .option('--context <T>', 'tokens per sequence: batch tokens = batch_size x T when the file has batch_size', positive('--context'))
    .option('--run-column <column>', 'column naming the run (default: detect run, run_id, id, name)')
    .option('--batch-tokens-column <column>', 'column of tokens per step (default: detect batch_tokens)')
    .option('--batch-size-column <column>', 'column of sequences per step, with --context (default: detect batch_size when there is no batch_tokens)')
    .option('--step-column <column>', 'column of the optimiser step (default: detect step, iter)')
    .option('--tokens-column <column>', 'column of tokens processed (default: detect tokens; else step x batch tokens)')
    .option('--loss-column <column>', 'column of the test loss (default: detect loss, test_loss, val_loss)')
    .option('--warmup-column <column>', "column of each run's warm-up steps (default: detect warmup, warmup_steps)")
    .option(
      '--lr-column <column>',
      'column of the learning rate at each row (default: detect lr, learning_rate); progress is LR-weighted from it, and runs sharing a batch size form an LR envelope',
    )
    .option(
      '--seed-column <column>',
      'column of the training seed (default: detect seed): runs of one batch size and seed are one replica; seeds enter the bootstrap',
    )
    .option(
      '--group <column>',
      'column naming the scan each run belongs to (e.g. model size or experiment): each group is analysed alone, and a pooled law tests whether they agree',
    )
    .option(
      '--levels <losses>',
      'target losses, comma separated (default: --n-levels log-spaced between the highest first loss and the lowest final loss)',
      lossList,
    )
    .option(
      '--n-levels <k>',
      'number of default target losses, log-spaced inside the range every usable level must lie in (docs/METHODS.md 1.6)',
      int('--n-levels', 1),
      16,
    )
    .option('--smooth <w>', 'smoothing window in evals before the running minimum (local quadratic in log step; < 5 = none)', int('--smooth', 1), 5)
    .option(
      '--warmup-steps <s>',
      'linear warm-up steps of runs that log no LR and have no warmup column (0 = none); needed when the file has neither',
      int('--warmup-steps', 0),
    )
    .option('--min-batch-sizes <k>', 'fewest batch sizes a level needs for the eq. 5.1 fit', int('--min-batch-sizes', 3), 3)
    .option(
      '--scan-margin <f>',
      "levels whose B_crit lies beyond the batch sizes that reach them by more than this factor are 'outside-scan' (1: B_crit must lie within them, where eq. 5.1 constrains it)",
      positive('--scan-margin'),
      1,
    )
    .option(
      '--break-p <p>',
      "p-value below which the break test marks the high-loss levels 'pre-regime' (0 = no test)",
      (v: string) => {
        const x = Number(v);
        if (!(x >= 0 && x < 1)) throw new InvalidArgumentError(`--break-p takes a p-value in [0, 1), got "${v}"`);
        return x;
      },
      0.01,
    )
    .addOption(new Option('--loss-kind <kind>', 'for a store: test loss at eval steps, or train loss at every step').choices(['test', 'train']).default('test'))
    .option('--sweep <name>', 'for a store: only the runs of this sweep');
  // the bootstrap resamples batch sizes, and seeds within each, for the B*, alpha_B and per-level intervals
  addShared(cmd, 'bootstrap', 'bootstrapSeed', 'strict');
  cmd.addHelpText('after', `\n${EXIT_CODES_HELP}`);
  addDeprecatedAlias(cmd, '--seed <s>', '--bootstrap-seed');
  for (const c of ['run', 'batch-tokens', 'batch-size', 'step', 'tokens', 'loss', 'warmup', 'lr']) addDeprecatedAlias(cmd, `--${c} <column>`, `--${c}-column`);
  cmd.action(async (source: string, opts: BcritCliOptions) => {
    await warnDamagedSource(source);
    const { text, ...result } = await runBcrit(source, opts);
    console.log(opts.json ? JSON.stringify(result, null, 2) : text);
    finishWarnings(result.warnings as Warning[], { strict: opts.strict });
  });
}

async function loadCurves(source: string, o: BcritCliOptions): Promise<{ curves: LossCurve[]; from: string }> {
  let isDir = false;
  if (!/^postgres(ql)?:\/\//.test(source)) {
    try {
      isDir = statSync(source).isDirectory();
    } catch (err) {
      throw new AnalysisInputError(`cannot read ${source}: ${(err as Error).message}`, 'give a CSV/JSONL file of loss curves or a runs directory', {
        file: source,
      });
    }
  }
  if (isDir || /^postgres(ql)?:\/\//.test(source)) {
    const store = await openStore(source);
    try {
      const runs = await store.loadRecords(o.sweep ? { sweep: o.sweep } : undefined);
      if (runs.length === 0)
        throw new AnalysisInputError(
          `${source}: the store holds no runs${o.sweep ? ` of sweep ${o.sweep}` : ''}`,
          'run a batch-size sweep first, or point at another store',
        );
      // warm-up comes with each record (the trainer stores it); --warmup-steps covers runs that do not say
      return { curves: curvesFromRuns(runs, o.lossKind, undefined, params), from: `store ${store.location} (${runs.length} runs, ${o.lossKind} loss)` };
    } finally {
      await store.close();
    }
  }
  const table = parseTable(readSource(source), source);
  const curves = importLossCurves(table, {
    columns: {
      run: o.runColumn,
      batchTokens: o.batchTokensColumn,
      batchSize: o.batchSizeColumn,
      step: o.stepColumn,
      tokens: o.tokensColumn,
      loss: o.lossColumn,
      warmup: o.warmupColumn,
      lr: o.lrColumn,
      seed: o.seedColumn,
    },
    context: o.context,
    group: o.group,
  });
  return { curves, from: `${source} (${curves.length} runs)` };
}

function levelJson(l: BcritLevel) {
  return {
    loss: l.loss,
    sMin: l.sMin,
    eMin: l.eMin,
    bCrit: l.bCrit,
    ci: l.ci,
    status: l.status,
    reason: l.reason,
    batchSizes: l.batchSizes,
    r2: l.r2,
    rmseLog: l.rmseLog,
    points: l.points,
    unreached: l.unreached,
    atFirstEval: l.atFirstEval,
  };
}

function fitJson(a: BcritAnalysis) {
  const f = a.fit;
  return f
    ? {
        form: f.form,
        formula: f.formula,
        bStar: f.bStar,
        alphaB: f.alphaB,
        ci: f.ci,
        standardError: f.standardError,
        n: f.n,
        r2: f.r2,
        bootstrap: {
          samples: f.bootstrap.samples.bStar.length,
          failures: f.bootstrap.failures,
          failureFraction: a.bootstrapFailureFraction,
          intervalsWithheld: a.intervalsWithheld,
          seed: f.bootstrap.seed,
        },
      }
    : null;
}

function groupText(label: string, a: BcritAnalysis): string {
  const rows = a.levels.map((l) => [
    fmt(l.loss),
    String(l.batchSizes),
    fmt(l.sMin),
    fmt(l.eMin),
    fmt(l.bCrit),
    l.ci ? ciText(l.ci) : '',
    fmt(l.r2),
    l.status + (l.reason ? `: ${l.reason}` : ''),
  ]);
  const f = a.fit;
  const seeds = a.seeds > 1 ? `, up to ${a.seeds} seeds per batch size` : '';
  return [
    `== ${label}: ${a.curves.length} batch sizes (${a.curves.map((c) => c.batchTokens).join(', ')} tokens)${seeds}`,
    renderTable(['loss', 'sizes', 'S_min', 'E_min', 'B_crit', 'B_crit 95% CI', 'R^2', 'status'], rows),
    ...a.lrWarnings.map((w) => `warning: ${w}`),
    ...a.warnings.map((w) => `warning [${w.code}]: ${w.message}`),
    `data: ${a.counts.runs} runs, ${a.counts.batchSizes} batch sizes, ${a.counts.usableLevels} of ${a.counts.levels} loss levels usable`,
    f
      ? `B_crit(L) = B* / L^(1/alpha_B): B* = ${fmt(f.bStar)} tokens ${ciText(f.ci.bStar)}, alpha_B = ${fmt(f.alphaB)} ${ciText(f.ci.alphaB)} (1/alpha_B = ${fmt(1 / f.alphaB)}); ${f.n} levels, R^2 ${fmt(f.r2)}; ${Math.round(f.bootstrap.level * 100)}% bootstrap over batch sizes${a.seeds > 1 ? ' and seeds' : ''}, ${f.bootstrap.samples.bStar.length} resamples (${f.bootstrap.failures} failed)`
      : `no B_crit(L) fit: ${a.fitReason}`,
  ].join('\n');
}

async function runBcrit(source: string, o: BcritCliOptions): Promise<Record<string, unknown> & { text: string }> {
  if (o.bootstrap < 1)
    throw new AnalysisInputError('bcrit needs bootstrap resamples: its intervals and the pooled-law test are read from them', 'give --bootstrap 1 or more');
  const { curves, from } = await loadCurves(source, o);
  const groups = groupCurves(curves);
  const options = {
    levels: o.levels,
    nLevels: o.nLevels,
    smoothWindow: o.smooth,
    warmupSteps: o.warmupSteps,
    minBatchSizes: o.minBatchSizes,
    scanMargin: o.scanMargin,
    breakP: o.breakP,
    bootstrap: { samples: o.bootstrap, seed: o.bootstrapSeed },
  };
  const results: { label: string; runs: number; analysis: BcritAnalysis | null; reason?: string }[] = [];
  for (const g of groups) {
    try {
      results.push({ label: g.label, runs: g.curves.length, analysis: analyzeBatchScan(g.curves, options) });
    } catch (err) {
      // one group that cannot be analysed does not stop the others; with one group the error is the answer
      if (!(err instanceof AnalysisInputError) || groups.length === 1) throw err;
      results.push({ label: g.label, runs: g.curves.length, analysis: null, reason: err.message });
    }
  }
  const pooled = pooledLaw(results.flatMap((r) => (r.analysis ? [r.analysis] : [])));
  // a group whose intervals are withheld (NaN) cannot contain the pooled law: undetermined, not a disagreement
  const withheld = results.filter((r) => r.analysis?.fit && r.analysis.intervalsWithheld).map((r) => r.label);
  const text = [
    `batch-size scan: ${from}; ${groups.length} group${groups.length === 1 ? '' : 's'} (model size x sweep x schedule x data x trainer${o.group ? `, or column ${o.group}` : ''}): ${results.map((r) => `${r.label} (${r.runs} runs)`).join(', ')}`,
    'per target loss, eq. 5.1 (S/S_min - 1)(E/E_min - 1) = 1 on LR-weighted steps; B_crit = E_min / S_min in tokens (Kaplan et al. 2020 eq. 5.2; docs/METHODS.md section 1)',
    ...results.map((r) => (r.analysis ? groupText(r.label, r.analysis) : `== ${r.label}: not analysed: ${r.reason}`)),
    ...(pooled
      ? [
          `pooled over ${pooled.groups} groups (Kaplan's single line): B* = ${fmt(pooled.bStar)} tokens ${ciText(pooled.ci.bStar)}, alpha_B = ${fmt(pooled.alphaB)} ${ciText(pooled.ci.alphaB)}; ${
            withheld.length
              ? `whether the groups agree with it cannot be judged: the intervals of ${withheld.join(', ')} are withheld`
              : pooled.agree
                ? 'every group agrees with it within its own intervals (alpha_B, and B_crit at L ' + fmt(pooled.lossMid) + ')'
                : 'the groups do NOT agree with it: ' +
                  results
                    .filter((r) => r.analysis?.fit)
                    .flatMap((r, i) => {
                      const off = [
                        pooled.groupsAgree[i].alphaB ? '' : 'alpha_B',
                        pooled.groupsAgree[i].bCritMid ? '' : `B_crit at L ${fmt(pooled.lossMid)}`,
                      ].filter(Boolean);
                      return off.length ? [`${r.label}: pooled ${off.join(' and ')} outside its interval`] : [];
                    })
                    .join('; ')
          }; F-test one line vs one per group (not decisive: levels are correlated) F ${fmt(pooled.f)}, p ${fmt(pooled.p)}`,
        ]
      : []),
  ].join('\n\n');
  const groupsJson = results.map((r) => ({
    label: r.label,
    runs: r.runs,
    reason: r.reason,
    batchSizes:
      r.analysis?.curves.map((c) => ({ batchTokens: c.batchTokens, runs: c.runs, seeds: c.replicas.length, transientSteps: c.transientSteps, lr: c.lr })) ?? [],
    levels: r.analysis?.levels.map(levelJson) ?? [],
    fit: r.analysis ? fitJson(r.analysis) : null,
    fitReason: r.analysis?.fitReason,
    regimeBreak: r.analysis?.regimeBreak,
    lrWarnings: r.analysis?.lrWarnings ?? [],
    fitWarnings: r.analysis?.fitWarnings ?? [],
    counts: r.analysis?.counts,
    warnings: r.analysis?.warnings ?? [],
  }));
  const warnings: Warning[] = results.flatMap((r) =>
    (r.analysis?.warnings ?? []).map((w) => (results.length > 1 ? { ...w, message: `${r.label}: ${w.message}` } : w)),
  );
  // one group: its fields at the top level too, so scripts need not index groups[0]
  return { units: 'tokens', source: from, groups: groupsJson, pooled, ...(groupsJson.length === 1 && { ...groupsJson[0] }), warnings, text };
}
