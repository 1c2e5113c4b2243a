// Loads the Open-Athena IsoFLOP collection (test/fixtures/analysis/isoflops_open_athena.csv) per experiment:
// rows with outlier False, N = params, D = tokens, C = 6ND, and the authors' budget per run. Shared by the
// L(N, D) tests and bench/lnd-fit.bench.ts; the CLI's own grouped import lives in src/analysis/importers.ts.
import { readFileSync } from 'node:fs';
import { parseCsv } from '../../src/analysis/importers.ts';
import type { ScalingPoint } from '../../src/analysis/records.ts';

export const OPEN_ATHENA_FILE = new URL('../fixtures/analysis/isoflops_open_athena.csv', import.meta.url).pathname;

export interface Experiment {
  /** experiment, with the condition for Llama 3 (e.g. llama_3__raw_loss) */
  name: string;
  points: ScalingPoint[];
  /** the authors' FLOP budget per point, same order */
  budget: number[];
}

export function openAthenaExperiments(options: { keepOutliers?: boolean } = {}): Experiment[] {
  const t = parseCsv(readFileSync(OPEN_ATHENA_FILE, 'utf8'), OPEN_ATHENA_FILE);
  const by = new Map<string, Experiment>();
  for (const { line, values: v } of t.rows) {
    if (!options.keepOutliers && v.outlier === 'True') continue;
    const name = String(v.experiment);
    let e = by.get(name);
    if (!e) by.set(name, (e = { name, points: [], budget: [] }));
    const n = Number(v.params);
    const d = Number(v.tokens);
    e.points.push({ id: `line ${line}`, n, d, c: 6 * n * d, loss: Number(v.loss) });
    e.budget.push(Number(v.budget));
  }
  return [...by.values()];
}
