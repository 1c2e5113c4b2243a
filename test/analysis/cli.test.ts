// The fit and bcrit commands end to end: spawn bin/scaling-lab.js on the Epoch fixture and on a synthetic
// scan, check the JSON, and check that bad input exits 2 with a message and a hint.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticBatchScan } from '../../src/analysis/synthetic.ts';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;
const fixture = new URL('../fixtures/analysis/chinchilla_epoch_svg_extracted.csv', import.meta.url).pathname;
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

const temps: string[] = [];
/** A fresh temp directory, removed when the file's tests end. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `scaling-lab-${prefix}-`));
  temps.push(dir);
  return dir;
}
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

test('fit --json on the Epoch data: params, ci, n, exponents', () => {
  const r = cli('fit', fixture, '--law', 'chinchilla', '--drop-highest', '5', '--bootstrap', '40', '--seed', '1', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.law, 'chinchilla');
  assert.equal(j.n, 240);
  assert.deepEqual(Object.keys(j.params).sort(), ['A', 'B', 'E', 'alpha', 'beta']);
  assert.deepEqual(Object.keys(j.ci).sort(), ['A', 'B', 'E', 'alpha', 'beta']);
  assert.ok(Math.abs(j.params.E - 1.817) < 0.01, `E ${j.params.E}`);
  assert.ok(Math.abs(j.params.alpha - 0.348) < 0.004, `alpha ${j.params.alpha}`);
  for (const k of Object.keys(j.ci)) assert.ok(j.ci[k][0] <= j.params[k] && j.params[k] <= j.ci[k][1], `${k}: ${j.ci[k]}`);
  assert.ok(j.exponents.a > 0.45 && j.exponents.a < 0.56);
  assert.equal(j.accounting.flops, 'given');
  assert.equal(j.columns.c, 'Training FLOP');
});

test('fit --law kaplan prints a table; bad input exits 2 with a hint naming the row and column', () => {
  const dir = tempDir('fit');
  const rows = ['N,D,loss'];
  for (const n of [1e6, 1e7, 1e8]) for (const d of [1e8, 1e9, 1e10]) rows.push(`${n},${d},${(((6.4e13 / n) ** (0.076 / 0.103) + 1.8e13 / d) ** 0.103).toFixed(5)}`);
  writeFileSync(join(dir, 'k.csv'), rows.join('\n'));
  const k = cli('fit', join(dir, 'k.csv'), '--law', 'kaplan', '--bootstrap', '20');
  assert.equal(k.status, 0, k.stderr);
  assert.match(k.stdout, /alphaN/);
  assert.match(k.stdout, /N_opt ~ C\^/);
  const kj = JSON.parse(cli('fit', join(dir, 'k.csv'), '--law', 'kaplan', '--bootstrap', '20', '--json').stdout);
  for (const key of ['a', 'b']) assert.ok(kj.exponents.ci[key][0] <= kj.exponents[key] && kj.exponents[key] <= kj.exponents.ci[key][1], `${key}: ${kj.exponents.ci[key]}`);
  writeFileSync(join(dir, 'bad.csv'), 'N,D,loss\n1e6,1e7,3\n1e6,x,3\n');
  const b = cli('fit', join(dir, 'bad.csv'));
  assert.equal(b.status, 2);
  assert.match(b.stderr, /line 3, column "D": "x" is not a number/);
  assert.match(b.stderr, /hint: /);
  const u = cli('fit', fixture, '--no-such-flag');
  assert.notEqual(u.status, 0);
  assert.match(u.stderr, /unknown option/);
});

test('bcrit --json on a synthetic scan CSV: levels and the B*, alpha_B fit', () => {
  const dir = tempDir('bcrit');
  const runs = syntheticBatchScan({ bStar: 2e5, alphaB: 1 / 6, batchTokens: [4, 8, 16, 32, 64, 128, 256, 512].map((b) => b * 64), finalLoss: 2, noise: 0.001, seed: 2, evals: 60 });
  const lines = ['run,batch_size,step,tokens,loss'];
  for (const r of runs) for (const p of r.points) lines.push(`${r.id},${r.batchTokens / 64},${p.step},${p.tokens},${p.loss}`);
  writeFileSync(join(dir, 'scan.csv'), lines.join('\n'));
  const r = cli('bcrit', join(dir, 'scan.csv'), '--context', '64', '--bootstrap', '100', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(j.levels.length >= 6);
  for (const l of j.levels) for (const k of ['loss', 'sMin', 'eMin', 'bCrit', 'status']) assert.ok(k in l, k);
  assert.ok(Math.abs(j.fit.bStar / 2e5 - 1) < 0.1, `B* ${j.fit.bStar}`);
  assert.ok(Math.abs(j.fit.alphaB * 6 - 1) < 0.1, `alpha_B ${j.fit.alphaB}`);
  assert.equal(j.fit.ci.bStar.length, 2);
  const t = cli('bcrit', join(dir, 'scan.csv'), '--context', '64', '--bootstrap', '20');
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /B_crit\(L\) = B\* \/ L\^\(1\/alpha_B\)/);
  const noCtx = cli('bcrit', join(dir, 'scan.csv'));
  assert.equal(noCtx.status, 2);
  assert.match(noCtx.stderr, /--context/);
});

test('bcrit reads a file store (runs directory) through openStore', async () => {
  const { openStore } = await import('../../src/store/store.ts');
  const dir = tempDir('store');
  const store = await openStore(dir);
  const runs = syntheticBatchScan({ bStar: 2e5, alphaB: 1 / 6, batchTokens: [4, 8, 16, 32, 64, 128].map((b) => b * 64), finalLoss: 2.2, noise: 0, seed: 1, evals: 40 });
  for (const r of runs) {
    const id = r.id.replace(/[^a-zA-Z0-9._-]/g, '-');
    await store.putRun({ id, name: id, paramsKaplan: 1e5, paramsTotal: 2e5, batchSize: r.batchTokens / 64, context: 64, batchTokens: r.batchTokens, warmupSteps: 3, spec: { id } });
    await store.appendMetrics(id, r.points.map((p) => ({ step: p.step, tokens: p.tokens, flops: 0, trainLoss: p.loss, testLoss: p.loss, lr: 1e-3, gradNorm: 1, wallMs: 0 })));
  }
  await store.close();
  const r = cli('bcrit', dir, '--bootstrap', '20', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.batchSizes.length, 6);
  assert.equal(j.batchSizes[0].warmupSteps, 3); // carried by the run record, as the trainer stores it
  assert.ok(j.levels.some((l: { status: string }) => l.status === 'ok'));
});
