// `scaling-lab bench train|gemm|kernels`: the speed benchmarks of the engine (the timing code is src/engine/bench.ts).
// Parses and checks flags, runs one benchmark, prints a table for people or one JSON object with --json.
import { Command, Option } from 'commander';
import { benchGemm, benchKernels, benchTrain, type GemmBenchResult, type KernelsBenchResult, type TrainBenchResult } from '../../engine/bench.ts';
import { formatGrouped } from '../../util/format.ts';
import { int } from '../helpers.ts';
import { addDeprecatedAlias, sharedOption } from '../options.ts';

/** Milliseconds, rates and counts: thousands separators, one decimal unless said. */
const fmt = (x: number, decimals = 1): string => formatGrouped(x, decimals);

/** The model-shape flags every benchmark shares; defaults are the issue's depth-4 target. */
function modelFlags(cmd: Command): Command {
  return cmd
    .option('--depth <n>', 'model depth: n_layer = depth, d_model = 64 * depth, heads = depth', int('--depth', 1), 4)
    .option('--context <n>', 'sequence length T (also the model context)', int('--context', 1), 128)
    .option('--vocab <n>', 'vocabulary size V (random tokens below it)', int('--vocab', 1), 4096)
    .option('--batch <n>', 'sequences per step B', int('--batch', 1), 32)
    .addOption(sharedOption('threads'))
    .option('--json', 'print one JSON object instead of a table', false);
}

function printTrain(r: TrainBenchResult): void {
  console.log(
    `bench train: depth ${r.depth} (L ${r.nLayer}, d_model ${r.dModel}, heads ${r.nHead}), T ${r.context}, V ${r.vocab}, B ${r.batch}; ` +
      `${formatGrouped(r.params)} params (Kaplan N ${formatGrouped(r.paramsKaplan)})`,
  );
  console.log(
    `backend ${r.backend}${r.isa ? ` (${r.isa})` : ''}, ${r.threads} thread${r.threads === 1 ? '' : 's'}; load ${r.machine.load1} on ${r.machine.cores} cores`,
  );
  console.log(`step (median of ${r.stepMsAll.length}): ${fmt(r.stepMs)} ms   [${r.stepMsAll.map((x) => fmt(x, 0)).join(', ')}]`);
  console.log(`tokens/s: ${fmt(r.tokensPerSecond, 0)}   achieved: ${fmt(r.gflops)} GFLOP/s (${fmt(r.flopsPerToken / 1e6, 2)} MFLOP per token)`);
}

function printGemm(r: GemmBenchResult): void {
  console.log(
    `bench gemm: native (${r.isa}), ${r.threads} thread${r.threads === 1 ? '' : 's'}; shapes of depth ${r.depth}, T ${r.context}, V ${r.vocab}, B ${r.batch}; ` +
      `load ${r.machine.load1} on ${r.machine.cores} cores`,
  );
  console.log(
    `${'layer'.padEnd(8)} ${'variant'.padEnd(8)} ${'m'.padStart(6)} ${'n'.padStart(6)} ${'k'.padStart(6)} ${'ms'.padStart(9)} ${'GFLOP/s'.padStart(8)}`,
  );
  for (const s of r.shapes) {
    console.log(
      `${s.layer.padEnd(8)} ${s.variant.padEnd(8)} ${String(s.m).padStart(6)} ${String(s.n).padStart(6)} ${String(s.k).padStart(6)} ${fmt(s.ms, 2).padStart(9)} ${fmt(s.gflops).padStart(8)}`,
    );
  }
  console.log(
    `all shapes: forward ${fmt(r.byVariant.forward)}, dinp ${fmt(r.byVariant.dinp)}, dweight ${fmt(r.byVariant.dweight)}, overall ${fmt(r.overall)} GFLOP/s`,
  );
}

function printKernels(r: KernelsBenchResult): void {
  console.log(
    `bench kernels: depth ${r.depth}, T ${r.context}, V ${r.vocab}, B ${r.batch}; native threads ${r.threads}; load ${r.machine.load1} on ${r.machine.cores} cores`,
  );
  const both = r.backends.includes('native') && r.backends.includes('ts');
  console.log(`${'kernel'.padEnd(36)} ${r.backends.map((b) => `${b} ms`.padStart(11)).join(' ')}${both ? '   speed-up' : ''}`);
  for (const k of r.kernels) {
    const cols = r.backends.map((b) => fmt(k.ms[b], 2).padStart(11)).join(' ');
    console.log(`${k.kernel.padEnd(36)} ${cols}${both ? `   ${fmt(k.ms.ts / k.ms.native)}x`.padStart(11) : ''}`);
  }
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('time the engine: full training steps, the GEMM on model shapes, or each kernel (native vs TypeScript)');

  modelFlags(bench.command('train').description('median time of full training steps (forward, backward, AdamW) on random tokens, after warm-up'))
    .option('--steps <n>', 'timed steps (the median is reported)', int('--steps', 1), 5)
    .option('--warmup <n>', 'untimed steps first', int('--warmup', 0), 1)
    .addOption(sharedOption('backend'))
    .allowExcessArguments(false)
    .action((o) => {
      const r = benchTrain({
        depth: o.depth,
        context: o.context,
        vocab: o.vocab,
        batch: o.batch,
        steps: o.steps,
        warmup: o.warmup,
        backend: o.backend,
        threads: o.threads,
      });
      if (o.json) console.log(JSON.stringify(r));
      else printTrain(r);
    });

  modelFlags(bench.command('gemm').description("GFLOP/s of the native GEMM on a model's linear-layer shapes: forward, dinp and dweight products"))
    .option('--reps <n>', 'timed repetitions per shape (the median is reported)', int('--reps', 1), 5)
    .allowExcessArguments(false)
    .action((o) => {
      const r = benchGemm({ depth: o.depth, context: o.context, vocab: o.vocab, batch: o.batch, threads: o.threads, reps: o.reps });
      if (o.json) console.log(JSON.stringify(r));
      else printGemm(r);
    });

  const kernels = modelFlags(bench.command('kernels').description("milliseconds per kernel call on a model's shapes, native and TypeScript side by side"))
    .option('--reps <n>', 'timed repetitions per kernel (the median is reported; at most 2 for ts)', int('--reps', 1), 5)
    // not --backend: that flag picks the kernels a run uses; this one which implementations to time
    .addOption(new Option('--compare <which>', 'which kernel implementations to time: native, ts or both').choices(['native', 'ts', 'both']).default('both'))
    .allowExcessArguments(false);
  addDeprecatedAlias(kernels, '--backend <which>', '--compare');
  kernels.action((o) => {
    const backends: ('native' | 'ts')[] = o.compare === 'both' ? ['native', 'ts'] : [o.compare];
    const r = benchKernels({ depth: o.depth, context: o.context, vocab: o.vocab, batch: o.batch, threads: o.threads, reps: o.reps, backends });
    if (o.json) console.log(JSON.stringify(r));
    else printKernels(r);
  });
}
