// Progress reports for long data work (BPE training, corpus encoding): a callback type the library calls,
// and a stderr renderer that callers at the top (CLI, bench, trainer) may pass in. The library never prints.

export interface Progress {
  /** What is going on, e.g. 'train bpe-4096' or 'encode train'. */
  phase: string;
  done: number;
  total: number;
  /** Unit of done/total, e.g. 'merges', 'chars'. */
  unit: string;
}

export type ProgressFn = (p: Progress) => void;

/**
 * A renderer for stderr: one line rewritten in place on a TTY, and otherwise a line every ~10% so logs stay
 * short. Throttled to ~10 updates a second; the final update (done === total) is always shown.
 */
export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): ProgressFn {
  const tty = Boolean(stream.isTTY);
  let last = 0;
  let lastPhase = '';
  let lastDecile = -1;
  const started = new Map<string, number>();
  return (p) => {
    const now = Date.now();
    if (!started.has(p.phase)) started.set(p.phase, now);
    const finished = p.done >= p.total;
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
    const secs = ((now - started.get(p.phase)!) / 1000).toFixed(1);
    const line = `${p.phase}: ${(100 * frac).toFixed(0).padStart(3)}% (${fmt(p.done)}/${fmt(p.total)} ${p.unit}, ${secs}s)`;
    if (tty) {
      if (!finished && now - last < 100 && p.phase === lastPhase) return;
      stream.write(`\r\x1b[2K${line}${finished ? '\n' : ''}`);
    } else {
      const decile = Math.floor(frac * 10);
      if (!finished && p.phase === lastPhase && decile === lastDecile) return;
      lastDecile = decile;
      stream.write(`${line}\n`);
    }
    last = now;
    lastPhase = p.phase;
  };
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}
