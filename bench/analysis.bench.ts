// Timings of the analysis library on the published Chinchilla data (Epoch AI's reconstruction, 240 runs) and
// a synthetic batch-size scan. Run: node --import tsx bench/analysis.bench.ts [--bootstrap K] [--compare-grid R] [--json]
import { readFileSync } from 'node:fs';
import { parseCsv, importScalingPoints } from '../src/analysis/importers.ts';
import { bootstrapChinchilla, fitChinchilla, CHINCHILLA_KEYS } from '../src/analysis/chinchilla.ts';
import { analyzeBatchScan } from '../src/analysis/bcrit.ts';
import { syntheticBatchScan } from '../src/analysis/synthetic.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const json = args.includes('--json');
const K = flag('--bootstrap', 1000);
const R = flag('--compare-grid', 0);
const log = (s: string): void => {
  if (!json) console.log(s);
};

const file = new URL('../test/fixtures/analysis/chinchilla_epoch_svg_extracted.csv', import.meta.url).pathname;
const pts = importScalingPoints(parseCsv(readFileSync(file, 'utf8'), file), { dropHighest: 5 }).points;
const fit = fitChinchilla(pts);
log(
  `Approach 3, ${pts.length} runs, ${fit.diagnostics.starts} grid starts evaluated, ${fit.diagnostics.optimized} optimised by L-BFGS: ${(fit.diagnostics.ms / 1000).toFixed(2)} s (${fit.diagnostics.evaluations} evaluations, ${((fit.diagnostics.ms * 1000) / fit.diagnostics.evaluations).toFixed(1)} us each)`,
);
log(
  `  E ${fit.params.E.toFixed(4)}  A ${fit.params.A.toFixed(1)}  B ${fit.params.B.toFixed(1)}  alpha ${fit.params.alpha.toFixed(4)}  beta ${fit.params.beta.toFixed(4)}  (Epoch: 1.817, 482.0, 2085.4, 0.348, 0.366)`,
);
const boot = bootstrapChinchilla(pts, fit, { samples: K, seed: 0 });
log(`bootstrap, ${K} refits (${boot.strategy}): ${(boot.ms / 1000).toFixed(2)} s; total ${((fit.diagnostics.ms + boot.ms) / 1000).toFixed(2)} s`);
for (const k of CHINCHILLA_KEYS)
  log(`  ${k.padEnd(5)} 95% CI [${boot.ci[k][0].toPrecision(4)}, ${boot.ci[k][1].toPrecision(4)}]  se ${boot.standardError[k].toPrecision(3)}`);

let compare: Record<string, number[]> | null = null;
if (R > 0) {
  // warm starts vs the whole grid on the same R resamples (seed 11), differences in bootstrap standard errors
  const warm = bootstrapChinchilla(pts, fit, { samples: R, seed: 11 });
  const grid = bootstrapChinchilla(pts, fit, { samples: R, seed: 11, starts: 'grid' });
  compare = {};
  for (const k of CHINCHILLA_KEYS) compare[k] = Array.from(warm.samples[k], (v, i) => (v - grid.samples[k][i]) / boot.standardError[k]);
  log(`warm vs full-grid refits on ${R} resamples (${(grid.ms / 1000).toFixed(1)} s for the grid), (warm - grid) / se:`);
  for (const k of CHINCHILLA_KEYS) log(`  ${k.padEnd(5)} ${compare[k].map((v) => v.toFixed(3)).join(' ')}`);
}

const scan = syntheticBatchScan({
  bStar: 2e5,
  alphaB: 1 / 6,
  batchTokens: [4, 8, 16, 32, 64, 128, 256, 512].map((b) => b * 64),
  finalLoss: 2,
  noise: 0.001,
  seed: 1,
  runsPerBatch: 2,
});
const t0 = performance.now();
const bc = analyzeBatchScan(scan, { bootstrap: { samples: K } });
const bcMs = performance.now() - t0;
log(
  `critical batch: 16 curves, ${bc.levels.length} levels, ${K} bootstrap resamples: ${(bcMs / 1000).toFixed(2)} s; B* ${bc.fit!.bStar.toPrecision(4)} (true 2e5), alpha_B ${bc.fit!.alphaB.toPrecision(4)} (true 0.1667)`,
);

if (json) {
  console.log(
    JSON.stringify(
      {
        approach3: { runs: pts.length, starts: fit.diagnostics.starts, ms: fit.diagnostics.ms, evaluations: fit.diagnostics.evaluations, params: fit.params },
        bootstrap: { samples: K, ms: boot.ms, strategy: boot.strategy, ci: boot.ci, standardError: boot.standardError },
        compareGrid: compare,
        bcrit: { ms: bcMs, samples: K, bStar: bc.fit!.bStar, alphaB: bc.fit!.alphaB },
      },
      null,
      2,
    ),
  );
}
