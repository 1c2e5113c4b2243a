// Timing helpers for the benchmark scripts: wall-clock milliseconds, medians, and a note on machine load (a benchmark
// reports the 1-minute load average it ran under). They live with the engine benchmarks in src/engine/bench.ts.
export { machineNote, median, nowMs, timeRuns, type MachineNote } from '../src/engine/bench.ts';
