// report.html in a real headless browser (Debian's chromium via playwright-core): every chart renders, no console
// error or failed request, the 3D plot rotates; a screenshot is saved under test-artifacts/. Skipped without chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildReport, writeReport } from '../../src/report/build.ts';
import { scanRecords, gridRecords } from './fixtures.ts';
import { missing } from '../helpers/require.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts', 'report-browser');

test('report.html renders every chart in chromium, offline, and the 3D plot rotates', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    console.log(`# skipped: ${CHROMIUM} is absent (.ci/run installs Debian's chromium)`);
    return missing(t, 'chromium', `${CHROMIUM} is absent`);
  }
  const { chromium } = await import('playwright-core');
  const report = await buildReport({ source: 'browser-fixture', records: [...scanRecords(), ...gridRecords()] }, { bootstrap: 10 });
  mkdirSync(ARTIFACTS, { recursive: true });
  writeReport(ARTIFACTS, report, ['html']);
  const expected = report.charts.map((c) => ({ id: c.id, status: c.status, plotly: c.status === 'drawn' && !!c.plotly }));
  assert.ok(
    expected.every((c) => c.status === 'drawn'),
    'the fixture supports every chart',
  );

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    const failed: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(join(ARTIFACTS, 'report.html')).href);
    await page.waitForFunction(
      () =>
        (window as unknown as { __reportReady?: boolean; __reportError?: string }).__reportReady === true ||
        !!(window as unknown as { __reportError?: string }).__reportError,
      null,
      { timeout: 60_000 },
    );
    assert.equal(await page.evaluate(() => (window as unknown as { __reportError?: string }).__reportError ?? null), null);

    for (const c of expected) {
      const sel = `section[data-chart="${c.id}"]`;
      if (c.plotly) {
        const n = await page.locator(`${sel} .plotly-figure canvas`).count();
        assert.ok(n > 0, `${c.id}: a WebGL canvas`);
        assert.ok((await page.locator(`${sel} .plotly-figure .main-svg`).count()) > 0, `${c.id}: Plotly's SVG layer`);
      } else {
        const box = await page.locator(`${sel} .svg svg`).boundingBox();
        assert.ok(box && box.width > 200 && box.height > 150, `${c.id}: an SVG chart on the page (${JSON.stringify(box)})`);
      }
    }

    // rotate: drag across the first 3D scene, and check that Plotly's camera moved
    const plot = page.locator('section[data-chart="lnd-3d"] .plotly-figure');
    await plot.scrollIntoViewIfNeeded();
    const camera = () =>
      page.evaluate(() =>
        JSON.stringify(
          (document.querySelector('section[data-chart="lnd-3d"] .plotly-figure') as unknown as { _fullLayout: { scene: { camera: unknown } } })._fullLayout
            .scene.camera,
        ),
      );
    const before = await camera();
    const b = (await plot.boundingBox())!;
    await page.mouse.move(b.x + b.width * 0.25, b.y + b.height * 0.55);
    await page.mouse.down();
    await page.mouse.move(b.x + b.width * 0.35, b.y + b.height * 0.45, { steps: 12 });
    await page.mouse.up();
    await page.waitForTimeout(300);
    const after = await camera();
    assert.notEqual(after, before, 'dragging the 3D scene rotates the camera');

    await page.screenshot({ path: join(ARTIFACTS, 'report-3d.png') });
    await page.screenshot({ path: join(ARTIFACTS, 'report-full.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no console errors');
    assert.deepEqual(failed, [], 'no failed requests');
    assert.deepEqual(
      requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:') && !u.startsWith('blob:')),
      [],
      'nothing fetched from the network',
    );
  } finally {
    await browser.close();
  }
});
