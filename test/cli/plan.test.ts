// `scaling-lab plan` end to end: Epoch's Chinchilla reconstruction at Chinchilla's budget against the allocation computed
// by hand from Epoch's published parameters, and bad input (what is missing, and which command produces it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;
const fixture = new URL('../fixtures/analysis/chinchilla_epoch_svg_extracted.csv', import.meta.url).pathname;
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scaling-lab-plan-'));
  temps.push(dir);
  return dir;
}
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

// Hoffmann et al. 2022 eq. 4 from Epoch's published parameters (Besiroglu et al. 2024): E 1.817, A 482.0, B 2085.4,
// alpha 0.348, beta 0.366, at C = 5.76e23: G = (alpha A / (beta B))^(1/(alpha+beta)) = 0.119776,
// N_opt = G (C/6)^(beta/(alpha+beta)) = 7.2310e10, D_opt = (C/6) / N_opt = 1.3276e12.
const C = 5.76e23;
const G = ((0.348 * 482.0) / (0.366 * 2085.4)) ** (1 / (0.348 + 0.366));
const N_HAND = G * (C / 6) ** (0.366 / (0.348 + 0.366));
const D_HAND = C / 6 / N_HAND;

test('plan on the Epoch data at C = 5.76e23: N_opt, D_opt within 3% of the hand allocation, intervals cover it', () => {
  const r = cli(
    'plan',
    fixture,
    '--flops',
    String(C),
    '--drop-highest',
    '5',
    '--bootstrap',
    '100',
    '--bcrit-law',
    '2e8,0.21',
    '--context',
    '2048',
    '--no-probe',
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const { nOpt, dOpt } = j.allocation;
  assert.ok(Math.abs(nOpt.estimate / N_HAND - 1) < 0.03, `N_opt ${nOpt.estimate} vs ${N_HAND}`);
  assert.ok(Math.abs(dOpt.estimate / D_HAND - 1) < 0.03, `D_opt ${dOpt.estimate} vs ${D_HAND}`);
  assert.ok(nOpt.ci[0] <= N_HAND && N_HAND <= nOpt.ci[1], `N interval ${nOpt.ci}`);
  assert.ok(dOpt.ci[0] <= D_HAND && D_HAND <= dOpt.ci[1], `D interval ${dOpt.ci}`);
  assert.equal(j.samples, 100);
  // the loss, its prediction interval wider than the mean's, and the batch recipe from the given law
  assert.ok(Math.abs(j.allocation.loss.estimate - 1.973) < 0.02);
  assert.ok(j.allocation.predictionInterval[0] < j.allocation.loss.ci[0]);
  assert.equal(j.batch.context, 2048);
  assert.ok(Math.abs(j.batch.recommended.tokens / dOpt.estimate - 1) < 1e-3);
  assert.ok(j.extrapolation.factor > 10 && j.extrapolation.factor < 100 && !j.extrapolation.warn, JSON.stringify(j.extrapolation));
  assert.equal(j.lr, null);
  assert.equal(j.wallTime, null);
});

test('plan: a budget far past the runs warns with the factor; a target loss gives the budget; text mode names the papers', () => {
  const r = cli('plan', fixture, '--flops', '1e29', '--bootstrap', '0', '--no-probe');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /warning: the budget is 7\.7e\+6x the largest run's FLOPs, past the 1e\+6x/);
  assert.match(r.stdout, /Hoffmann et al\. 2022 eq\. 4/);
  assert.match(r.stdout, /intervals: none/);
  const l = JSON.parse(cli('plan', fixture, '--loss', '2.0', '--bootstrap', '0', '--no-probe', '--json').stdout);
  assert.equal(l.allocation.mode, 'loss');
  assert.ok(Math.abs(l.allocation.loss.estimate - 2.0) < 1e-9);
  assert.ok(l.allocation.c.estimate > 1e22 && l.allocation.c.estimate < 1e24, `${l.allocation.c.estimate}`);
});

test('plan: bad input says what is missing and which command produces it', () => {
  for (const bad of ['abc', '0', '-1e20']) {
    const r = cli('plan', fixture, '--flops', bad, '--no-probe');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--flops must be a positive number/);
  }
  const none = cli('plan', fixture, '--no-probe');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /plan needs a FLOP budget or a target loss/);
  assert.match(none.stderr, /hint: add --flops C/);
  const dir = tempDir();
  writeFileSync(join(dir, 'few.csv'), 'N,D,loss\n1e6,1e8,4\n2e6,1e8,3.8\n4e6,1e8,3.7\n');
  const few = cli('plan', join(dir, 'few.csv'), '--flops', '1e18', '--no-probe');
  assert.equal(few.status, 2);
  assert.match(few.stderr, /no L\(N, D\) fit is possible/);
  assert.match(few.stderr, /hint: run a size x data sweep first \(scaling-lab sweep --design isoflop/);
  // no B_crit law: the recipe stops at the allocation and says how to get one
  const nob = cli('plan', fixture, '--flops', '1e22', '--bootstrap', '0', '--no-probe');
  assert.equal(nob.status, 0, nob.stderr);
  assert.match(nob.stdout, /batch: no B_crit\(L\) law .* pass --bcrit-law B\*,alpha_B \(scaling-lab bcrit prints both\)/);
  assert.match(nob.stdout, /learning rate: none available/);
  // an LR rule as a sweep's couple.lr: lr (B/refBatch)^power at the recommended batch in sequences
  const withLr = JSON.parse(
    cli(
      'plan',
      fixture,
      '--flops',
      '1e22',
      '--bootstrap',
      '0',
      '--no-probe',
      '--bcrit-law',
      '2e8,0.21',
      '--context',
      '2048',
      '--lr-law',
      '3e-4,256,0.5',
      '--json',
    ).stdout,
  );
  assert.ok(Math.abs(withLr.lr.lr / (3e-4 * (withLr.batch.recommended.batchSequences / 256) ** 0.5) - 1) < 1e-12);
  assert.notEqual(cli('plan', fixture, '--flops', '1e22', '--lr-law', '3e-4,256').status, 0);
  const badLaw = cli('plan', fixture, '--flops', '1e22', '--bcrit-law', '2e8');
  assert.notEqual(badLaw.status, 0);
  assert.match(badLaw.stderr, /--bcrit-law takes B\*,alpha_B/);
  // a saved fit: point estimates, no intervals; a file that is not one says how to make one
  writeFileSync(join(dir, 'fit.json'), JSON.stringify({ law: 'chinchilla', params: { E: 1.817, A: 482.0, B: 2085.4, alpha: 0.348, beta: 0.366 } }));
  const saved = JSON.parse(cli('plan', join(dir, 'fit.json'), '--flops', String(C), '--no-probe', '--json').stdout);
  assert.ok(Math.abs(saved.allocation.nOpt.estimate / N_HAND - 1) < 1e-9);
  assert.equal(saved.extrapolation, null);
  writeFileSync(join(dir, 'other.json'), JSON.stringify({ law: 'kaplan', params: {} }));
  const other = cli('plan', join(dir, 'other.json'), '--flops', '1e20', '--no-probe');
  assert.equal(other.status, 2);
  assert.match(other.stderr, /hint: save one with `scaling-lab fit FILE --law chinchilla --json > fit.json`/);
  const loss = cli('plan', join(dir, 'fit.json'), '--loss', '1.5', '--no-probe');
  assert.equal(loss.status, 2);
  assert.match(loss.stderr, /at or below the fitted irreducible loss/);
});

test('plan on a store: the grid gives the allocation, the batch scan B_crit and the batch recipe; a scan-only store has no L(N, D)', async () => {
  const { openStore } = await import('../../src/store/store.ts');
  const { gridRecords, scanRecords } = await import('../report/fixtures.ts');
  const write = async (dir: string, records: Awaited<ReturnType<typeof gridRecords>>) => {
    const store = await openStore(dir);
    try {
      for (const { metrics, status, ...rest } of records) {
        const meta = { ...rest, id: rest.id.replace(/\+/g, '') }; // store ids take no '+'
        await store.putRun({ ...meta, spec: { name: meta.name, batch: meta.batchSize, n: meta.paramsKaplan } });
        await store.appendMetrics(meta.id, metrics);
        await store.setStatus(meta.id, status);
      }
    } finally {
      await store.close();
    }
  };
  const dir = tempDir();
  // the scan at 3 LRs per batch size, 1e-3 the best (the others' losses 1% and 2% higher): an LR envelope
  const lrScan = scanRecords({ depths: [2] }).flatMap((r) =>
    [
      [1e-3, 1],
      [5e-4, 1.01],
      [2e-3, 1.02],
    ].map(([lr, f]) => ({
      ...r,
      id: `${r.id}-lr${lr}`,
      name: `${r.name}-lr${lr}`,
      lr,
      metrics: r.metrics.map((m) => ({ ...m, lr, trainLoss: m.trainLoss * f, ...(m.testLoss !== undefined ? { testLoss: m.testLoss * f } : {}) })),
    })),
  );
  await write(join(dir, 'runs'), [...gridRecords(), ...lrScan]);
  const r = cli('plan', join(dir, 'runs'), '--flops', '1e15', '--bootstrap', '30', '--no-probe', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(j.allocation.nOpt.estimate > 0 && j.allocation.nOpt.ci[0] <= j.allocation.nOpt.estimate);
  assert.match(j.bcritLaw.from, /batch scan of/);
  assert.ok(Math.abs(j.lr.lr / 1e-3 - 1) < 1e-9, `lr ${j.lr.lr}`);
  assert.match(j.lr.from, /the best LR per batch size of the scan of/);
  assert.equal(j.batch.context, 64);
  assert.ok(j.batch.recommended.batchSequences >= 1 && j.batch.recommended.steps > 0);
  assert.ok(j.extrapolation.factor > 1);
  const text = cli('plan', join(dir, 'runs'), '--flops', '1e15', '--bootstrap', '0', '--no-probe').stdout;
  assert.match(text, /recommended: \d+ sequences of 64 tokens/);
  assert.match(text, /2x larger .* steps \(0\.\d+x\)/);
  await write(join(dir, 'scan'), scanRecords({ depths: [2] }));
  const s = cli('plan', join(dir, 'scan'), '--flops', '1e15', '--no-probe');
  assert.equal(s.status, 2);
  assert.match(s.stderr, /no L\(N, D\) fit is possible/);
  assert.match(s.stderr, /hint: run a size x data sweep first \(scaling-lab sweep --design isoflop/);
});
