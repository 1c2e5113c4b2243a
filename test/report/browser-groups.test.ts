// The seed chart from real published data: the Open-Athena IsoFLOP collection grouped by experiment, two experiments
// side by side. Checked as files (every 3D panel the same size, short titles, legends <= 12 entries, PNG sizes) and,
// where Debian's chromium is installed, in the browser (both Plotly scenes the same width; no PNG has an empty half).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildReport, writeReport, type Report } from '../../src/report/build.ts';
import { loadReportInput } from '../../src/report/source.ts';
import { drawn } from './helpers.ts';
import { missing } from '../helpers/require.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts', 'report-groups');
const FIXTURE = new URL('../fixtures/analysis/isoflops_open_athena.csv', import.meta.url).pathname;
const PANELS = ['marin_202603__dclm__llama_2', 'llama_3__raw_loss'];

let built: Promise<Report> | undefined;
const report = () =>
  (built ??= (async () => {
    const input = await loadReportInput(FIXTURE, { group: ['experiment'], panels: ['marin*dclm*', 'llama_3__raw*'] });
    const r = await buildReport(input, { bootstrap: 20, seed: 1 });
    mkdirSync(ARTIFACTS, { recursive: true });
    writeReport(ARTIFACTS, r, ['svg', 'png', 'html']);
    return r;
  })());

/** Width and height of a PNG, from its IHDR chunk. */
const pngSize = (file: string): [number, number] => {
  const b = readFileSync(file);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
};

/** Entries of each legend in a Vega SVG (one count per legend). */
function legendEntries(svg: string): number[] {
  // a symbol legend has a label group per entry, a gradient legend one group of tick labels
  return svg
    .split('<g class="mark-group role-legend"')
    .slice(1)
    .map((part) => {
      let n = 0;
      for (const m of part.matchAll(/role-legend-label"[^>]*>((?:<text[^>]*>[^<]*<\/text>)*)/g)) n += (m[1].match(/<text/g) ?? []).length;
      return n;
    });
}

test('grouped import: two experiments side by side, every approach fitted per experiment', { timeout: 300_000 }, async () => {
  const r = await report();
  assert.deepEqual(
    r.fits.lnd.map((p) => p.label),
    PANELS,
  );
  assert.ok(r.fits.lnd.every((p) => p.form === 'chinchilla'));
  assert.equal(r.fits.approaches.length, 8, 'all eight experiments compared');
  for (const g of r.fits.approaches)
    assert.ok(
      g.comparison?.approaches.every((a) => a.fitted),
      `${g.label}: ${JSON.stringify(g.comparison?.approaches.map((a) => a.reason))}`,
    );
  assert.match(r.warnings.join('\n'), /947 rows; 197 flagged in "outlier" left out/);
  const iso = drawn(r.charts, 'isoflop');
  assert.match(iso.svg!, /IsoFLOP profiles: marin_202603__dclm__llama_2/);
  assert.match(iso.svg!, /6 budgets \(budget column\)/);
  assert.match(r.html, /every approach side by side/);
  assert.match(r.html, /held-out check \(Approach 3\)/);
});

test(
  '3D panels: fixed and equal sizes, short titles (never a path), one FLOPs colour bar; PNG sizes bounded; legends <= 12',
  { timeout: 300_000 },
  async () => {
    const r = await report();
    const c = drawn(r.charts, 'lnd-3d');
    const panels = [
      ...c.svg!.matchAll(/concat_(\d)_group"[^>]*><g transform="translate\(([\d.]+),([\d.]+)\)"><path class="background"[^>]*d="M0,0h([\d.]+)v([\d.]+)h/g),
    ];
    assert.equal(panels.length, 2, 'two panels');
    assert.deepEqual(
      panels.map((m) => [Number(m[4]), Number(m[5])]),
      [
        [400, 330],
        [400, 330],
      ],
      'every panel 400 x 330',
    );
    assert.equal(panels[0][3], panels[1][3], 'side by side, same top');
    for (const label of PANELS) assert.match(c.svg!, new RegExp(`>${label}</text>`), `${label} titles its panel`);
    const titles = [...c.svg!.matchAll(/role-title-text[^>]*>[\s\S]*?<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    assert.ok(
      titles.every((t) => !t.includes('/')),
      `no path in titles: ${titles.join(' | ')}`,
    );
    assert.match(c.svg!, /L\(N,D\) = [\d.]+ \+ [\d.e]+\/N\^[\d.]+ \+ [\d.e]+\/D\^[\d.]+/, 'fitted formula in the subtitle');
    assert.match(c.svg!, /Gradient legend titled 'Training FLOPs'/);
    const [w, h] = pngSize(join(ARTIFACTS, 'lnd-3d.png'));
    assert.ok(w >= 1600 && w <= 2200 && h >= 600 && h <= 1000, `lnd-3d.png ${w} x ${h}`);
    for (const id of ['lnd-vs-n', 'lnd-vs-d', 'isoflop', 'frontier']) {
      const [pw, ph] = pngSize(join(ARTIFACTS, `${id}.png`));
      assert.ok(pw <= 2400 && ph <= 1200 && pw / ph < 3.5, `${id}.png ${pw} x ${ph}`);
    }
    for (const ch of r.charts) {
      if (ch.status !== 'drawn') continue;
      for (const n of legendEntries(ch.svg!)) assert.ok(n <= 12, `${ch.id}: a legend with ${n} entries`);
    }
  },
);

test('in chromium: both 3D scenes the same width, titled by experiment; the PNGs have no empty half', { timeout: 300_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    return missing(t, 'chromium', `${CHROMIUM} is absent`);
  }
  await report();
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--allow-file-access-from-files',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pathToFileURL(join(ARTIFACTS, 'report.html')).href, { waitUntil: 'domcontentloaded', timeout: 120_000 });
    await page.waitForFunction(() => (window as unknown as { __reportReady?: boolean }).__reportReady === true, null, { timeout: 120_000 });
    const sel = 'section[data-chart="lnd-3d"]';
    const titles = await page.locator(`${sel} .panel-titles > div b`).allTextContents();
    assert.deepEqual(
      titles.map((s) => s.replace(/ \(.*$/, '')),
      PANELS,
    );
    const scenes = await page.evaluate((s) => {
      const el = document.querySelector(`${s} .plotly-figure`) as unknown as { _fullLayout: Record<string, { domain: { x: [number, number] } }> };
      return ['scene', 'scene2'].map((k) => el._fullLayout[k].domain.x);
    }, sel);
    const widths = scenes.map(([a, b]) => b - a);
    assert.ok(Math.abs(widths[0] - widths[1]) < 1e-9 && widths[0] > 0.4, `scene widths ${widths}`);
    await page.locator(sel).scrollIntoViewIfNeeded();
    await page.locator(sel).screenshot({ path: join(ARTIFACTS, 'lnd-3d-browser.png') });
    // ink per half of each PNG, measured on a canvas: a half with almost no ink is an empty half
    for (const id of ['lnd-3d', 'lnd-vs-n', 'lnd-vs-d', 'isoflop', 'frontier']) {
      const ink = await page.evaluate(
        async (src) => {
          const img = new Image();
          img.src = src;
          await img.decode();
          const cv = document.createElement('canvas');
          cv.width = img.width;
          cv.height = img.height;
          const ctx = cv.getContext('2d')!;
          ctx.drawImage(img, 0, 0);
          const { data } = ctx.getImageData(0, 0, img.width, img.height);
          const half = [0, 0];
          for (let y = 0; y < img.height; y += 2)
            for (let x = 0; x < img.width; x += 2) {
              const i = (y * img.width + x) * 4;
              if (data[i] + data[i + 1] + data[i + 2] < 600) half[x < img.width / 2 ? 0 : 1]++;
            }
          const per = (img.width * img.height) / 8;
          return half.map((h) => h / per);
        },
        pathToFileURL(join(ARTIFACTS, `${id}.png`)).href,
      );
      assert.ok(ink[0] > 0.02 && ink[1] > 0.02, `${id}.png: ink per half ${ink.map((v) => v.toFixed(3))}`);
    }
    assert.deepEqual(errors, [], 'no console errors');
  } finally {
    await browser.close();
  }
});

test(
  "Epoch's reconstruction: ~10 clustered budgets (not 35), one legend entry each; titles carry the basename, never the path",
  { timeout: 300_000 },
  async () => {
    const file = new URL('../fixtures/analysis/chinchilla_epoch_svg_extracted.csv', import.meta.url).pathname;
    const r = await buildReport(await loadReportInput(file), { bootstrap: 0 });
    const iso = drawn(r.charts, 'isoflop');
    const budgets = r.fits.isoflop!.budgets.groups.length;
    assert.ok(budgets >= 8 && budgets <= 11, `${budgets} budgets`);
    assert.match(iso.svg!, new RegExp(`${budgets} budgets \\(C clustered in log space\\)`));
    assert.deepEqual(legendEntries(iso.svg!), [budgets], 'one legend entry per budget');
    const c = drawn(r.charts, 'lnd-3d');
    assert.ok(!c.svg!.includes(file) && !r.html.includes(`<b>${file}`), 'no absolute path in the chart');
    assert.match(c.svg!, />chinchilla_epoch_svg_extracted\.csv<\/text>/);
    const sizes = [
      ...c.svg!.matchAll(/concat_\d_group"[^>]*><g transform="translate\([\d.]+,[\d.]+\)"><path class="background"[^>]*d="M0,0h([\d.]+)v([\d.]+)h/g),
    ].map((m) => `${m[1]}x${m[2]}`);
    assert.deepEqual(sizes, ['400x330', '400x330'], 'Chinchilla and Kaplan panels the same fixed size');
    assert.ok(r.fits.approaches[0].comparison!.approaches.every((a) => a.fitted));
  },
);
