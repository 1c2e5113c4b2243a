// Fixture run records for the report tests: a batch-size scan (McCandlish's model with a known B_crit(L)) and an
// IsoFLOP grid (a known Chinchilla law), shaped like the store's records. The generators are analysis/synthetic.ts.
import type { MetricRow, RunRecord } from '../../src/analysis/records.ts';
import { syntheticBatchScan } from '../../src/analysis/synthetic.ts';
import { chinchillaLoss, type ChinchillaParams } from '../../src/analysis/chinchilla.ts';
import { SeededRandom } from '../../src/util/random.ts';

const T = 64;
const VOCAB = 256;

/** The engine's accounting for depth d: d_model = 64 d, Kaplan N = 12 d d_model^2, total adds wte and wpe. */
export function sizeOf(depth: number) {
  const dModel = 64 * depth;
  const kaplan = 12 * depth * dModel * dModel;
  return { depth, dModel, kaplan, total: kaplan + VOCAB * dModel + T * dModel, flopsPerToken: 6 * kaplan + 6 * depth * T * dModel };
}

/** Kaplan eq. 5.3 with B* = 4e5 tokens and alpha_B = 0.2: B_crit ~ 1.6k tokens at L = 3, 12k at L = 2. */
export const SCAN_LAW = { bStar: 4e5, alphaB: 0.2 };

export interface ScanFixture {
  depths?: number[];
  /** sequences per step */
  batchSizes?: number[];
  /** leave out testLoss on every row */
  noTestLoss?: boolean;
  sweep?: string;
  seed?: number;
  /** the B_crit(L) law behind the curves (default SCAN_LAW; a negative alphaB makes B_crit fall as the loss falls) */
  law?: { bStar: number; alphaB: number };
}

export function scanRecords(o: ScanFixture = {}): RunRecord[] {
  const depths = o.depths ?? [2, 4];
  const batchSizes = o.batchSizes ?? [8, 16, 32, 64, 128];
  const out: RunRecord[] = [];
  depths.forEach((depth, di) => {
    const s = sizeOf(depth);
    const floor = 1.7 - 0.15 * di;
    const law = o.law ?? SCAN_LAW;
    const curves = syntheticBatchScan({
      ...law,
      batchTokens: batchSizes.map((b) => b * T),
      lossFloor: floor,
      finalLoss: floor + 0.35,
      evals: 40,
      noise: 0.002,
      seed: (o.seed ?? 0) + di,
    });
    const rng = new SeededRandom(100 + di);
    for (const c of curves) {
      const batch = c.batchTokens / T;
      // a row every step (as the trainer logs), test loss at the eval points; the noise probe's raw per-step
      // estimates put B_simple near B_crit (McCandlish et al.: B_crit ~ B_noise), with per-step scatter
      const metrics: MetricRow[] = [];
      let k = 0;
      const last = c.points[c.points.length - 1].step;
      for (let step = 1; step <= last; step++) {
        while (k + 1 < c.points.length && c.points[k + 1].step <= step) k++;
        const p = c.points[k];
        const loss = step < c.points[0].step ? c.points[0].loss : p.loss;
        const row: MetricRow = {
          step,
          tokens: step * c.batchTokens,
          flops: step * c.batchTokens * s.flopsPerToken,
          trainLoss: loss * 0.995,
          lr: 1e-3,
          gradNorm: 1,
          wallMs: step * 20,
        };
        if (!o.noTestLoss && p.step === step) row.testLoss = p.loss;
        const bSeq = (0.6 * law.bStar * loss ** (-1 / law.alphaB)) / T;
        row.gradSq = 1 + 0.3 * rng.normal();
        row.traceSigma = bSeq * (1 + 0.3 * rng.normal());
        row.bSimple = bSeq;
        row.bSimpleTokens = bSeq * T;
        metrics.push(row);
      }
      out.push(record(`d${depth}-b${batch}-s0`, o.sweep ?? 'scan', s, batch, metrics));
    }
  });
  return out;
}

/** The law behind the grid: the compute-optimal N lies inside the sizes at every budget. */
export const GRID_LAW: ChinchillaParams = { E: 1.3, A: 80, B: 110, alpha: 0.3, beta: 0.3 };

/** An IsoFLOP design: at each budget C, depths 1..6 trained for D = C / (FLOPs per token) tokens. */
export function gridRecords(o: { budgets?: number[]; depths?: number[]; seed?: number; sweep?: string } = {}): RunRecord[] {
  const budgets = o.budgets ?? [1e13, 4e13, 1.6e14];
  const depths = o.depths ?? [1, 2, 3, 4, 5, 6];
  const rng = new SeededRandom(o.seed ?? 7);
  const batch = 32;
  const out: RunRecord[] = [];
  for (const C of budgets) {
    for (const depth of depths) {
      const s = sizeOf(depth);
      const steps = Math.max(4, Math.round(C / s.flopsPerToken / (batch * T)));
      const metrics: MetricRow[] = [];
      const evals = 12;
      const noise = Math.exp(0.01 * rng.normal());
      for (let j = 1; j <= evals; j++) {
        const step = Math.max(1, Math.round(steps ** (j / evals)));
        if (metrics.length && metrics[metrics.length - 1].step === step) continue;
        const tokens = step * batch * T;
        const loss = chinchillaLoss(GRID_LAW, s.kaplan, tokens) * noise;
        metrics.push({ step, tokens, flops: tokens * s.flopsPerToken, trainLoss: loss * 0.99, testLoss: loss, lr: 1e-3, gradNorm: 1, wallMs: step * 20 });
      }
      out.push(record(`d${depth}-c${C.toExponential(0)}-s0`, o.sweep ?? 'grid', s, batch, metrics));
    }
  }
  return out;
}

function record(name: string, sweep: string, s: ReturnType<typeof sizeOf>, batch: number, metrics: MetricRow[]): RunRecord {
  return {
    id: `${sweep}-${name}`,
    name,
    status: 'done',
    sweep,
    model: { nLayer: s.depth, dModel: s.dModel, nHead: s.depth, vocab: VOCAB, context: T },
    paramsKaplan: s.kaplan,
    paramsTotal: s.total,
    batchSize: batch,
    context: T,
    batchTokens: batch * T,
    lr: 1e-3,
    seed: 0,
    metrics,
  };
}
