// `scaling-lab report` end to end: fixture runs written to a real file store, the command run as a process, the
// files it writes, its progress lines and its errors. Chart contents are checked in charts.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import type { RunRecord } from '../../src/analysis/records.ts';
import { scanRecords } from './fixtures.ts';

async function fileStore(dir: string, records: RunRecord[]): Promise<void> {
  const store = await openStore(dir);
  try {
    for (const { metrics, status, ...meta } of records) {
      await store.putRun({ ...meta, spec: { name: meta.name, batch: meta.batchSize, n: meta.paramsKaplan } });
      await store.appendMetrics(meta.id, metrics);
      await store.setStatus(meta.id, status);
    }
  } finally {
    await store.close();
  }
}

const cli = (args: string[]) => spawnSync(process.execPath, ['bin/scaling-lab.js', 'report', ...args], { encoding: 'utf8', timeout: 120_000 });

test('report on a runs directory writes SVG, PNG and a self-contained report.html, with progress on stderr', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'report-cli-'));
  try {
    await fileStore(join(tmp, 'runs'), scanRecords({ depths: [2] }));
    const out = join(tmp, 'out');
    const r = cli([join(tmp, 'runs'), '--out', out, '--format', 'svg,png,html', '--bootstrap', '20', '--bootstrap-seed', '3']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /report: rendering batch-scan/);
    assert.match(r.stdout, /B_crit\(L\) 390K: B\* = [\d.e]+ tokens/);
    assert.match(r.stdout, /not drawn: L\(N, D\)/);
    assert.match(r.stdout, new RegExp(`wrote \\d+ files to ${out.replace(/[/\\]/g, '.')}`));
    for (const f of ['batch-scan.svg', 'batch-scan.png', 'bcrit.svg', 'bcrit.png', 'learning-curves.svg', 'report.html'])
      assert.ok(existsSync(join(out, f)), f);
    assert.ok(!existsSync(join(out, 'lnd-3d.svg')), 'no L(N, D) chart from a one-size scan');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=["']?https?:/, 'no external scripts or styles');
    assert.match(html, /Batch Size Scan - 390K Params/);
    assert.match(html, /Runs \(5\)/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('report errors: an empty store and a missing source exit 2 with a hint; a bad --format is refused', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'report-cli-'));
  try {
    mkdirSync(join(tmp, 'empty'));
    const e = cli([join(tmp, 'empty'), '--out', join(tmp, 'o')]);
    assert.equal(e.status, 2);
    assert.match(e.stderr, /the store holds no runs/);
    assert.match(e.stderr, /hint: /);
    const m = cli([join(tmp, 'nope'), '--out', join(tmp, 'o')]);
    assert.equal(m.status, 2);
    assert.match(m.stderr, /no such file or directory/);
    const f = cli([join(tmp, 'empty'), '--format', 'svg,gif']);
    assert.notEqual(f.status, 0);
    assert.match(f.stderr, /--format takes svg, png, html/);
    // an import file of loss curves with one batch size: chart 2 explains itself
    const csv = join(tmp, 'curves.csv');
    writeFileSync(
      csv,
      [
        'run,batch_tokens,step,loss',
        ...[1, 2, 4, 8, 16, 32].flatMap((s) => [`a,2048,${s},${(4 / s ** 0.1).toFixed(4)}`, `b,2048,${s},${(4.1 / s ** 0.1).toFixed(4)}`]),
      ].join('\n'),
    );
    const c = cli([csv, '--out', join(tmp, 'o2'), '--format', 'svg', '--quiet']);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /not drawn: Critical batch size vs loss: chart 2 needs at least 3 batch sizes per model size; this import has 1/);
    assert.equal(c.stderr.trim(), '', '--quiet prints no progress');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('report --group on a file of several experiments: every approach per group, two drawn side by side; bad --panels and --group exit 2', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'report-cli-'));
  const athena = new URL('../fixtures/analysis/isoflops_open_athena.csv', import.meta.url).pathname;
  try {
    const r = cli([
      athena,
      '--group',
      'experiment',
      '--where',
      'experiment=marin*',
      '--panels',
      'marin*dclm*,marin*comma*',
      '--bootstrap',
      '0',
      '--format',
      'svg',
      '--out',
      tmp,
      '--quiet',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /warning: isoflops_open_athena\.csv: 947 rows; 689 left out by --where 'experiment=marin\*'; 19 flagged in "outlier" left out \(--keep-outliers keeps them\); 3 groups by "experiment"/,
    );
    for (const g of ['marin_202603__comma__llama_2', 'marin_202603__dclm__llama_2', 'marin_202603__nemotron__llama_2'])
      assert.match(r.stdout, new RegExp(`L\\(N, D\\) approaches side by side: ${g} \\(\\d+ runs\\)`));
    assert.match(r.stdout, /VPNLS \(variable projection\) +0\.\d+/);
    assert.match(r.stdout, /held-out check \(Approach 3\)/);
    const svg = readFileSync(join(tmp, 'lnd-3d.svg'), 'utf8');
    assert.ok(svg.indexOf('>marin_202603__dclm__llama_2<') < svg.indexOf('>marin_202603__comma__llama_2<'), '--panels order: dclm left, comma right');
    const p = cli([athena, '--group', 'experiment', '--panels', 'nope*', '--out', tmp, '--quiet']);
    assert.equal(p.status, 2);
    assert.match(p.stderr, /--panels: no fitted group matches "nope\*"; the groups are "epochai_chinchilla__massivetext__chinchilla"/);
    const g = cli([athena, '--group', 'Experiment', '--out', tmp, '--quiet']);
    assert.equal(g.status, 2);
    assert.match(g.stderr, /names column "Experiment", which the file does not have/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
