// Two trainers in one report (issue 17 item 5): a file store holding a batch-size scan of our trainer and one of an
// external trainer (RunRecord.trainer set), each from its own known B_crit(L) law, is never pooled into one scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import { syntheticBatchScan } from '../../src/analysis/synthetic.ts';
import type { MetricRow, RunRecord } from '../../src/analysis/records.ts';
import { curvesFromRuns, groupCurves } from '../../src/analysis/bcrit.ts';
import { buildReport } from '../../src/report/build.ts';
import { loadReportInput } from '../../src/report/source.ts';
import { drawn } from './helpers.ts';
import { sizeOf } from './fixtures.ts';

const T = 64;
const OURS = { bStar: 4e5, alphaB: 0.2 };
const THEIRS = { bStar: 1.2e5, alphaB: 0.3 };

/**
 * One trainer's scan as stored runs: 6 batch sizes x 2 LRs (an envelope), a 20-step linear warm-up logged on every
 * warm-up row, 40 log-spaced evals with 0.3% noise; the rows carry the LR, test loss at evals only.
 */
function scan(law: { bStar: number; alphaB: number }, trainer: string | undefined, seed: number): RunRecord[] {
  const s = sizeOf(2);
  const curves = syntheticBatchScan({
    ...law,
    batchTokens: [8, 16, 32, 64, 128, 256].map((b) => b * T),
    finalLoss: 2.3,
    evals: 40,
    noise: 0.003,
    warmupSteps: 20,
    runsPerBatch: 2,
    seed,
  });
  return curves.map((c): RunRecord => {
    const lrAt = new Map((c.lrSchedule ?? []).map((p) => [p.step, p.lr]));
    const evals = new Map(c.points.map((p) => [p.step, p.loss]));
    const steps = [...new Set([...lrAt.keys(), ...evals.keys()])].sort((a, b) => a - b);
    const metrics = steps.map((step): MetricRow => {
      const row: MetricRow = {
        step,
        tokens: step * c.batchTokens,
        flops: step * c.batchTokens * s.flopsPerToken,
        trainLoss: NaN,
        lr: lrAt.get(step) ?? c.lr!,
        gradNorm: NaN,
        wallMs: step,
      };
      if (evals.has(step)) row.testLoss = evals.get(step);
      return row;
    });
    const batch = c.batchTokens / T;
    const name = `d2-b${batch}-${c.id.split('-')[1]}`;
    return {
      id: `${trainer ?? 'ours'}-${name}`,
      name,
      status: 'done',
      sweep: 'scan',
      paramsKaplan: s.kaplan,
      paramsTotal: s.total,
      batchSize: batch,
      context: T,
      batchTokens: c.batchTokens,
      lr: c.lr,
      warmupSteps: 20,
      seed: 0,
      schedule: 'constant',
      data: 'gutenberg/byte',
      ...(trainer !== undefined && { trainer }),
      metrics,
    };
  });
}

test('a store of two trainers: two scans labelled by trainer, each recovering its own law; both named in the learning curves', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'trainers-'));
  try {
    const store = await openStore(join(tmp, 'runs'));
    try {
      for (const { metrics, status, ...meta } of [...scan(OURS, undefined, 1), ...scan(THEIRS, 'nanogpt', 2)]) {
        await store.putRun({ ...meta, spec: { name: meta.name, trainer: meta.trainer ?? null } });
        await store.appendMetrics(meta.id, metrics);
        await store.setStatus(meta.id, status);
      }
    } finally {
      await store.close();
    }
    const input = await loadReportInput(join(tmp, 'runs'));
    assert.equal(input.records.filter((r) => r.trainer === 'nanogpt').length, 12, 'the file store keeps the trainer field');
    // bcrit on a store groups the same way: same sweep, size, schedule and data, two trainers -> two scans
    const groups = groupCurves(curvesFromRuns(input.records));
    assert.deepEqual(groups.map((g) => g.label).sort(), ['N=393216 · nanogpt', 'N=393216 · scaling-lab']);
    const r = await buildReport(input, { bootstrap: 40, seed: 1 });
    assert.deepEqual(
      r.data.groups.map((g) => [g.label, g.trainer, g.runs.length]),
      [
        ['390K · nanogpt', 'nanogpt', 12],
        ['390K · scaling-lab', 'scaling-lab', 12],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    assert.equal(r.headline.bcrit.length, 2);
    for (const [trainer, law] of [
      ['scaling-lab', OURS],
      ['nanogpt', THEIRS],
    ] as const) {
      const b = r.headline.bcrit.find((x) => x.trainer === trainer)!;
      assert.ok(b, `a law for ${trainer}`);
      assert.match(b.size, new RegExp(trainer));
      // B_crit at L = 2.6, inside both scans' levels: within 25% of the law it was generated from
      const at = (bStar: number, alphaB: number) => bStar * 2.6 ** (-1 / alphaB);
      const ratio = at(b.bStar, b.alphaB) / at(law.bStar, law.alphaB);
      assert.ok(ratio > 0.8 && ratio < 1.25, `${trainer}: B_crit(2.6) ${at(b.bStar, b.alphaB)} vs truth ${at(law.bStar, law.alphaB)}`);
      assert.ok(Math.abs(b.alphaB - law.alphaB) / law.alphaB < 0.25, `${trainer}: alpha_B ${b.alphaB} vs ${law.alphaB}`);
    }
    // two different laws: the pooled comparison says the trainers do not agree, naming them
    assert.ok(r.headline.bcritPooled, 'a pooled law over the two scans');
    assert.equal(r.headline.bcritPooled.agree, false);
    assert.match(r.html, /do <b>not<\/b> agree with one law within their intervals \(trainers scaling-lab, nanogpt\)/);
    const curves = drawn(r.charts, 'learning-curves');
    assert.match(curves.svg!, /nanogpt/);
    assert.match(curves.svg!, /scaling-lab/);
    assert.match(curves.svg!, /Trainer/, 'a legend for the dashes');
    assert.match(curves.caption, /dashed by trainer \(scaling-lab: solid, nanogpt: dashed\)/);
    const scanSvg = drawn(r.charts, 'batch-scan').svg!;
    assert.match(scanSvg, /Batch Size Scan - 390K Params \(nanogpt\)/);
    assert.match(scanSvg, /Batch Size Scan - 390K Params \(scaling-lab\)/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('one trainer only: labels and the learning curves are as before (no trainer named for our own runs)', async () => {
  const records = scan(OURS, undefined, 1);
  const r = await buildReport({ source: 'ours', records }, { bootstrap: 10, seed: 1, render: false });
  assert.deepEqual(
    r.data.groups.map((g) => g.label),
    ['390K'],
  );
  const spec = JSON.stringify(drawn(r.charts, 'learning-curves').spec);
  assert.doesNotMatch(spec, /strokeDash/);
});

test('report FILE on a W&B export reads it as import does: test loss at eval rows, the sidecar for context, N and seeds', async () => {
  const input = await loadReportInput('test/fixtures/external-logs/wandb-d1-torch.csv');
  assert.equal(input.curves!.length, 9);
  assert.equal(input.lossColumn, 'eval/loss');
  const b16 = input.curves!.find((c) => c.id === 'd1-b16-s1-t1.5M-lr1.41e-3')!;
  assert.deepEqual([b16.batchTokens, b16.n, b16.seed, b16.warmupSteps, b16.points.length, b16.lrSchedule!.length], [1024, 49152, 1, 20, 147, 147]);
  assert.match(input.importNotes!.join('\n'), /a W&B history export, 9 runs \(with wandb-d1-torch\.csv\.meta\.json\)/);
});
