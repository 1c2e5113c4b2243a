// `scaling-lab bench train|gemm|kernels`: the speed benchmarks of the engine (the timing code is in bench/).
// Parses and checks flags, runs one benchmark, prints a table for people or one JSON object with --json.
import { Command, InvalidArgumentError, Option } from 'commander';
import { benchTrain, type TrainBenchResult } from '../../../bench/train.ts';
import { benchGemm, type GemmBenchResult } from '../../../bench/gemm.ts';
import { benchKernels, type KernelsBenchResult } from '../../../bench/kernels.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got '${value}'.`);
  }
  return n;
}

function nonNegativeInt(value: string): number {
  return value.trim() === '0' ? 0 : positiveInt(value);
}

const THREADS_HELP = 'threads for the native kernels (default: all cores)';

/** The model-shape flags every benchmark shares; defaults are the issue's depth-4 target. */
function modelFlags(cmd: Command): Command {
  return cmd
    .option('--depth <n>', 'model depth: n_layer = depth, d_model = 64 * depth, heads = depth', positiveInt, 4)
    .option('--context <n>', 'sequence length T (also the model context)', positiveInt, 128)
    .option('--vocab <n>', 'vocabulary size V (random tokens below it)', positiveInt, 4096)
    .option('--batch <n>', 'sequences per step B', positiveInt, 32)
    .option('--threads <n>', THREADS_HELP, positiveInt)
    .option('--json', 'print one JSON object instead of a table', false);
}

function fmt(x: number, digits = 1): string {
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function printTrain(r: TrainBenchResult): void {
  console.log(`bench train: depth ${r.depth} (L ${r.nLayer}, d_model ${r.dModel}, heads ${r.nHead}), T ${r.context}, V ${r.vocab}, B ${r.batch}; ` +
    `${r.params.toLocaleString('en-US')} params (Kaplan N ${r.paramsKaplan.toLocaleString('en-US')})`);
  console.log(`backend ${r.backend}${r.isa ? ` (${r.isa})` : ''}, ${r.threads} thread${r.threads === 1 ? '' : 's'}; load ${r.machine.load1} on ${r.machine.cores} cores`);
  console.log(`step (median of ${r.stepMsAll.length}): ${fmt(r.stepMs)} ms   [${r.stepMsAll.map((x) => fmt(x, 0)).join(', ')}]`);
  console.log(`tokens/s: ${fmt(r.tokensPerSecond, 0)}   achieved: ${fmt(r.gflops)} GFLOP/s (${fmt(r.flopsPerToken / 1e6, 2)} MFLOP per token)`);
}

function printGemm(r: GemmBenchResult): void {
  console.log(`bench gemm: native (${r.isa}), ${r.threads} thread${r.threads === 1 ? '' : 's'}; shapes of depth ${r.depth}, T ${r.context}, V ${r.vocab}, B ${r.batch}; ` +
    `load ${r.machine.load1} on ${r.machine.cores} cores`);
  console.log(`${'layer'.padEnd(8)} ${'variant'.padEnd(8)} ${'m'.padStart(6)} ${'n'.padStart(6)} ${'k'.padStart(6)} ${'ms'.padStart(9)} ${'GFLOP/s'.padStart(8)}`);
  for (const s of r.shapes) {
    console.log(`${s.layer.padEnd(8)} ${s.variant.padEnd(8)} ${String(s.m).padStart(6)} ${String(s.n).padStart(6)} ${String(s.k).padStart(6)} ${fmt(s.ms, 2).padStart(9)} ${fmt(s.gflops).padStart(8)}`);
  }
  console.log(`all shapes: forward ${fmt(r.byVariant.forward)}, dinp ${fmt(r.byVariant.dinp)}, dweight ${fmt(r.byVariant.dweight)}, overall ${fmt(r.overall)} GFLOP/s`);
}

function printKernels(r: KernelsBenchResult): void {
  console.log(`bench kernels: depth ${r.depth}, T ${r.context}, V ${r.vocab}, B ${r.batch}; native threads ${r.threads}; load ${r.machine.load1} on ${r.machine.cores} cores`);
  const both = r.backends.includes('native') && r.backends.includes('ts');
  console.log(`${'kernel'.padEnd(36)} ${r.backends.map((b) => `${b} ms`.padStart(11)).join(' ')}${both ? '   speed-up' : ''}`);
  for (const k of r.kernels) {
    const cols = r.backends.map((b) => fmt(k.ms[b], 2).padStart(11)).join(' ');
    console.log(`${k.kernel.padEnd(36)} ${cols}${both ? `   ${fmt(k.ms.ts / k.ms.native)}x`.padStart(11) : ''}`);
  }
}

export function registerBench(program: Command): void {
  const bench = program
    .command('bench')
    .description('time the engine: full training steps, the GEMM on model shapes, or each kernel (native vs TypeScript)');

  modelFlags(bench.command('train').description('median time of full training steps (forward, backward, AdamW) on random tokens, after warm-up'))
    .option('--steps <n>', 'timed steps (the median is reported)', positiveInt, 5)
    .option('--warmup <n>', 'untimed steps first', nonNegativeInt, 1)
    .addOption(new Option('--backend <name>', 'kernels: native (C addon), ts (TypeScript reference) or auto').choices(['native', 'ts', 'auto']).default('native'))
    .allowExcessArguments(false)
    .action((o) => {
      const r = benchTrain({ depth: o.depth, context: o.context, vocab: o.vocab, batch: o.batch, steps: o.steps, warmup: o.warmup,
        backend: o.backend, threads: o.threads });
      if (o.json) console.log(JSON.stringify(r));
      else printTrain(r);
    });

  modelFlags(bench.command('gemm').description('GFLOP/s of the native GEMM on a model\'s linear-layer shapes: forward, dinp and dweight products'))
    .option('--reps <n>', 'timed repetitions per shape (the median is reported)', positiveInt, 5)
    .allowExcessArguments(false)
    .action((o) => {
      const r = benchGemm({ depth: o.depth, context: o.context, vocab: o.vocab, batch: o.batch, threads: o.threads, reps: o.reps });
      if (o.json) console.log(JSON.stringify(r));
      else printGemm(r);
    });

  modelFlags(bench.command('kernels').description('milliseconds per kernel call on a model\'s shapes, native and TypeScript side by side'))
    .option('--reps <n>', 'timed repetitions per kernel (the median is reported; at most 2 for ts)', positiveInt, 5)
    .addOption(new Option('--backend <name>', 'which kernels to time').choices(['native', 'ts', 'both']).default('both'))
    .allowExcessArguments(false)
    .action((o) => {
      const backends: ('native' | 'ts')[] = o.backend === 'both' ? ['native', 'ts'] : [o.backend];
      const r = benchKernels({ depth: o.depth, context: o.context, vocab: o.vocab, batch: o.batch, threads: o.threads, reps: o.reps, backends });
      if (o.json) console.log(JSON.stringify(r));
      else printKernels(r);
    });
}
