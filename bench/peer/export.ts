// Exports what bench/peer/torch_run.py needs to train exactly our runs in PyTorch (issue 11, "a PyTorch peer
// for the trainer"): for every run of a sweep spec, our initial parameters (GPT with the run's seed, slab
// order), the window offsets our sampler draws per (step, micro-batch), the LR of every step (our schedule,
// which the Python side recomputes and checks), the eval steps, and once per dataset the train and test
// tokens and the eval-window offsets. PyTorch then consumes exactly our batches from exactly our init.
//
//   npx tsx bench/peer/export.ts bench/peer/scan-d1.yaml --out /tmp/peer/export-d1
//
// Layout of --out (little-endian):
//   data-<dataset id>/train.u16, test.u16      token ids (uint16; the dataset's Uint16Array as is)
//   runs/<run name>/run.json                  the run config + what it resolves to (see below)
//   runs/<run name>/params.f32                float32[P] initial parameters in slab order (src/engine/config.ts)
//   runs/<run name>/offsets.i32               int32[steps][nMicro][micro] training-window starts
//   runs/<run name>/lr.f64                    float64[steps] learning rate of steps 1..steps
import { mkdir, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GPT, kernelsRef, paramTable, validateConfig } from '../../src/engine/index.ts';
import { prepareDataset, BatchSampler, evalOffsets, type Dataset } from '../../src/data/index.ts';
import { loadSweepSpec, expandSweep } from '../../src/sweep/spec.ts';
import { modelShape, runId, runName, totalSteps, type RunConfig } from '../../src/train/config.ts';
import { learningRate } from '../../src/train/schedule.ts';

/**
 * The steps at which the trainer evaluates: src/train/config.ts evalSteps(config) where this checkout has it (the
 * interval and log schedules), else run.ts's older rule (step % evalInterval === 0 or the last step), refusing a
 * config with an eval schedule that rule does not know rather than guessing.
 */
async function evalStepsOf(c: RunConfig, steps: number): Promise<number[]> {
  const mod = (await import('../../src/train/config.ts')) as Record<string, unknown>;
  if (typeof mod.evalSteps === 'function') return (mod.evalSteps as (c: RunConfig) => number[])(c);
  const extra = c as Record<string, unknown>;
  if ((extra.evalSchedule ?? 'interval') !== 'interval')
    throw new Error('run config has an eval schedule this checkout cannot compute; update bench/peer/export.ts');
  const out: number[] = [];
  for (let s = 1; s <= steps; s++) if (s % c.evalInterval === 0 || s === steps) out.push(s);
  return out;
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, only: { type: 'string' }, steps: { type: 'string' } },
  });
  if (positionals.length !== 1 || !values.out) {
    console.error('usage: npx tsx bench/peer/export.ts SPEC.yaml --out DIR [--only NAME,NAME] [--steps N (cap, for validation)]');
    process.exit(2);
  }
  const spec = await loadSweepSpec(positionals[0]);
  let configs = expandSweep(spec);
  if (values.only) {
    const keep = new Set(values.only.split(','));
    configs = configs.filter((c) => keep.has(runName(c)));
  }
  const cap = values.steps ? Number(values.steps) : Infinity;
  const datasets = new Map<string, Dataset>();
  for (const c of configs) {
    const dkey = `${c.corpus}|${c.tokenizer}|${c.testFraction}`;
    let ds = datasets.get(dkey);
    if (!ds) {
      ds = await prepareDataset({ corpus: c.corpus, tokenizer: c.tokenizer, testFraction: c.testFraction });
      datasets.set(dkey, ds);
      if (!(ds.train instanceof Uint16Array)) throw new Error(`dataset ${ds.id}: tokens are not uint16 (vocab ${ds.vocabSize}); extend the exporter`);
    }
    const dataDir = join(values.out, `data-${ds.id}`);
    if (!(await exists(join(dataDir, 'test.u16')))) {
      await mkdir(dataDir, { recursive: true });
      await writeFile(join(dataDir, 'train.u16'), bytes(ds.train));
      await writeFile(join(dataDir, 'test.u16'), bytes(ds.test));
    }
    const T = c.context;
    const micro = c.microBatch ?? c.batch;
    const nMicro = c.batch / micro;
    const steps = Math.min(totalSteps(c), cap);
    const fullSteps = totalSteps(c);
    const gptConfig = validateConfig({ ...modelShape(c), vocab: ds.vocabSize, context: T });
    const gpt = new GPT(gptConfig, kernelsRef, { seed: c.seed, maxMicroBatch: 1 });
    const sampler = new BatchSampler(ds.train, micro, T, c.seed);
    const offsets = new Int32Array(steps * nMicro * micro);
    let o = 0;
    for (let s = 1; s <= steps; s++) for (let k = 0; k < nMicro; k++) for (const off of sampler.offsets(s, k)) offsets[o++] = off;
    const schedule = { kind: c.schedule, lr: c.lr, warmupSteps: c.warmupSteps, minLrRatio: c.minLrRatio, decayFraction: c.decayFraction };
    const lr = new Float64Array(steps);
    for (let s = 1; s <= steps; s++) lr[s - 1] = learningRate(schedule, s, fullSteps);
    const name = runName(c);
    const dir = join(values.out, 'runs', name);
    await mkdir(dir, { recursive: true });
    const info = {
      name,
      id: runId(c),
      sweep: spec.name,
      config: c,
      model: gptConfig,
      dataDir: `data-${ds.id}`,
      dataset: ds.id,
      vocab: ds.vocabSize,
      micro,
      nMicro,
      steps,
      totalSteps: fullSteps,
      evalSteps: (await evalStepsOf(c, fullSteps)).filter((s) => s <= steps || (steps < fullSteps && s === steps)),
      evalOffsets: evalOffsets(ds.test, T, c.evalWindows),
      table: paramTable(gptConfig).map((t) => ({ name: t.name, shape: t.shape, offset: t.offset, size: t.size, decay: t.decay })),
      nParams: gpt.params.length,
    };
    // a capped (validation) export evaluates at its last step too, as the trainer does at a run's last step
    if (steps < fullSteps && !info.evalSteps.includes(steps)) info.evalSteps.push(steps);
    await writeFile(join(dir, 'run.json'), JSON.stringify(info, null, 1));
    await writeFile(join(dir, 'params.f32'), bytes(gpt.params));
    await writeFile(join(dir, 'offsets.i32'), bytes(offsets));
    await writeFile(join(dir, 'lr.f64'), bytes(lr));
    console.log(`${name}: ${steps} steps x ${nMicro} x ${micro} sequences, ${gpt.params.length} params, ${info.evalSteps.length} evals -> ${dir}`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
