// Timing helpers shared by the benchmarks: wall-clock milliseconds, medians, and a note on machine load
// (this VM is shared; a benchmark reports the 1-minute load average it ran under).
import { loadavg, availableParallelism } from 'node:os';

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Runs fn `warmup` times untimed, then `reps` times timed; returns each timed run's milliseconds. */
export function timeRuns(fn: () => void, reps: number, warmup: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = nowMs();
    fn();
    ms.push(nowMs() - t0);
  }
  return ms;
}

export interface MachineNote {
  cores: number;
  /** 1-minute load average when the benchmark finished */
  load1: number;
}

export function machineNote(): MachineNote {
  return { cores: availableParallelism(), load1: Math.round(loadavg()[0] * 100) / 100 };
}
