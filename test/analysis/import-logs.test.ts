// Training logs of other trainers (issue 17 item 2): W&B history exports (CSV and wandb-history.jsonl), a nanoGPT-style
// CSV with train rows every step and eval rows every k, the sidecar, and the errors that name the file, line and flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importLossCurves, parseCsv, parseTable } from '../../src/analysis/importers.ts';
import { importTrainingLog, parseLogMeta } from '../../src/analysis/training-log.ts';
import { AnalysisInputError } from '../../src/analysis/errors.ts';

const dir = new URL('../fixtures/external-logs/', import.meta.url).pathname;
const read = (name: string) => parseTable(readFileSync(dir + name, 'utf8'), name);
const source = parseCsv(readFileSync(new URL('../fixtures/bcrit/scan-d1-torch.csv', import.meta.url).pathname, 'utf8'), 'scan-d1-torch.csv');

const throwsInput = (fn: () => unknown, message: RegExp, hint: RegExp, row?: number): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AnalysisInputError, String(e));
    assert.match(e.message, message);
    assert.match(e.hint, hint);
    if (row !== undefined) assert.equal(e.row, row);
    return true;
  });
};

test('W&B export CSV: recognised by _step, columns mapped by default, train and eval rows at one global step merged', () => {
  const meta = parseLogMeta(readFileSync(dir + 'wandb-d1-torch.csv.meta.json', 'utf8'), 'wandb-d1-torch.csv.meta.json');
  const imp = importTrainingLog(read('wandb-d1-torch.csv'), { context: meta.context, runMeta: (r) => meta.runs?.[r] });
  assert.equal(imp.format, 'wandb');
  assert.deepEqual(
    [imp.columns.step, imp.columns.testLoss, imp.columns.trainLoss, imp.columns.lr, imp.columns.tokens, imp.columns.run, imp.columns.runtime],
    ['trainer/global_step', 'eval/loss', 'train/loss', 'train/lr', 'train/tokens', 'name', '_runtime'],
  );
  assert.equal(imp.runs.length, 9);
  assert.equal(imp.skipped, 0);
  // every eval row of the source comes back once, with its train loss, LR and tokens, at the trainer's step
  const rows = imp.runs.flatMap((r) => r.rows.map((x) => ({ run: r.name, batch: r.batchTokens, ...x })));
  assert.equal(rows.length, source.rows.length);
  for (const [i, s] of source.rows.entries()) {
    const v = s.values as Record<string, string>;
    const r = rows[i];
    assert.deepEqual(
      [r.run, r.step, r.tokens, r.testLoss, r.trainLoss, r.lr, r.batch],
      [v.run, Number(v.step), Number(v.tokens), Number(v.loss), Number(v.train_loss), Number(v.lr), Number(v.batch_tokens)],
    );
  }
  // the batch size came from train/tokens / step, the context from the sidecar
  const b8 = imp.runs.find((r) => r.name === 'd1-b8-s0-t1.5M')!;
  assert.deepEqual([b8.batchTokens, b8.batchSize, b8.context, b8.evals, b8.lines], [512, 8, 64, 293, [2, 587]]);
  assert.equal(b8.rows[0].wallMs, 500, '_runtime is seconds');
});

test("W&B's wandb-history.jsonl (only the keys logged in each call) reads the same as its CSV export", () => {
  const a = importTrainingLog(read('wandb-history-d1-b32.jsonl'), { batchSize: 32, context: 64 });
  assert.equal(a.format, 'wandb');
  assert.equal(a.runs.length, 1);
  assert.equal(a.runs[0].name, 'wandb-history-d1-b32', 'no run column: the run is named after the file');
  const b = importTrainingLog(read('wandb-d1-torch.csv'), { context: 64 }).runs.find((r) => r.name === 'd1-b32-s0-t1.5M-lr2e-3')!;
  assert.deepEqual(
    a.runs[0].rows.map((r) => [r.step, r.testLoss, r.trainLoss, r.lr, r.tokens]),
    b.rows.map((r) => [r.step, r.testLoss, r.trainLoss, r.lr, r.tokens]),
  );
});

test('nanoGPT-style CSV: a train row every step, val_loss every 10 steps with empty cells between, "loss" read as train loss', () => {
  const t = read('nanogpt-d1-b16.csv');
  const imp = importTrainingLog(t, { batchSize: 16, context: 64 });
  assert.equal(imp.format, 'log');
  assert.deepEqual([imp.columns.step, imp.columns.trainLoss, imp.columns.testLoss, imp.columns.runtime], ['iter', 'loss', 'val_loss', 'time_s']);
  const r = imp.runs[0];
  assert.equal(r.rows.length, 150);
  assert.equal(r.evals, 15);
  assert.deepEqual(
    r.rows.filter((x) => x.testLoss !== undefined).map((x) => x.step),
    [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150],
  );
  assert.ok(r.rows.every((x) => Number.isFinite(x.trainLoss) && x.lr > 0 && x.tokens === x.step * 1024));
  // the same file through the curve importer (report FILE, bcrit FILE): the eval rows only
  const curves = importLossCurves(parseCsv(`run,batch_tokens,${readFileSync(dir + 'nanogpt-d1-b16.csv', 'utf8').replace(/\n(?=.)/g, '\nx,1024,')}`, 'n.csv'), {
    columns: { loss: 'val_loss', step: 'iter' },
  });
  assert.equal(curves[0].points.length, 15);
  assert.equal(curves[0].lrSchedule!.length, 150, 'the LR of every row, evals or not');
});

test('missing batch size, context or loss: the error names the file, the lines and the flags that supply them', () => {
  const t = read('nanogpt-d1-b16.csv');
  throwsInput(() => importTrainingLog(t), /nanogpt-d1-b16\.csv: run "nanogpt-d1-b16" \(lines 2-151\): no batch size/, /--batch N .* --context T/, 2);
  throwsInput(() => importTrainingLog(t, { batchSize: 16 }), /16 sequences per step, but no context length/, /--context T/, 2);
  throwsInput(() => importTrainingLog(parseCsv('step,acc\n1,0.5\n', 'a.csv')), /a\.csv: no loss column/, /--test-loss-column .* --train-loss-column/);
  throwsInput(
    () => importTrainingLog(parseCsv('step,loss\n1,\n2,NaN\n', 'e.csv')),
    /e\.csv: no usable rows: lines 2-3 hold no loss value in "loss"/,
    /training log/,
    2,
  );
  throwsInput(
    () => importTrainingLog(parseCsv('step,loss\n1,3\n2.5,2.9\n', 's.csv'), { batchSize: 1, context: 1 }),
    /line 3, column "step": "2.5" is not a step/,
    /--step-column/,
    3,
  );
  throwsInput(
    () => importTrainingLog(parseCsv('step,loss\n1,3\n2,abc\n', 'b.csv'), { batchSize: 1, context: 1 }),
    /line 3, column "loss": "abc" is not a number/,
    /fix/,
    3,
  );
  // a mapped column that is not there names the columns there are
  throwsInput(
    () => importTrainingLog(t, { columns: { testLoss: 'eval' } }),
    /no column "eval" \(mapped to test loss\); the columns are "iter", "loss"/,
    /header name/,
  );
});

test('sidecar: the keys the flags take, per-run entries, and errors naming the key', () => {
  const m = parseLogMeta('{"batch": 8, "context": 64, "params": 49152, "nConvention": "kaplan", "runs": {"a": {"seed": 1}}}', 'x.meta.json');
  assert.deepEqual(m, { batch: 8, context: 64, params: 49152, nConvention: 'kaplan', runs: { a: { seed: 1 } } });
  throwsInput(() => parseLogMeta('{"batchsize": 8}', 'x.meta.json'), /x\.meta\.json: the sidecar: unknown key "batchsize"/, /the keys are batch, context/);
  throwsInput(() => parseLogMeta('{"context": 0}', 'x.meta.json'), /"context" is 0, expected a positive integer/, /fix/);
  throwsInput(() => parseLogMeta('{"runs": {"a": {"runs": {}}}}', 'x.meta.json'), /runs\["a"\]: unknown key "runs"/, /keys/);
  throwsInput(() => parseLogMeta('[1]', 'x.meta.json'), /not a JSON object/, /batch/);
});
