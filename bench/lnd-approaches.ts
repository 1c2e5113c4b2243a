// Every L(N, D) approach side by side (Approach 2, Approach 3, VPNLS) with bootstrap intervals, the disagreement
// table and the held-out-budget check, on Epoch's Chinchilla reconstruction (budgets clustered from C) and the
// seven Open-Athena experiments (budget column). The figures in docs/LOG.md of 2026-11-29.
//   node --import tsx bench/lnd-approaches.ts [resamples per approach, default 200]
import { readFileSync } from 'node:fs';
import { parseCsv, importScalingPoints } from '../src/analysis/importers.ts';
import { compareApproaches, type Est } from '../src/analysis/approaches.ts';
import { openAthenaExperiments } from '../test/analysis/open-athena-data.ts';
import { formatEstimate } from '../src/util/format.ts';

const f = new URL('../test/fixtures/analysis/chinchilla_epoch_svg_extracted.csv', import.meta.url).pathname;
const sets = [
  {
    name: 'epoch-svg (drop 5)',
    points: importScalingPoints(parseCsv(readFileSync(f, 'utf8'), f), { dropHighest: 5 }).points,
    budget: undefined as number[] | undefined,
  },
  ...openAthenaExperiments(),
];
const R = Number(process.argv[2] ?? 200);
const fmt = (e: Est | undefined): string => (e ? formatEstimate(e.estimate, e.ci) : '-');
for (const s of sets) {
  const t = performance.now();
  const c = compareApproaches(s.points, { budget: s.budget, bootstrap: R, label: s.name });
  console.log(`## ${s.name} (${s.points.length} runs) ${(performance.now() - t).toFixed(0)} ms`);
  for (const a of c.approaches)
    console.log(`  ${a.label.padEnd(32)} ${a.fitted ? '' : a.reason} a ${fmt(a.a)} alpha ${fmt(a.alpha)} beta ${fmt(a.beta)} ${a.flags.join('; ')}`);
  for (const d of c.disagreements) console.log('  DISAGREE', d.text);
  for (const h of c.heldOut)
    console.log(
      `  held-out ${h.method} C ${h.heldBudget.toPrecision(3)}: ${h.predictions.length} runs, mean |err| ${h.meanAbsPctError.toFixed(2)}% max ${h.maxAbsPctError.toFixed(2)}% bias ${h.meanPctBias.toFixed(2)}%`,
    );
  if (c.heldOutReason) console.log('  held-out:', c.heldOutReason);
}
