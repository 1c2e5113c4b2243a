// Does `plan --next` pick runs that narrow the interval more than the same compute spent otherwise? On synthetic data
// from a known Chinchilla law (Epoch's parameters): a small IsoFLOP design (3 budgets x 4 sizes) is fitted with its
// bootstrap; then k runs are added three ways, each drawn from the same candidate grid (analysis/plan.ts candidateGrid)
// with the same total FLOPs: the ranked ones (rankNextRuns, the exponent a as the target), random candidates, and the
// cheapest candidates. Each augmented set is refitted and bootstrapped; the figure is the width of the 95% interval of
// a = beta / (alpha + beta) (N_opt ~ C^a), and the error of a against the truth, averaged over seeds.
// Run: node --import tsx bench/plan-next.bench.ts [--seeds S] [--bootstrap K] [--next k]
import { bootstrapChinchilla, chinchillaLoss, fitChinchilla, paramsFromX, type ChinchillaParams } from '../src/analysis/chinchilla.ts';
import { candidateGrid, rankNextRuns, type Candidate } from '../src/analysis/plan.ts';
import type { ScalingPoint } from '../src/analysis/records.ts';
import { syntheticIsoFlop } from '../src/analysis/synthetic.ts';
import { quantile } from '../src/analysis/stats.ts';
import { SeededRandom } from '../src/util/random.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SEEDS = flag('--seeds', 3);
const K = flag('--bootstrap', 100);
const NEXT = flag('--next', 6);
const NOISE = 0.02;
const TRUTH: ChinchillaParams = { E: 1.817, A: 482.0, B: 2085.4, alpha: 0.348, beta: 0.366 };
const A_TRUE = TRUTH.beta / (TRUTH.alpha + TRUTH.beta);

function measure(points: ScalingPoint[], seed: number): { width: number; a: number } {
  const fit = fitChinchilla(points);
  const boot = bootstrapChinchilla(points, fit, { samples: K, seed });
  const as = boot.x.map((x) => {
    const p = paramsFromX(x);
    return p.beta / (p.alpha + p.beta);
  });
  return { width: quantile(as, 0.975) - quantile(as, 0.025), a: fit.params.beta / (fit.params.alpha + fit.params.beta) };
}

const run = (c: Candidate, rng: SeededRandom, tag: string): ScalingPoint => ({
  id: `${tag}-${c.n.toPrecision(3)}-${c.d.toPrecision(3)}-${rng.int(1e9)}`,
  n: c.n,
  d: c.d,
  c: c.flops,
  loss: chinchillaLoss(TRUTH, c.n, c.d) * Math.exp(NOISE * rng.normal()),
});

/** Candidates drawn by `pick` among those that still fit in `budget` (total FLOPs), until none does. */
function spend(cands: readonly Candidate[], budget: number, pick: (fits: Candidate[], i: number) => Candidate): Candidate[] {
  const out: Candidate[] = [];
  let left = budget * 1.0001;
  for (let i = 0; i < 10_000; i++) {
    const fits = cands.filter((c) => c.flops <= left);
    if (fits.length === 0) break;
    const c = pick(fits, i);
    out.push(c);
    left -= c.flops;
  }
  return out;
}

const rows: Record<string, { width: number[]; err: number[]; flops: number[]; runs: number[] }> = {};
const add = (k: string, w: number, a: number, f: number, n: number) => {
  rows[k] ??= { width: [], err: [], flops: [], runs: [] };
  rows[k].width.push(w);
  rows[k].err.push(Math.abs(a - A_TRUE));
  rows[k].flops.push(f);
  rows[k].runs.push(n);
};
const t0 = performance.now();
for (let seed = 0; seed < SEEDS; seed++) {
  const base = syntheticIsoFlop(TRUTH, [1e18, 1e19, 1e20], 4, 4, NOISE, seed);
  const fit = fitChinchilla(base);
  const m0 = measure(base, seed);
  add('initial (12 runs)', m0.width, m0.a, 0, 0);
  const cands = candidateGrid(fit.params, 1e18, 1e21, { perDecade: 2, sizes: 5, spread: 4 });
  const { ranked } = rankNextRuns(fit.x, base, fit.diagnostics.rmseLog, { kind: 'exponent' }, cands, NEXT);
  const F = ranked.reduce((s, r) => s + r.flops, 0);
  const rng = new SeededRandom(1000 + seed);
  const sets: Record<string, Candidate[]> = {
    'plan --next (ranked)': ranked,
    'random, same FLOPs': spend(cands, F, (fits) => fits[rng.int(fits.length)]),
    // the cheapest budget's sizes in turn (replicas once all are taken)
    'cheapest, same FLOPs': spend(cands, F, (fits, i) => {
      const low = fits.filter((c) => c.flops === fits.reduce((m, x) => Math.min(m, x.flops), Infinity));
      return low[i % low.length];
    }),
  };
  for (const [name, extra] of Object.entries(sets)) {
    const pts = [...base, ...extra.map((c) => run(c, rng, name.slice(0, 4)))];
    const m = measure(pts, seed);
    add(
      name,
      m.width,
      m.a,
      extra.reduce((s, c) => s + c.flops, 0),
      extra.length,
    );
  }
  console.error(`seed ${seed} done, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
console.log(`truth a = ${A_TRUE.toFixed(4)}; ${SEEDS} seeds, ${K} bootstrap resamples, noise ${NOISE} (log), k = ${NEXT}`);
console.log('design                  runs added  FLOPs added  95% width of a (mean)  |a - truth| (mean)  ranked narrower in  widths per seed');
const ranked = rows['plan --next (ranked)'].width;
for (const [k, r] of Object.entries(rows))
  console.log(
    `${k.padEnd(24)}${mean(r.runs).toFixed(1).padStart(10)}  ${mean(r.flops).toExponential(2).padStart(11)}  ${mean(r.width).toFixed(4).padStart(21)}  ${mean(r.err).toFixed(4).padStart(18)}  ${`${ranked.filter((w, i) => w < r.width[i]).length}/${SEEDS} seeds`.padStart(18)}  ${r.width.map((w) => w.toFixed(4)).join(' ')}`,
  );
