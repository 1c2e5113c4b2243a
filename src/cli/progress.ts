// The one progress renderer: a cli-progress bar (or, for sweeps, a line per active run and a total) on a terminal,
// a plain line every few seconds otherwise (logs, CI), nothing when quiet. Library layers report through callbacks
// (training steps, sweep events, and the Progress events of src/util/progress.ts for data work); only the CLI draws.
import cliProgress from 'cli-progress';
import { formatCount, formatDuration } from '../util/format.ts';
import type { ProgressFn } from '../util/progress.ts';

export interface ProgressView {
  /** current position out of `total`, with named values shown after the bar */
  update(value: number, fields?: Record<string, string>): void;
  /** print a line without breaking the bar */
  log(line: string): void;
  stop(): void;
}

export interface ProgressOptions {
  total: number;
  /** what is counted, e.g. 'steps' */
  unit: string;
  quiet?: boolean;
  /** seconds between plain lines when not a TTY */
  plainEverySeconds?: number;
  stream?: NodeJS.WriteStream;
  /** show the position and total as 1.23M rather than 1234567 (for characters, tokens) */
  compactCounts?: boolean;
}

export function createProgress(label: string, o: ProgressOptions): ProgressView {
  const stream = o.stream ?? process.stderr;
  if (o.quiet) return { update() {}, log() {}, stop() {} };
  const count = o.compactCounts ? (v: number) => formatCount(v) : (v: number) => String(v);
  if (stream.isTTY) {
    const formatValue = (v: number, _options: unknown, type: string): string => (type === 'value' || type === 'total' ? count(v) : String(v));
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} ${o.unit} | {fields} | eta {eta_formatted}`,
        stream,
        hideCursor: true,
        etaBuffer: 50,
        ...(o.compactCounts ? { formatValue } : {}),
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(o.total, 0, { fields: '' });
    return {
      update: (value, fields) => bar.update(value, { fields: formatFields(fields) }),
      log: (line) => {
        stream.clearLine(0);
        stream.cursorTo(0);
        stream.write(`${line}\n`);
        bar.render();
      },
      stop: () => bar.stop(),
    };
  }
  const every = (o.plainEverySeconds ?? 5) * 1000;
  let last = 0;
  let lastValue = -1;
  const start = Date.now();
  const line = (value: number, fields?: Record<string, string>) => {
    const elapsed = (Date.now() - start) / 1000;
    const eta = value > 0 ? ((o.total - value) * elapsed) / value : NaN;
    const shown = fields && Object.keys(fields).length ? ` | ${formatFields(fields)}` : '';
    stream.write(`${label} ${count(value)}/${count(o.total)} ${o.unit}${shown} | ${formatDuration(elapsed)} elapsed, eta ${formatDuration(eta)}\n`);
  };
  let lastFields: Record<string, string> | undefined;
  return {
    update(value, fields) {
      lastFields = fields;
      lastValue = value;
      const now = Date.now();
      if (now - last >= every || value >= o.total) {
        last = now;
        line(value, fields);
      }
    },
    log: (l) => stream.write(`${l}\n`),
    stop() {
      if (lastValue >= 0 && lastValue < o.total) line(lastValue, lastFields);
    },
  };
}

function formatFields(fields?: Record<string, string>): string {
  return fields
    ? Object.entries(fields)
        .map(([k, v]) => `${k} ${v}`)
        .join(' | ')
    : '';
}

/**
 * A renderer for the library's Progress events (tokenizer training, corpus encoding): a bar (or plain lines) per
 * phase, drawn by createProgress with the counts shown as '1.23M/4.5M chars'; the view of a phase stops
 * when it reports done >= total or another phase starts.
 */
export function phaseProgress(o: Omit<ProgressOptions, 'total' | 'unit'> = {}): ProgressFn {
  let current: { phase: string; total: number; view: ProgressView } | undefined;
  return (p) => {
    if (o.quiet) return;
    if (current && (current.phase !== p.phase || current.total !== p.total)) {
      current.view.stop();
      current = undefined;
    }
    if (!current) current = { phase: p.phase, total: p.total, view: createProgress(p.phase, { ...o, total: p.total, unit: p.unit, compactCounts: true }) };
    current.view.update(p.done);
    if (p.done >= p.total) {
      current.view.stop();
      current = undefined;
    }
  };
}

// ---- many runs at once (sweeps): a line per active run and a total

export interface MultiProgressView {
  /** a run started: show a line for it */
  start(key: string, label: string, total: number): void;
  update(key: string, value: number, fields?: Record<string, string>): void;
  /** a run ended: drop its line and count it in the total */
  finish(key: string, line?: string): void;
  log(line: string): void;
  stop(): void;
}

export interface MultiProgressOptions {
  /** runs in the sweep (the total line counts finished ones) */
  total: number;
  /** already finished before this call */
  done?: number;
  quiet?: boolean;
  /** seconds between plain status lines when not a TTY */
  plainEverySeconds?: number;
  stream?: NodeJS.WriteStream;
}

export function createMultiProgress(label: string, o: MultiProgressOptions): MultiProgressView {
  const stream = o.stream ?? process.stderr;
  let done = o.done ?? 0;
  if (o.quiet) return { start() {}, update() {}, finish: () => void done++, log() {}, stop() {} };
  if (stream.isTTY) {
    const multi = new cliProgress.MultiBar(
      { format: '{label} [{bar}] {value}/{total} {unit} | {fields}', stream, hideCursor: true, clearOnComplete: false, autopadding: true },
      cliProgress.Presets.shades_classic,
    );
    const totalBar = multi.create(o.total, done, { label: label.padEnd(28), unit: 'runs', fields: '' });
    const bars = new Map<string, cliProgress.SingleBar>();
    return {
      start(key, runLabel, total) {
        bars.get(key)?.stop();
        if (bars.has(key)) multi.remove(bars.get(key)!);
        bars.set(key, multi.create(total, 0, { label: runLabel.padEnd(28), unit: 'steps', fields: '' }));
      },
      update: (key, value, fields) => bars.get(key)?.update(value, { fields: formatFields(fields) }),
      finish(key, line) {
        const bar = bars.get(key);
        if (bar) multi.remove(bar);
        bars.delete(key);
        totalBar.update(++done);
        if (line) multi.log(`${line}\n`);
      },
      log: (line) => multi.log(`${line}\n`),
      stop: () => multi.stop(),
    };
  }
  // plain: one status line every few seconds with every active run, and a line per finished run
  const every = (o.plainEverySeconds ?? 5) * 1000;
  const active = new Map<string, { label: string; value: number; total: number; fields?: Record<string, string> }>();
  const statusLine = () => {
    const runs = [...active.values()].map((r) => `${r.label} ${r.value}/${r.total}${r.fields ? ` ${formatFields(r.fields)}` : ''}`);
    stream.write(`${label}: ${done}/${o.total} runs finished${runs.length ? ` | ${runs.join(' | ')}` : ''}\n`);
  };
  const timer = setInterval(statusLine, every);
  timer.unref();
  return {
    start: (key, runLabel, total) => void active.set(key, { label: runLabel, value: 0, total }),
    update(key, value, fields) {
      const r = active.get(key);
      if (r) Object.assign(r, { value, fields });
    },
    finish(key, line) {
      active.delete(key);
      done++;
      if (line) stream.write(`${line}\n`);
    },
    log: (line) => stream.write(`${line}\n`),
    stop() {
      clearInterval(timer);
      statusLine();
    },
  };
}
