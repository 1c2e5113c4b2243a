// The dashboard at scale: a synthetic file store of 1,000 runs and 1M metric rows in /tmp (rows written with the
// store's own line encoding), then start-up, page-data load and update latency (append a row -> its SSE event).
// Run: node --expose-gc --import tsx bench/serve.bench.ts [--runs 1000] [--rows 1000] [--updates 30] [--browser] [--fits] [--no-watch] [--keep] [--dir DIR (reuse a store --keep left)] [--verbose]
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricRow } from '../src/analysis/records.ts';
import { openStore } from '../src/store/store.ts';
import { encodeMetricLine } from '../src/store/rows.ts';
import { startDashboard } from '../src/server/http.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = flag('--runs', 1000);
const ROWS = flag('--rows', 1000);
const UPDATES = flag('--updates', 30);
const T = 64;
const sizes = [49_152, 196_608, 393_216, 786_432];
const batches = [8, 16, 32, 64, 128];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(0)} ms`;

function row(step: number, batch: number, n: number): MetricRow {
  const tokens = step * batch * T;
  const loss = 1.8 + 30 / Math.pow(n, 0.2) / Math.pow(tokens, 0.15) + 0.01 * Math.sin(step);
  return {
    step,
    tokens,
    flops: tokens * 6 * n,
    trainLoss: loss + 0.02,
    lr: 3e-3,
    gradNorm: 1,
    wallMs: step * 20,
    ...(step % 25 === 0 && { testLoss: loss }),
  };
}

// ---- the synthetic store: putRun for the records (spec.json, status.json), the rows written whole per run

const reuse = args.indexOf('--dir');
const dir = reuse >= 0 ? args[reuse + 1]! : mkdtempSync(join(tmpdir(), 'serve-bench-'));
let t0 = performance.now();
const store = await openStore(dir);
for (let i = 0; i < (reuse >= 0 ? 0 : RUNS); i++) {
  const n = sizes[i % sizes.length]!;
  const batch = batches[Math.floor(i / sizes.length) % batches.length]!;
  const id = `bench-${String(i).padStart(4, '0')}`;
  await store.putRun({
    id,
    name: id,
    sweep: `bench-${i % 4}`,
    paramsKaplan: n,
    paramsTotal: n + 256 * 64,
    batchSize: batch,
    context: T,
    batchTokens: batch * T,
    lr: 3e-3,
    seed: i,
    schedule: 'constant',
    data: 'synthetic',
    spec: { bench: i },
  });
  let text = '';
  for (let s = 1; s <= ROWS; s++) text += encodeMetricLine(row(s, batch, n));
  writeFileSync(join(dir, id, 'metrics.jsonl'), text);
  await store.setStatus(id, i % 10 === 0 ? 'running' : 'done');
}
await store.close();
console.log(`wrote ${RUNS} runs x ${ROWS} rows = ${(RUNS * ROWS) / 1e6}M rows into ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// ---- start-up: the feed reads every metrics.jsonl once

t0 = performance.now();
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const held = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
const heapBefore = held();
const watch = !args.includes('--no-watch');
const d = await startDashboard({ location: dir, port: 0, fits: args.includes('--fits'), bootstrap: 20, fitGapMs: 1000, watch });
const startMs = performance.now() - t0;
gc?.();
console.log(
  `start-up (every run's rows read once): ${ms(startMs)}, ${d.feed.runs.size} runs, ${gc ? `heap and array buffers +${((held() - heapBefore) / 2 ** 20).toFixed(0)} MiB after a GC` : 'run with node --expose-gc for the heap it holds'}`,
);

// ---- page data: /api/state (runs and thinned curves), /api/runs, one run's rows

async function get(path: string): Promise<{ ms: number; bytes: number }> {
  const t = performance.now();
  const res = await fetch(d.url.replace(/\/$/, '') + path);
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  return { ms: performance.now() - t, bytes: body.byteLength };
}
for (const path of ['/api/state', '/api/runs', '/api/runs/bench-0001/rows?since=0', '/', '/assets/plotly.min.js']) {
  const times: number[] = [];
  let bytes = 0;
  for (let k = 0; k < 5; k++) {
    const r = await get(path);
    times.push(r.ms);
    bytes = r.bytes;
  }
  console.log(`GET ${path}: median ${ms(median(times))} (first ${ms(times[0]!)}), ${(bytes / 2 ** 20).toFixed(2)} MiB`);
}

// ---- update latency: append one row to a run's metrics.jsonl, time until its 'rows' event arrives on /events

const waiting = new Map<string, (at: number) => void>();
const sse = request({ host: '127.0.0.1', port: d.port, path: '/events' }, (res) => {
  let buf = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => {
    buf += c;
    let end: number;
    while ((end = buf.indexOf('\n\n')) !== -1) {
      const frame = buf.slice(0, end);
      buf = buf.slice(end + 2);
      if (!frame.startsWith('event: rows')) continue;
      const e = JSON.parse(/^data: (.*)$/m.exec(frame)![1]!) as { id: string; rows: { step: number }[] };
      for (const r of e.rows) waiting.get(`${e.id}:${r.step}`)?.(performance.now());
    }
  });
});
sse.end();
await new Promise((r) => setTimeout(r, 500));
const latencies: number[] = [];
for (let k = 0; k < UPDATES; k++) {
  const i = (k * 37) % RUNS;
  const id = `bench-${String(i).padStart(4, '0')}`;
  const step = d.feed.runs.get(id)!.lastStep + 1;
  const arrived = new Promise<number>((resolve, reject) => {
    waiting.set(`${id}:${step}`, resolve);
    setTimeout(() => reject(new Error(`no event for ${id} step ${step} within 5 s`)), 5000).unref();
  });
  const t = performance.now();
  appendFileSync(join(dir, id, 'metrics.jsonl'), encodeMetricLine(row(step, 8, sizes[0]!)));
  latencies.push((await arrived) - t);
  // a pause of varying length, so that the appends fall at every phase of the poll
  await new Promise((r) => setTimeout(r, 50 + ((k * 173) % 500)));
}
latencies.sort((a, b) => a - b);
console.log(
  `update latency over ${UPDATES} appends (${watch ? 'fs.watch, poll every 500 ms as the fallback' : 'the 500 ms poll alone'}): median ${ms(median(latencies))}, max ${ms(latencies.at(-1)!)}, min ${ms(latencies[0]!)}`,
);

// ---- the page in chromium: from navigation to the table and curves drawn

if (args.includes('--browser') && existsSync('/usr/bin/chromium')) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const t = performance.now();
  if (args.includes('--verbose')) {
    page.on('request', (r) => console.log(`  ${ms(performance.now() - t)} request ${r.url()}`));
    page.on('requestfinished', (r) => console.log(`  ${ms(performance.now() - t)} finished ${r.url()}`));
  }
  await page.goto(d.url);
  const loaded = performance.now() - t;
  await page.waitForFunction(() => (window as unknown as { __dash: { ready: boolean } }).__dash.ready, null, { timeout: 120_000 });
  const ready = performance.now() - t;
  await page.waitForFunction(() => ((document.getElementById('curve-train') as unknown as { data?: unknown[] }).data?.length ?? 0) > 0, null, {
    timeout: 120_000,
  });
  const drawn = performance.now() - t;
  const timings = await page.evaluate(() => (window as unknown as { __dash: { timings: Record<string, number> } }).__dash.timings);
  console.log(
    `chromium: page and scripts loaded ${ms(loaded)}, data loaded ${ms(ready)}, ${RUNS} runs' curves drawn ${ms(drawn)} (in the page: state applied ${ms(timings.load ?? NaN)}, table ${ms(timings.table ?? NaN)}, curves ${ms(timings.curves ?? NaN)})`,
  );
  await browser.close();
}

if (args.includes('--fits')) {
  t0 = performance.now();
  for (;;) {
    const f = (await (await fetch(d.url.replace(/\/$/, '') + '/api/fits')).json()) as { state: string; ms?: number; error?: string };
    if (f.state !== 'waiting') {
      console.log(`fits over ${RUNS} runs (child process, bootstrap 20): ${f.state}${f.error ? ` (${f.error})` : ''} in ${ms(f.ms ?? 0)}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

sse.destroy();
await d.close();
if (!args.includes('--keep') && reuse < 0) rmSync(dir, { recursive: true, force: true });
