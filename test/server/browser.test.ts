// The dashboard in a real headless browser (Debian's chromium via playwright-core) on a real file store: a run trained
// while the page is open appears in the table and its curve grows without a reload; a diverged run shows as diverged
// with its reason; the seed charts and fit tables render; no console error. Skipped without chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import { startDashboard } from '../../src/server/http.ts';
import { missing } from '../helpers/require.ts';
import { gridRecords, scanRecords } from '../report/fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts', 'server-browser');
const CHILD = new URL('./train-child.ts', import.meta.url).pathname;

/** Trains in a child process (train-child.ts); resolves with its outcome line. */
function train(store: string, steps: number, lr: number, sleepMs: number): { done: Promise<{ id: string; status: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, store, String(steps), String(lr), String(sleepMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return {
    done: new Promise((res, rej) =>
      child.on('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').at(-1)!)) : rej(new Error(`training child exited ${code}: ${out}`)))),
    ),
  };
}

test('the dashboard shows a run appear and its curve grow live, a diverged run, and the fitted charts', { timeout: 180_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    console.log(`# skipped: ${CHROMIUM} is absent (.ci/run installs Debian's chromium)`);
    return missing(t, 'chromium', `${CHROMIUM} is absent`);
  }
  const { chromium } = await import('playwright-core');
  const t0 = performance.now();
  const stage = (what: string) => console.log(`# ${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const dir = mkdtempSync(join(tmpdir(), 'serve-browser-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // finished runs with known laws (the report tests' fixtures: a smaller B* for fewer steps, thinned to the eval rows
  // and every 50th), so that the seed charts can be drawn
  const store = await openStore(dir);
  const scanIds: string[] = [];
  for (const r of [...scanRecords({ law: { bStar: 6e4, alphaB: 0.2 } }), ...gridRecords()]) {
    const { metrics, status: _status, ...meta } = r;
    const id = r.id.replace(/[^A-Za-z0-9._-]/g, '_');
    if (r.sweep === 'scan') scanIds.push(id);
    await store.putRun({ ...meta, id, spec: { fixture: id } });
    await store.appendMetrics(
      id,
      metrics.filter((m, i) => m.testLoss !== undefined || i % 50 === 0 || i === metrics.length - 1),
    );
    await store.setStatus(id, 'done');
  }
  // the scan's manifest, with two runs it has not started
  await store.putSweep({
    name: 'scan',
    purpose: 'batch-scan',
    hash: 'fixture',
    spec: {},
    runIds: [...scanIds, 'later-1', 'later-2'],
    createdAt: new Date().toISOString(),
  });
  await store.close();

  stage('fixture runs written');
  const d = await startDashboard({ location: dir, port: 0, fitGapMs: 3000, bootstrap: 10 });
  t.after(() => d.close());
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  t.after(() => browser.close());
  stage('chromium launched');
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  const outside: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => {
    if (!r.url().endsWith('/events')) errors.push(`${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(d.url.replace(/\/$/, ''))) outside.push(r.url());
  });
  await page.goto(d.url);
  stage('page loaded');
  await page.waitForFunction(() => (window as unknown as { __dash: { ready: boolean } }).__dash.ready, null, { timeout: 30_000 });
  stage('page ready');
  await page
    .waitForFunction(() => document.querySelectorAll('#runs-table tbody tr').length > 0, null, { timeout: 10_000 })
    .catch((err: Error) => assert.fail(`${err.message}; page errors: ${errors.join('; ')}`));
  const fixtures = await page.locator('#runs-table tbody tr').count();
  assert.ok(fixtures >= 20, `the fixture runs are listed (${fixtures})`);
  // the sweeps table: the scan's runs by status; a click shows only its runs
  const scanRow = page.locator('#sweeps-table tr[data-sweep="scan"]');
  assert.equal(await scanRow.locator('td.done').textContent(), String(scanIds.length));
  assert.equal(await scanRow.locator('td').last().textContent(), '2', 'two runs not started');
  await scanRow.locator('a').click();
  await page.waitForFunction((n) => document.querySelectorAll('#runs-table tbody tr').length === n, scanIds.length, { timeout: 5_000 });
  await page.selectOption('#sweep-filter', '');
  await page.waitForFunction((n) => document.querySelectorAll('#runs-table tbody tr').length === n, fixtures, { timeout: 5_000 });

  // ---- the seed charts and the fit tables, computed by the report's code (drawn before training, so that the page is idle)
  await page.locator('[data-chart="batch-scan"][data-status="drawn"] svg').first().waitFor({ timeout: 60_000 });
  await page.locator('[data-chart="bcrit"][data-status="drawn"] svg').first().waitFor({ timeout: 10_000 });
  await page.locator('[data-chart="lnd-3d"][data-status="drawn"] .plotly-figure .main-svg').first().waitFor({ timeout: 10_000 });
  await page.locator('#fits-body h3').first().waitFor({ timeout: 10_000 });
  assert.match((await page.locator('#fits-body').textContent())!, /Critical batch size/);

  stage('charts drawn');

  // ---- a run trained now: its row appears and its curve grows, no reload
  // (the diverging run trains at the same time: one child start less)
  const steps = 36;
  const run = train(dir, steps, 3e-3, 120);
  const diverging = train(dir, 12, 100, 0);
  const dash = () => page.evaluate(() => (window as unknown as { __dash: { runs(): number } }).__dash.runs());
  const row = page.locator('#runs-table tr[data-run^="d1-b8-s0-n36"]');
  await row.waitFor({ timeout: 30_000 });
  assert.ok((await dash()) >= fixtures + 1);
  const id = (await row.getAttribute('data-run'))!;
  const counts: number[] = [];
  let finished = false;
  const outcome = run.done.then((o) => ((finished = true), o));
  while (!finished) {
    counts.push(await page.evaluate((rid) => (window as unknown as { __dash: { rows(id: string): number } }).__dash.rows(rid), id));
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal((await outcome).status, 'done');
  stage('trained');
  const grown = [...new Set(counts.filter((c) => c > 0 && c < steps))];
  assert.ok(grown.length >= 1, `the curve grew in steps while training (${[...new Set(counts)].join(', ')})`);
  const connects = await page.evaluate(() => (window as unknown as { __dash: { connects: number } }).__dash.connects);
  const held = ((await (await fetch(`${d.url}api/runs/${id}/rows`)).json()) as { rows: unknown[] }).rows.length;
  console.log(`# ${id}: the server holds ${held} rows`);
  console.log(`# ${id}: rows seen on the page while training: ${[...new Set(counts)].join(', ')}; ${connects} connection(s) to /events`);
  await page.waitForFunction(
    (a) => (window as unknown as { __dash: { rows(id: string): number } }).__dash.rows(a.rid) === a.steps,
    { rid: id, steps },
    { timeout: 30_000 },
  );
  // every row drawn, in both panels (train loss at each step, test loss at the eval steps: 5, 10, ..., 35 and 36)
  await page.waitForFunction(
    (a) => {
      const d = (window as unknown as { __dash: { drawn(id: string): { train: number; test: number } } }).__dash.drawn(a.rid);
      return d.train === a.steps && d.test === 8;
    },
    { rid: id, steps },
    { timeout: 10_000 },
  );
  await page.waitForFunction((rid) => document.querySelector(`tr[data-run="${rid}"]`)?.getAttribute('data-status') === 'done', id, { timeout: 10_000 });
  assert.match((await page.locator(`tr[data-run="${id}"] td.progress`).textContent())!, /^36 \/ 36/);
  assert.match((await page.locator(`tr[data-run="${id}"] td.test-loss`).textContent())!, /^\d\.\d+/);

  // ---- a run with a huge LR diverges, and says so with the trainer's reason
  const bad = await diverging.done;
  assert.equal(bad.status, 'diverged');
  const badRow = page.locator(`tr[data-run="${bad.id}"][data-status="diverged"]`);
  await badRow.waitFor({ timeout: 10_000 });
  assert.match((await badRow.locator('td.note-cell').textContent())!, /train loss .* at step \d+ \(threshold/);

  stage('diverged run shown');
  // the fits catch up with the runs that landed: the fixtures, the trained run and the diverged one
  await page
    .waitForFunction((n) => document.getElementById('fits-note')!.textContent!.includes(`from ${n} runs`), fixtures + 2, { timeout: 90_000 })
    .catch(async (err: Error) => {
      const f = (await (await fetch(`${d.url}api/fits`)).json()) as { state: string; runs?: number; error?: string; generation: number; computing: boolean };
      throw new Error(
        `${err.message}; the note: ${await page.locator('#fits-note').textContent()}; /api/fits: ${JSON.stringify({ ...f, charts: undefined, tablesHtml: undefined, warnings: undefined })}`,
      );
    });
  stage('charts and fits shown');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no console error, page error or failed request');
  assert.deepEqual(outside, [], 'no request leaves the dashboard (no network needed)');
});
