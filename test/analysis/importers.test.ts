// Importing runs from other trainers: the CSV parser on quoted fields, JSONL, column detection and mapping,
// accounting (D = C/6N, C = 6ND), and errors that name the file, row and column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  cellReader,
  dropExcluded,
  filterRows,
  importGroupedPoints,
  importLossCurves,
  importScalingPoints,
  importSummary,
  parseCsv,
  parseJsonl,
  parseTable,
  parseWhere,
} from '../../src/analysis/importers.ts';
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
  assert.deepEqual(
    dr.points.map((p) => p.loss),
    [3, 2],
  );
  assert.equal(dr.dropped, 2);
});

test('points: every problem names the file, row and column', () => {
  throwsInput(
    () => importScalingPoints(parseCsv('N,D,loss\n1e6,1e7,3\n1e6,abc,3\n', 'f.csv')),
    { row: 3, column: 'D' },
    /f\.csv: row at line 3, column "D": "abc" is not a number/,
  );
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
  assert.deepEqual(
    c[0].points.map((p) => p.step),
    [10, 20],
  );
  assert.equal(c[0].points[0].tokens, 2560);
  const t = importLossCurves(parseCsv('id,batch_tokens,iter,tokens,val_loss,warmup_steps\na,512,5,2560,4,100\n', 't.csv'));
  assert.equal(t[0].batchTokens, 512);
  assert.equal(t[0].warmupSteps, 100);
  throwsInput(() => importLossCurves(parseCsv('run,batch_tokens,step,loss\na,512,5,4\na,1024,6,4\n', 'u.csv')), { row: 3 }, /changes batch size/);
});

test('CSV: line numbers after quoted newlines, a trailing comma, text after a closing quote, rows read by column', () => {
  const t = parseCsv('a,b,c\n"x\ny",2,\n3,"q""",4\n', 'l.csv');
  assert.deepEqual(
    t.rows.map((r) => r.line),
    [2, 4],
  );
  assert.deepEqual(t.rows[0].values, { a: 'x\ny', b: '2', c: '' });
  const read = cellReader(t, 'b');
  assert.deepEqual(t.rows.map(read), ['2', 'q"']);
  throwsInput(() => parseCsv('a,b\n"x"y,1\n', 'q.csv'), { row: 2 }, /text after a closing quote/);
  throwsInput(() => parseCsv('', 'e.csv'), {}, /the file is empty/);
});

const athenaFile = new URL('../fixtures/analysis/isoflops_open_athena.csv', import.meta.url).pathname;
const athena = () => parseCsv(readFileSync(athenaFile, 'utf8'), 'isoflops_open_athena.csv');

test('--where: globs with | alternatives, != and numeric comparisons; bad syntax and unknown columns say the fix', () => {
  const t = athena();
  const n = (...w: string[]) => filterRows(t, w.map(parseWhere)).table.rows.length;
  assert.equal(n('experiment=MARIN*'), 258, 'case-insensitive glob');
  assert.equal(n('experiment=marin*|llama*'), 258 + 266);
  assert.equal(n('experiment=marin*', 'experiment!=*dclm*'), 258 - 85);
  assert.equal(n('budget>=1e21') + n('budget<1e21'), 947);
  assert.equal(n('experiment=marin'), 0, 'whole-cell match');
  assert.throws(
    () => parseWhere('experiment'),
    (e: unknown) => e instanceof AnalysisInputError && /not a condition/.test(e.message) && /COLUMN=PATTERN/.test(e.hint),
  );
  throwsInput(() => parseWhere('budget>big'), {}, /"big" is not a number/);
  throwsInput(
    () => filterRows(t, [parseWhere('Experiment=x')]),
    { column: 'Experiment' },
    /isoflops_open_athena\.csv: --where "Experiment=x" names column "Experiment", which the file does not have/,
  );
  throwsInput(
    () => filterRows(t, [parseWhere('experiment>3')]),
    { row: 2, column: 'experiment' },
    /line 2, column "experiment": "epochai_chinchilla__massivetext__chinchilla" is not a number/,
  );
});

test('outlier columns: detected by name, left out unless kept, bad flags name the cell', () => {
  const t = athena();
  const d = dropExcluded(t);
  assert.equal(d.column, 'outlier');
  assert.equal(d.removed, 197);
  assert.equal(d.table.rows.length, 750);
  assert.equal(dropExcluded(t, { keep: true }).table.rows.length, 947);
  const x = parseCsv('N,D,loss,is_outlier\n1,1,1,yes\n1,1,1,\n1,1,1,0\n', 'x.csv');
  assert.equal(dropExcluded(x).removed, 1);
  throwsInput(() => dropExcluded(parseCsv('N,exclude\n1,maybe\n', 'y.csv')), { row: 2, column: 'exclude' }, /"maybe" is neither true nor false/);
  assert.equal(dropExcluded(parseCsv('N,loss\n1,1\n', 'z.csv')).column, undefined);
});

test('groups: the Open-Athena file by experiment, budgets from the budget column, small groups and bad cells get a reason', () => {
  const g = importGroupedPoints(athena(), { group: ['experiment'] });
  assert.equal(g.groups.length, 8);
  assert.match(importSummary(g), /947 rows; 197 flagged in "outlier" left out \(--keep-outliers keeps them\); 8 groups by "experiment"/);
  const marin = g.groups.find((x) => x.label === 'marin_202603__dclm__llama_2')!;
  assert.equal(marin.imp!.points.length, 79);
  assert.equal(marin.imp!.columns.budget, 'budget');
  assert.equal(new Set(marin.imp!.budget).size, 6);
  assert.equal(marin.imp!.accounting.flops, '6ND', 'a budget is not C: C = 6ND');
  const two = importGroupedPoints(athena(), { group: ['experiment', 'condition'], where: [parseWhere('experiment=llama*')] });
  assert.deepEqual(
    two.groups.map((x) => x.label),
    ['llama_3__exp_loss / exp_loss', 'llama_3__raw_loss / raw_loss'],
  );
  throwsInput(() => importGroupedPoints(athena(), { group: ['Experiment'] }), { column: 'Experiment' }, /names column "Experiment".*the columns are "source"/);
  throwsInput(() => importGroupedPoints(athena(), { where: [parseWhere('experiment=nope*')] }), {}, /no row matches --where "experiment=nope\*"/);
  const csv = [
    'exp,N,D,loss',
    ...[1, 2, 3, 4, 5, 6].map((i) => `a,${i}e6,1e9,${3 - i / 10}`),
    'b,1e6,1e9,3',
    'b,2e6,1e9,2.9',
    ...[1, 2, 3, 4, 5, 6].map((i) => `c,${i}e6,${i === 3 ? -1 : 1e9},3`),
  ].join('\n');
  const s = importGroupedPoints(parseCsv(csv, 's.csv'), { group: ['exp'], minRuns: 5 });
  assert.ok(s.groups[0].imp);
  assert.equal(s.groups[1].imp, null);
  assert.match(s.groups[1].reason!, /2 runs; a fit needs at least 5/);
  assert.match(s.groups[2].reason!, /s\.csv: row at line 12, column "D": -1 is not positive/);
  // no group column: one group, labelled by the file's basename, never a path
  assert.equal(importGroupedPoints(parseCsv(csv.replace(/,-1,/, ',1e9,'), '/a/b/s.csv')).groups[0].label, 's.csv');
});

test('200k rows (past the ~120k where spread arguments throw RangeError): parsed, filtered, grouped', () => {
  const lines = ['exp,N,D,loss,outlier'];
  for (let i = 0; i < 200_000; i++) lines.push(`e${i % 2},${1e6 + i},${2e9 - i},${(3 - i / 1e6).toFixed(6)},${i % 100 === 0}`);
  const t = parseCsv(lines.join('\n'), 'big.csv');
  assert.equal(t.rows.length, 200_000);
  const g = importGroupedPoints(t, { group: ['exp'], where: [parseWhere('N>=1000100')] });
  assert.equal(g.filtered, 100);
  assert.equal(g.exclude.removed, 1999);
  assert.deepEqual(
    g.groups.map((x) => [x.label, x.imp!.points.length]),
    [
      ['e1', 99_950],
      ['e0', 97_951],
    ],
    'groups in order of first appearance; e0 holds the flagged rows',
  );
  assert.equal(g.groups[1].imp!.points[0].id, 'line 104', 'ids name the line: row i = 102 of e0');
});

test('published column names: model_size/n_tokens, N/D/C/L, Training FLOPs, a budget column; JSONL flags as booleans', () => {
  const a = importScalingPoints(parseCsv('model_size,n_tokens,final_val_loss,flop_budget\n1e8,2e9,3.1,1e18\n', 'a.csv'));
  assert.deepEqual(a.columns, { n: 'model_size', d: 'n_tokens', c: undefined, loss: 'final_val_loss', budget: 'flop_budget' });
  assert.deepEqual(a.budget, [1e18]);
  const b = importScalingPoints(parseCsv('N,D,C,L\n1e8,2e9,1.3e18,3.1\n', 'b.csv'));
  assert.deepEqual([b.columns.loss, b.points[0].c, b.accounting.flops], ['L', 1.3e18, 'given']);
  const c = importScalingPoints(parseCsv('Model Size,Training FLOPs,loss\n1e8,1.2e18,3\n', 'c.csv'));
  assert.equal(c.points[0].d, 2e9);
  const j = importGroupedPoints(
    parseJsonl('{"family":"a","N":1e6,"D":1e9,"loss":3,"exclude":true}\n{"family":"a","N":2e6,"D":1e9,"loss":2.9,"exclude":false}\n', 'j.jsonl'),
    { group: ['family'], minRuns: 1 },
  );
  assert.deepEqual([j.exclude.column, j.exclude.removed, j.groups[0].imp!.points.length], ['exclude', 1, 1]);
});
