// `scaling-lab bcrit`: critical batch size from a batch-size scan, read from a CSV/JSONL of loss curves or
// from a store (runs directory or postgres:// URL); prints the per-loss table and the B*, alpha_B fit.
import { statSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AnalysisInputError } from '../../analysis/errors.ts';
import { importLossCurves, parseTable } from '../../analysis/importers.ts';
import { analyzeBatchScan, curvesFromRuns, type BcritAnalysis } from '../../analysis/bcrit.ts';
import type { LossCurve } from '../../analysis/records.ts';
import { openStore } from '../../store/store.ts';
import { ciText, fmt, int, positive, readSource, renderTable } from './fit.ts';

export interface BcritCliOptions {
  json: boolean;
  context?: number;
  run?: string;
  batchTokens?: string;
  batchSize?: string;
  step?: string;
  tokens?: string;
  loss?: string;
  warmup?: string;
  lr?: string;
  levels?: number[];
  nLevels: number;
  smooth: number;
  warmupSteps: number;
  minBatchSizes: number;
  scanMargin: number;
  fitWarmupLevels: boolean;
  bootstrap: number;
  seed: number;
  lossKind: 'test' | 'train';
  sweep?: string;
}

const lossList = (v: string): number[] =>
  v.split(',').map((s) => {
    const x = Number(s);
    if (!(x > 0)) throw new InvalidArgumentError(`--levels takes positive losses separated by commas, got "${s}"`);
    return x;
  });

export function registerBcrit(program: Command): void {
  program
    .command('bcrit')
    .description('Critical batch size from a batch-size scan (Kaplan et al. 2020 section 5.1): S_min, E_min, B_crit per target loss and the fit B_crit(L) = B* / L^(1/alpha_B).')
    .argument('<source>', 'CSV/JSONL of loss curves (one row per run and step: run, batch_tokens or batch_size, step, tokens, loss), or a store: runs directory or postgres:// URL')
    .option('--json', 'print one JSON object instead of tables', false)
    .option('--context <T>', 'tokens per sequence: batch tokens = batch_size x T when the file has batch_size', positive('--context'))
    .option('--run <column>', 'column naming the run (default: detect run, run_id, id, name)')
    .option('--batch-tokens <column>', 'column of tokens per step (default: detect batch_tokens)')
    .option('--batch-size <column>', 'column of sequences per step, with --context (default: detect batch_size when there is no batch_tokens)')
    .option('--step <column>', 'column of the optimiser step (default: detect step, iter)')
    .option('--tokens <column>', 'column of tokens processed (default: detect tokens; else step x batch tokens)')
    .option('--loss <column>', 'column of the test loss (default: detect loss, test_loss, val_loss)')
    .option('--warmup <column>', "column of each run's warm-up steps (default: detect warmup, warmup_steps)")
    .option('--lr <column>', 'column of the learning rate, if any (runs sharing a batch size form an LR axis either way)')
    .option('--levels <losses>', 'target losses, comma separated (default: --n-levels log-spaced between the highest first loss and the lowest final loss)', lossList)
    .option('--n-levels <k>', 'number of default target losses', int('--n-levels', 1), 12)
    .option('--smooth <w>', 'smoothing window in evals before the running minimum (local quadratic in log step; < 5 = none)', int('--smooth', 1), 5)
    .option('--warmup-steps <s>', 'warm-up steps of runs that do not say: levels reached inside warm-up are marked and left out of the fit', int('--warmup-steps', 0), 0)
    .option('--min-batch-sizes <k>', 'fewest batch sizes a level needs for the eq. 5.1 fit', int('--min-batch-sizes', 3), 3)
    .option('--scan-margin <f>', "levels whose B_crit lies beyond the scanned batch sizes by more than this factor are 'outside-scan'", positive('--scan-margin'), 2)
    .option('--fit-warmup-levels', 'include levels reached during warm-up in the B_crit(L) fit', false)
    .option('--bootstrap <k>', 'bootstrap resamples over batch sizes for the B*, alpha_B intervals', int('--bootstrap', 1), 1000)
    .option('--seed <s>', 'seed of the bootstrap', int('--seed', 0), 0)
    .addOption(new Option('--loss-kind <kind>', 'for a store: test loss at eval steps, or train loss at every step').choices(['test', 'train']).default('test'))
    .option('--sweep <name>', 'for a store: only the runs of this sweep')
    .action(async (source: string, opts: BcritCliOptions) => {
      const { text, ...result } = await runBcrit(source, opts);
      console.log(opts.json ? JSON.stringify(result, null, 2) : text);
    });
}

async function loadCurves(source: string, o: BcritCliOptions): Promise<{ curves: LossCurve[]; from: string }> {
  let isDir = false;
  if (!/^postgres(ql)?:\/\//.test(source)) {
    try {
      isDir = statSync(source).isDirectory();
    } catch (err) {
      throw new AnalysisInputError(`cannot read ${source}: ${(err as Error).message}`, 'give a CSV/JSONL file of loss curves or a runs directory', { file: source });
    }
  }
  if (isDir || /^postgres(ql)?:\/\//.test(source)) {
    const store = await openStore(source);
    try {
      const runs = await store.loadRecords(o.sweep ? { sweep: o.sweep } : undefined);
      if (runs.length === 0) throw new AnalysisInputError(`${source}: the store holds no runs${o.sweep ? ` of sweep ${o.sweep}` : ''}`, 'run a batch-size sweep first, or point at another store');
      // warm-up comes with each record (the trainer stores it); --warmup-steps covers runs that do not say
      return { curves: curvesFromRuns(runs, o.lossKind), from: `store ${store.location} (${runs.length} runs, ${o.lossKind} loss)` };
    } finally {
      await store.close();
    }
  }
  const table = parseTable(readSource(source), source);
  const curves = importLossCurves(table, {
    columns: { run: o.run, batchTokens: o.batchTokens, batchSize: o.batchSize, step: o.step, tokens: o.tokens, loss: o.loss, warmup: o.warmup, lr: o.lr },
    context: o.context,
  });
  return { curves, from: `${source} (${curves.length} runs)` };
}

export async function runBcrit(source: string, o: BcritCliOptions): Promise<Record<string, unknown> & { text: string }> {
  const { curves, from } = await loadCurves(source, o);
  const a: BcritAnalysis = analyzeBatchScan(curves, {
    levels: o.levels,
    nLevels: o.nLevels,
    smoothWindow: o.smooth,
    warmupSteps: o.warmupSteps,
    minBatchSizes: o.minBatchSizes,
    scanMargin: o.scanMargin,
    fitWarmupLevels: o.fitWarmupLevels,
    bootstrap: { samples: o.bootstrap, seed: o.seed },
  });
  const rows = a.levels.map((l) => [
    fmt(l.loss),
    String(l.batchSizes),
    fmt(l.sMin),
    fmt(l.eMin),
    fmt(l.bCrit),
    fmt(l.r2),
    l.warmup ? 'yes' : '',
    l.status + (l.reason ? `: ${l.reason}` : ''),
  ]);
  const f = a.fit;
  const text = [
    `batch-size scan: ${from}; ${a.curves.length} batch sizes (${a.curves.map((c) => c.batchTokens).join(', ')} tokens)`,
    'per target loss, eq. 5.1 (S/S_min - 1)(E/E_min - 1) = 1; B_crit = E_min / S_min in tokens (Kaplan et al. 2020 eq. 5.2)',
    '',
    renderTable(['loss', 'sizes', 'S_min', 'E_min', 'B_crit', 'R^2', 'warm-up', 'status'], rows),
    '',
    f
      ? `B_crit(L) = B* / L^(1/alpha_B): B* = ${fmt(f.bStar)} tokens ${ciText(f.ci.bStar)}, alpha_B = ${fmt(f.alphaB)} ${ciText(f.ci.alphaB)} (1/alpha_B = ${fmt(1 / f.alphaB)}); ${f.n} levels, R^2 ${fmt(f.r2)}; 95% bootstrap over batch sizes, ${f.bootstrap.samples.bStar.length} resamples (${f.bootstrap.failures} failed)`
      : `no B_crit(L) fit: ${a.fitReason}`,
  ].join('\n');
  return {
    units: a.units,
    source: from,
    batchSizes: a.curves.map((c) => ({ batchTokens: c.batchTokens, runs: c.runs, warmupSteps: c.warmupSteps })),
    levels: a.levels.map((l) => ({
      loss: l.loss,
      sMin: l.sMin,
      eMin: l.eMin,
      bCrit: l.bCrit,
      status: l.status,
      reason: l.reason,
      batchSizes: l.batchSizes,
      r2: l.r2,
      rmseLog: l.rmseLog,
      warmup: l.warmup,
      points: l.points,
      unreached: l.unreached,
      atFirstEval: l.atFirstEval,
    })),
    fit: f
      ? { form: f.form, formula: f.formula, bStar: f.bStar, alphaB: f.alphaB, ci: f.ci, standardError: f.standardError, n: f.n, r2: f.r2, bootstrap: { samples: f.bootstrap.samples.bStar.length, failures: f.bootstrap.failures, seed: f.bootstrap.seed } }
      : null,
    fitReason: a.fitReason,
    text,
  };
}
