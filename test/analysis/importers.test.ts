// Importing runs from other trainers: the CSV parser on quoted fields, JSONL, column detection and mapping,
// accounting (D = C/6N, C = 6ND), and errors that name the file, row and column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importLossCurves, importScalingPoints, parseCsv, parseJsonl, parseTable } from '../../src/analysis/importers.ts';
import { AnalysisInputError } from '../../src/analysis/errors.ts';

const throwsInput = (fn: () => unknown, where: { row?: number; column?: string }, message: RegExp): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AnalysisInputError, String(e));
    assert.match(e.message, message);
    assert.ok(e.hint.length > 0);
    if (where.row !== undefined) assert.equal(e.row, where.row);
    if (where.column !== undefined) assert.equal(e.column, where.column);
    return true;
  });
};

test('CSV: quoted fields with commas, quotes and newlines; CRLF; BOM; blank lines', () => {
  const t = parseCsv('\ufeffname,note,loss\r\n"a, b","say ""hi""",2.5\r\n\r\nc,"two\nlines",3\n', 'x.csv');
  assert.deepEqual(t.columns, ['name', 'note', 'loss']);
  assert.equal(t.rows.length, 2);
  assert.deepEqual(t.rows[0].values, { name: 'a, b', note: 'say "hi"', loss: '2.5' });
  assert.equal(t.rows[1].values.note, 'two\nlines');
  assert.equal(t.rows[0].line, 2);
  assert.equal(t.rows[1].line, 4);
  throwsInput(() => parseCsv('a,b\n1,2,3\n', 'x.csv'), { row: 2 }, /3 fields, the header has 2/);
  throwsInput(() => parseCsv('a,b\n"1,2\n', 'x.csv'), { row: 2 }, /never closed/);
  throwsInput(() => parseCsv('a,a\n1,2\n', 'x.csv'), { column: 'a' }, /appears twice/);
});

test('JSONL: one object per line, errors name the line', () => {
  const t = parseJsonl('{"N": 1e6, "D": 2e7, "loss": 3.1}\n\n{"N": 2e6, "D": 2e7, "loss": 2.9, "extra": true}\n', 'r.jsonl');
  assert.equal(t.rows.length, 2);
  assert.deepEqual(t.columns, ['N', 'D', 'loss', 'extra']);
  throwsInput(() => parseJsonl('{"a": 1}\n[1]\n', 'r.jsonl'), { row: 2 }, /expected a JSON object/);
  throwsInput(() => parseJsonl('{"a": 1}\n{oops\n', 'r.jsonl'), { row: 2 }, /not valid JSON/);
  assert.equal(parseTable('{"a": 1}', 'z.ndjson').rows.length, 1);
});

test('points: detection by common names, D = C/(6N) or C = 6ND, mapping flags, conventions', () => {
  const csv = 'Model Size,Training FLOP,loss\n1e6,6e13,3.5\n2e6,1.2e14,3.2\n';
  const a = importScalingPoints(parseCsv(csv, 'e.csv'));
  assert.deepEqual(a.columns, { n: 'Model Size', d: undefined, c: 'Training FLOP', loss: 'loss' });
  assert.equal(a.points[0].d, 1e7); // 6e13 / (6 x 1e6)
  assert.equal(a.accounting.flops, 'given');
  const b = importScalingPoints(parseCsv('params,tokens,val_loss,run\n1e6,1e7,3.5,r1\n', 'b.csv'), { nConvention: 'kaplan' });
  assert.equal(b.points[0].c, 6e13);
  assert.equal(b.points[0].id, 'r1');
  assert.deepEqual(b.accounting, { n: 'kaplan', flops: '6ND' });
  const m = importScalingPoints(parseCsv('p,t,l\n1e6,1e7,3.5\n', 'm.csv'), { columns: { n: 'p', d: 't', loss: 'l' } });
  assert.equal(m.points[0].n, 1e6);
  // exact names N, D, C, loss win; --flops-6nd ignores C
  const x = importScalingPoints(parseCsv('N,D,C,loss\n1e6,1e7,7e13,3\n', 'x.csv'), { flops: '6ND' });
  assert.equal(x.points[0].c, 6e13);
  // drop the k highest losses
  const dr = importScalingPoints(parseCsv('N,D,loss\n1,1,5\n1,1,4\n1,1,3\n1,1,2\n', 'd.csv'), { dropHighest: 2 });
  assert.deepEqual(dr.points.map((p) => p.loss), [3, 2]);
  assert.equal(dr.dropped, 2);
});

test('points: every problem names the file, row and column', () => {
  throwsInput(() => importScalingPoints(parseCsv('N,D,loss\n1e6,1e7,3\n1e6,abc,3\n', 'f.csv')), { row: 3, column: 'D' }, /f\.csv: row at line 3, column "D": "abc" is not a number/);
  throwsInput(() => importScalingPoints(parseCsv('N,D,loss\n1e6,1e7,-3\n', 'f.csv')), { row: 2, column: 'loss' }, /not positive/);
  throwsInput(() => importScalingPoints(parseCsv('N,D,loss\n1e6,,3\n', 'f.csv')), { row: 2, column: 'D' }, /is not a number/);
  throwsInput(() => importScalingPoints(parseCsv('N,D,lossy\n1,1,1\n', 'f.csv')), { column: 'loss' }, /no column for loss/);
  throwsInput(() => importScalingPoints(parseCsv('N,loss\n1,1\n', 'f.csv')), { column: 'D' }, /neither a D/);
  throwsInput(() => importScalingPoints(parseCsv('N,D,loss\n1,1,1\n', 'f.csv'), { columns: { loss: 'val' } }), { column: 'val' }, /no column "val"/);
  throwsInput(() => importScalingPoints(parseCsv('N,D,loss\n1,1,1\n', 'f.csv'), { minRows: 6 }), {}, /f\.csv: 1 usable rows; the fit needs at least 6/);
});

test('loss curves: batch_tokens, or batch_size with a context; runs grouped and sorted by step', () => {
  const csv = 'run,batch_size,step,loss\nr1,4,20,3.0\nr1,4,10,3.5\nr2,8,10,3.4\n';
  throwsInput(() => importLossCurves(parseCsv(csv, 's.csv')), { column: 'batch_size' }, /no context length/);
  const c = importLossCurves(parseCsv(csv, 's.csv'), { context: 64 });
  assert.equal(c.length, 2);
  assert.equal(c[0].batchTokens, 256);
  assert.deepEqual(c[0].points.map((p) => p.step), [10, 20]);
  assert.equal(c[0].points[0].tokens, 2560);
  const t = importLossCurves(parseCsv('id,batch_tokens,iter,tokens,val_loss,warmup_steps\na,512,5,2560,4,100\n', 't.csv'));
  assert.equal(t[0].batchTokens, 512);
  assert.equal(t[0].warmupSteps, 100);
  throwsInput(() => importLossCurves(parseCsv('run,batch_tokens,step,loss\na,512,5,4\na,1024,6,4\n', 'u.csv')), { row: 3 }, /changes batch size/);
});
