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
  const r = cli('fit', fixture, '--law', 'chinchilla', '--drop-highest', '5', '--bootstrap', '40', '--bootstrap-seed', '1', '--json');
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
  for (const n of [1e6, 1e7, 1e8])
    for (const d of [1e8, 1e9, 1e10]) rows.push(`${n},${d},${(((6.4e13 / n) ** (0.076 / 0.103) + 1.8e13 / d) ** 0.103).toFixed(5)}`);
  writeFileSync(join(dir, 'k.csv'), rows.join('\n'));
  const k = cli('fit', join(dir, 'k.csv'), '--law', 'kaplan', '--bootstrap', '20');
  assert.equal(k.status, 0, k.stderr);
  assert.match(k.stdout, /alphaN/);
  assert.match(k.stdout, /N_opt ~ C\^/);
  const kj = JSON.parse(cli('fit', join(dir, 'k.csv'), '--law', 'kaplan', '--bootstrap', '20', '--json').stdout);
  for (const key of ['a', 'b'])
    assert.ok(kj.exponents.ci[key][0] <= kj.exponents[key] && kj.exponents[key] <= kj.exponents.ci[key][1], `${key}: ${kj.exponents.ci[key]}`);
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
  const runs = syntheticBatchScan({
    bStar: 2e5,
    alphaB: 1 / 6,
    batchTokens: [4, 8, 16, 32, 64, 128, 256, 512].map((b) => b * 64),
    finalLoss: 2,
    noise: 0.001,
    seed: 2,
    evals: 60,
  });
  const lines = ['run,batch_size,step,tokens,loss'];
  for (const r of runs) for (const p of r.points) lines.push(`${r.id},${r.batchTokens / 64},${p.step},${p.tokens},${p.loss}`);
  writeFileSync(join(dir, 'scan.csv'), lines.join('\n'));
  // no lr column and no warm-up: the analysis cannot measure progress and says what to pass
  const noWarm = cli('bcrit', join(dir, 'scan.csv'), '--context', '64', '--bootstrap', '20');
  assert.equal(noWarm.status, 2);
  assert.match(noWarm.stderr, /--warmup-steps/);
  const r = cli('bcrit', join(dir, 'scan.csv'), '--context', '64', '--warmup-steps', '0', '--bootstrap', '100', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(j.levels.length >= 6);
  for (const l of j.levels) for (const k of ['loss', 'sMin', 'eMin', 'bCrit', 'status']) assert.ok(k in l, k);
  // B* is the law at L = 1, far outside the levels measured (L ~2.1-2.9): judge the law where it was measured
  const at = (L: number) => j.fit.bStar * L ** (-1 / j.fit.alphaB);
  for (const L of [2.2, 2.5, 2.8]) assert.ok(Math.abs(at(L) / (2e5 * L ** -6) - 1) < 0.05, `B_crit(${L}) ${at(L)}`);
  assert.ok(Math.abs(j.fit.alphaB * 6 - 1) < 0.1, `alpha_B ${j.fit.alphaB}`);
  assert.equal(j.fit.ci.bStar.length, 2);
  const t = cli('bcrit', join(dir, 'scan.csv'), '--context', '64', '--warmup-steps', '0', '--bootstrap', '20');
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
  const runs = syntheticBatchScan({
    bStar: 2e5,
    alphaB: 1 / 6,
    batchTokens: [4, 8, 16, 32, 64, 128].map((b) => b * 64),
    finalLoss: 2.2,
    noise: 0,
    seed: 1,
    evals: 40,
  });
  for (const r of runs) {
    const id = r.id.replace(/[^a-zA-Z0-9._-]/g, '-');
    await store.putRun({
      id,
      name: id,
      paramsKaplan: 1e5,
      paramsTotal: 2e5,
      batchSize: r.batchTokens / 64,
      context: 64,
      batchTokens: r.batchTokens,
      warmupSteps: 3,
      spec: { id },
    });
    await store.appendMetrics(
      id,
      r.points.map((p) => ({ step: p.step, tokens: p.tokens, flops: 0, trainLoss: p.loss, testLoss: p.loss, lr: 1e-3, gradNorm: 1, wallMs: 0 })),
    );
  }
  await store.close();
  const r = cli('bcrit', dir, '--bootstrap', '20', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.batchSizes.length, 6);
  assert.equal(j.batchSizes[0].transientSteps, 1); // the logged LR is at its peak from step 1, whatever the record's warm-up says
  assert.ok(j.levels.some((l: { status: string }) => l.status === 'ok'));
});

const athena = new URL('../fixtures/analysis/isoflops_open_athena.csv', import.meta.url).pathname;

test('fit --group on the Open-Athena file: one fit per experiment, outliers left out and counted, --where filters', () => {
  const r = cli('fit', athena, '--group', 'experiment', '--where', 'experiment=marin_202603__comma*|marin_202603__dclm*', '--bootstrap', '0', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(
    j.groups.map((g: { label: string }) => g.label),
    ['marin_202603__comma__llama_2', 'marin_202603__dclm__llama_2'],
  );
  assert.equal(j.import.rows, 947);
  assert.equal(j.import.filtered, 947 - 170);
  assert.deepEqual(j.import.exclude, { column: 'outlier', flagged: 11, removed: 11, kept: false });
  for (const g of j.groups) {
    assert.equal(g.fitted, true);
    assert.ok(g.params.alpha > 0 && g.params.beta > 0, JSON.stringify(g.params));
    assert.equal(g.columns.budget, 'budget');
  }
  assert.equal(j.groups[1].n, 79);
  const t = cli('fit', athena, '--group', 'experiment', '--where', 'experiment=marin_202603__dclm*', '--bootstrap', '0', '--keep-outliers');
  assert.equal(t.status, 0, t.stderr);
  assert.match(
    t.stdout,
    /947 rows; 862 left out by --where 'experiment=marin_202603__dclm\*'; 6 flagged in "outlier" kept \(--keep-outliers\); 1 group by "experiment"/,
  );
  assert.match(t.stdout, /== marin_202603__dclm__llama_2 ==\nL\(N, D\)/);
  assert.match(t.stdout, /marin_202603__dclm__llama_2: 85 runs used/);
});

test('fit --group: a missing group column exits 2 naming the columns; a small or broken group is "not fitted: why" and the rest are fitted', () => {
  const g = cli('fit', athena, '--group', 'Experiment');
  assert.equal(g.status, 2);
  assert.match(
    g.stderr,
    /isoflops_open_athena\.csv: --group Experiment names column "Experiment", which the file does not have; the columns are "source", "dataset"/,
  );
  assert.match(g.stderr, /hint: did you mean "experiment"\?/);
  const w = cli('fit', athena, '--where', 'experiment');
  assert.equal(w.status, 2);
  assert.match(w.stderr, /not a condition/);
  const dir = tempDir('groups');
  const law = (n: number, d: number) => (1.7 + 400 / n ** 0.34 + 400 / d ** 0.28).toFixed(5);
  const rows = ['family,N,D,loss'];
  for (const n of [1e7, 3e7, 1e8, 3e8]) for (const d of [1e9, 1e10, 1e11]) rows.push(`big,${n},${d},${law(n, d)}`);
  rows.push('tiny,1e7,1e9,3', 'tiny,1e8,1e9,2.9');
  for (const n of [1e7, 3e7, 1e8, 3e8]) for (const d of [1e9, 1e10]) rows.push(`broken,${n},${n === 1e8 && d === 1e10 ? 0 : d},${law(n, d)}`);
  writeFileSync(join(dir, 'g.csv'), rows.join('\n'));
  const r = cli('fit', join(dir, 'g.csv'), '--group', 'family', '--bootstrap', '0');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /== tiny ==\nnot fitted: 2 runs; a fit needs at least 6/);
  assert.match(r.stdout, /== broken ==\nnot fitted: .*g\.csv: row at line \d+, column "D": 0 is not positive/);
  assert.match(r.stdout, /1 of 3 groups fitted; not fitted: tiny, broken/);
  assert.match(r.stdout, /big: 12 runs used/);
  const all = cli('fit', join(dir, 'g.csv'), '--group', 'family', '--where', 'family=tiny');
  assert.equal(all.status, 2, 'no group fitted: exit 2');
});

test('fit --approaches: Approach 2, Approach 3 and VPNLS side by side with intervals, disagreements and the held-out error', () => {
  const r = cli('fit', athena, '--group', 'experiment', '--where', 'experiment=marin_202603__dclm*', '--bootstrap', '20', '--approaches', '--json');
  assert.equal(r.status, 0, r.stderr);
  const g = JSON.parse(r.stdout).groups[0];
  assert.deepEqual(
    g.approaches.approaches.map((a: { approach: string; fitted: boolean }) => [a.approach, a.fitted]),
    [
      ['approach2', true],
      ['approach3', true],
      ['vpnls', true],
    ],
  );
  for (const a of g.approaches.approaches) assert.ok(a.a.ci[0] <= a.a.estimate && a.a.estimate <= a.a.ci[1], JSON.stringify(a.a));
  assert.equal(g.approaches.heldOut.length, 2);
  assert.ok(g.approaches.heldOut.every((h: { meanAbsPctError: number }) => h.meanAbsPctError > 0 && h.meanAbsPctError < 5));
  const t = cli('fit', athena, '--group', 'experiment', '--where', 'experiment=marin_202603__dclm*', '--bootstrap', '0', '--approaches');
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /every approach side by side \(79 runs, no bootstrap: no intervals\):\napproach +alpha +beta +a \(N_opt ~ C\^a\)/);
  assert.match(t.stdout, /Approach 2 \(IsoFLOP parabolas\) +- +- +0\.4\d/);
  assert.match(t.stdout, /held-out check \(VPNLS\): fitted on 64 runs of 5 budgets/);
});

test('bcrit --group: two groups with 4x different B_crit are pooled, and the text names the group and what lies outside its interval', () => {
  const dir = tempDir('bcrit-pool');
  const lines = ['run,grp,batch_size,step,tokens,loss'];
  for (const [grp, bStar] of [
    ['a', 2e5],
    ['b', 8e5],
  ] as const) {
    const runs = syntheticBatchScan({
      bStar,
      alphaB: 1 / 6,
      batchTokens: [4, 8, 16, 32, 64, 128, 256, 512].map((b) => b * 64),
      finalLoss: 2,
      noise: 0.001,
      seed: 3,
      evals: 60,
    });
    for (const r of runs) for (const p of r.points) lines.push(`${grp}-${r.id},${grp},${r.batchTokens / 64},${p.step},${p.tokens},${p.loss}`);
  }
  writeFileSync(join(dir, 'scan.csv'), lines.join('\n'));
  const r = cli('bcrit', join(dir, 'scan.csv'), '--context', '64', '--warmup-steps', '0', '--bootstrap', '60', '--group', 'grp');
  assert.equal(r.status, 0, r.stderr);
  const pooled = r.stdout.split('\n').find((l) => l.startsWith('pooled over 2 groups'));
  assert.ok(pooled, r.stdout);
  assert.match(pooled, /the groups do NOT agree with it: /);
  // each disagreeing group is named with what lies outside its interval; no empty slots or doubled spaces
  assert.match(pooled, /(^|; |: )[ab]\b[^;]*: pooled (alpha_B|B_crit at L \d\.\d+)( and B_crit at L \d\.\d+)? outside its interval/);
  assert.doesNotMatch(pooled, / {2}|, ,|: ;/);
});
