// The critical-batch-size method against known truth on scans shaped like real logs (docs/METHODS.md section 1):
// synthetic scans with a linear warm-up whose progress is (lr_t / lr_peak)^power (power 1 is exactly what the
// LR-weighted correction assumes; 0.7 and 1.5 are not), evals every 20 steps, equal token budgets, 0.3% loss noise,
// 3 LRs per batch size, with and without an early regime whose B_crit is half the law's. Prints, per scan, the
// median and worst factor between B_crit and the truth on the levels the tool calls ok, 1/alpha_B (truth 6), and
// the number of ok levels, and whether the issue-11 tolerances hold (median <= 1.15, worst <= 1.35, 1/alpha_B within
// 15%, >= 5 levels). Usage: npx tsx bench/bcrit-truth.ts [--break-p 0.01] [--uncorrected]
import { analyzeBatchScan } from '../src/analysis/bcrit.ts';
import { syntheticBatchScan } from '../src/analysis/synthetic.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const breakP = arg('--break-p', 0.01);
const uncorrected = process.argv.includes('--uncorrected');
const B_STAR = 5.12e5 * arg('--bstar-factor', 1);
const ALPHA_B = 1 / 6;
const LADDER = [8, 16, 32, 64, 128, 256, 512].map((b) => b * 64);
for (const early of [false, true]) {
  let fails = 0;
  const rows: string[] = [];
  for (const power of [0.7, 1, 1.5]) {
    for (const seed of [1, 2, 3, 4]) {
      const runs = syntheticBatchScan({
        bStar: B_STAR,
        alphaB: ALPHA_B,
        batchTokens: LADDER,
        sRef: 30,
        lossRef: 3,
        lossFloor: 1.5,
        p: 3,
        finalLoss: 2.0,
        tokenBudget: 3e6,
        evalInterval: 20,
        warmupSteps: 40,
        warmupPower: power,
        noise: 0.003,
        seed,
        runsPerBatch: 3,
        earlyRegime: early ? { above: 2.75, factor: 0.5, width: 0.06 } : undefined,
      });
      // the old behaviour: steps as logged, as if there were no warm-up
      if (uncorrected)
        for (const r of runs) {
          delete r.lrSchedule;
          r.warmupSteps = 0;
        }
      const a = analyzeBatchScan(runs, { bootstrap: { samples: 1 }, breakP });
      const ok = a.levels.filter((l) => l.status === 'ok');
      const errs = ok.map((l) => Math.abs(Math.log(l.bCrit / (B_STAR * l.loss ** (-1 / ALPHA_B))))).sort((x, y) => x - y);
      const med = Math.exp(errs[Math.floor(errs.length / 2)] ?? NaN);
      const worst = Math.exp(errs[errs.length - 1] ?? NaN);
      const inv = a.fit ? 1 / a.fit.alphaB : NaN;
      const bad = !(med <= 1.15 && worst <= 1.35 && Math.abs(inv / 6 - 1) <= 0.15 && ok.length >= 5);
      if (bad) fails++;
      rows.push(
        `  power ${power} seed ${seed}: median x${med.toFixed(2)}, worst x${worst.toFixed(2)}, 1/alpha_B ${inv.toFixed(2)}, ${ok.length} ok levels${bad ? '  FAILS' : ''}`,
      );
    }
  }
  console.log(
    `${early ? 'with an early regime (B_crit x0.5 above L 2.75)' : 'one power law'}${uncorrected ? ', progress NOT corrected for warm-up' : ''}, break test p < ${breakP}: ${12 - fails}/12 scans within tolerance`,
  );
  console.log(rows.join('\n'));
}
