// The dashboard's fit process (forked by fits.ts): on each request it reads the store and builds the report with the
// same code as `scaling-lab report` (report/build.ts), and sends back the charts and fit tables the page shows.
import { buildReport } from '../report/build.ts';
import { fitSection } from '../report/html.ts';
import { loadReportInput } from '../report/source.ts';
import type { FitRequest, FitReply } from './fits.ts';

process.on('message', (msg: FitRequest) => {
  void (async () => {
    const started = Date.now();
    let reply: FitReply;
    try {
      const input = await loadReportInput(msg.location);
      const report = await buildReport(input, { bootstrap: msg.bootstrap, seed: msg.seed, nCount: msg.nCount, render: true });
      reply = {
        ok: true,
        ms: Date.now() - started,
        runs: input.records.length,
        charts: report.charts.map((c) =>
          c.status === 'drawn'
            ? { id: c.id, title: c.title, status: c.status, caption: c.caption, svg: c.svg, ...(c.plotly && { plotly: c.plotly }) }
            : { id: c.id, title: c.title, status: c.status, reason: c.reason },
        ),
        tablesHtml: fitSection(report),
        warnings: report.warnings,
      };
    } catch (err) {
      const e = err as Error & { hint?: string };
      reply = { ok: false, ms: Date.now() - started, message: e.message, ...(e.hint !== undefined ? { hint: String(e.hint) } : { stack: e.stack }) };
    }
    process.send!(reply);
  })();
});
