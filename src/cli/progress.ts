// Progress for long work: a cli-progress bar on a terminal, a plain line every few seconds otherwise
// (logs, CI), nothing when quiet. Library layers report through callbacks; only the CLI draws.
import cliProgress from 'cli-progress';

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
}

export function createProgress(label: string, o: ProgressOptions): ProgressView {
  const stream = o.stream ?? process.stderr;
  if (o.quiet) return { update() {}, log() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} ${o.unit} | {fields} | eta {eta_formatted}`, stream, hideCursor: true, etaBuffer: 50 },
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
    stream.write(`${label} ${value}/${o.total} ${o.unit} | ${formatFields(fields)} | ${elapsed.toFixed(0)}s elapsed, eta ${Number.isFinite(eta) ? eta.toFixed(0) + 's' : '?'}\n`);
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
  return fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' | ') : '';
}
