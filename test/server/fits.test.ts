// The dashboard's fits are the report's: on the same store, /api/fits holds the same fit tables and the same
// rendered charts as buildReport (what `scaling-lab report` runs), and it recomputes when a run lands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import { buildReport } from '../../src/report/build.ts';
import { fitSection } from '../../src/report/html.ts';
import { loadReportInput } from '../../src/report/source.ts';
import { startDashboard } from '../../src/server/http.ts';
import type { FitsSnapshot } from '../../src/server/fits.ts';
import { gridRecords } from '../report/fixtures.ts';
import { fakeRow, fakeRun } from './helpers.ts';

test('/api/fits is what buildReport gives on the same store, and follows a run that lands', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-fits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openStore(dir);
  t.after(() => store.close());
  for (const r of gridRecords()) {
    const { metrics, status: _status, ...meta } = r;
    const id = r.id.replace(/[^A-Za-z0-9._-]/g, '_');
    await store.putRun({ ...meta, id, spec: { fixture: id } });
    await store.appendMetrics(id, metrics);
    await store.setStatus(id, 'done');
  }
  const d = await startDashboard({ location: dir, port: 0, bootstrap: 10, seed: 3, fitGapMs: 500 });
  t.after(() => d.close());
  const fits = async (): Promise<FitsSnapshot> => (await (await fetch(`${d.url}api/fits`)).json()) as FitsSnapshot;
  const until = async (ok: (f: FitsSnapshot) => boolean): Promise<FitsSnapshot> => {
    for (const end = Date.now() + 90_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      const f = await fits();
      if (ok(f)) return f;
    }
    throw new Error(`fits not ready: ${JSON.stringify({ ...(await fits()), charts: undefined, tablesHtml: undefined })}`);
  };
  const first = await until((f) => f.state === 'ready');
  assert.equal(first.runs, 18);

  const report = await buildReport(await loadReportInput(dir), { bootstrap: 10, seed: 3, render: true });
  assert.equal(first.tablesHtml, fitSection(report), 'the fit tables are the report’s');
  assert.deepEqual(
    first.charts.map((c) => [c.id, c.status]),
    report.charts.map((c) => [c.id, c.status]),
  );
  const lnd = report.charts.find((c) => c.id === 'lnd-vs-n');
  assert.ok(lnd?.status === 'drawn' && lnd.svg);
  assert.equal(first.charts.find((c) => c.id === 'lnd-vs-n')?.svg, lnd.svg, 'the same rendered SVG');

  // a run lands: the fits are computed again, over one run more
  await store.putRun(fakeRun('late'));
  await store.appendMetrics('late', [fakeRow(1), fakeRow(2, 4)]);
  const second = await until((f) => f.generation > first.generation && f.runs === 19);
  assert.equal(second.state, 'ready');
});
