// One training run: data -> model -> steps with gradient accumulation, evaluation, the noise-scale
// probe, metric rows and checkpoints in the store; resumes bit for bit. Drawing progress is the CLI's.
import { trainStep, loadKernels, type Kernels } from '../engine/index.ts';
import { prepareDataset, type Dataset } from '../data/index.ts';
import { BatchSampler, evalBatches, type Batch } from '../data/sampler.ts';
import type { ProgressFn } from '../util/progress.ts';
import type { MetricRow, RunStatus } from '../analysis/records.ts';
import { hostname } from 'node:os';
import { StoreError, type NewRun, type Store, type StoredRun } from '../store/store.ts';
import { holdRun, type HeldRun } from './hold.ts';
import { evalSteps, modelShape, runId, runName, totalSteps, type ExecOptions, type RunConfig } from './config.ts';
import { learningRate } from './schedule.ts';
import { NoiseProbe, type NoiseProbeState } from './noise.ts';
import { decodeCheckpoint, encodeCheckpoint, kernelsChange, kernelsInfo, verifyCheckpoint } from './checkpoint.ts';
import { buildRunModel } from './probe.ts';

/**
 * Bumped when a change to the trainer changes what a run computes, so old runs are not mistaken for new.
 * 2: metric rows' gradSq and traceSigma are the raw per-step unbiased estimates (were their EMAs); the spec
 * carries the eval schedule when one is given.
 */
export const TRAINER_VERSION = 2;
const TRAINER_CHANGES = 'version 2 logs raw per-step noise estimates in gradSq and traceSigma, version 1 their EMAs';

export interface RunHooks {
  /** after every step: the step just done, and the row if one was logged */
  onStep?(info: { step: number; totalSteps: number; trainLoss: number; testLoss?: number; tokensPerSecond: number; row?: MetricRow }): void;
  /** one-line messages worth showing (resumed from step k, data notices, ...) */
  onNotice?(message: string): void;
  /** data preparation progress (tokenizer training, encoding) */
  onDataProgress?: ProgressFn;
  /** checked between steps: when aborted, the run checkpoints, flushes and returns 'interrupted' */
  signal?: AbortSignal;
  /** a dataset already prepared for this config (sweeps share one across runs) */
  dataset?: Dataset;
  /** the sweep this run belongs to */
  sweep?: string;
  /** recorded in the 'running' status (e.g. host:pid), so `scaling-lab status` shows who holds the run */
  worker?: string;
  /** 1 for the first try; executors count retries after a crash */
  attempt?: number;
  /**
   * Take the run even from a live holder (whose later writes the store then refuses): for executors that already own
   * the run (a queue job lock, a local slot). Without it a run held by a live process is refused (StoreError 'held').
   */
  takeOver?: boolean;
  /** the run's lease lapses this long after the last renewal (default: the store's, 60 s) */
  leaseMs?: number;
}

export interface RunOutcome {
  id: string;
  name: string;
  status: RunStatus | 'interrupted';
  /** steps completed */
  step: number;
  totalSteps: number;
  /** steps this call trained (0 when the run was already finished) */
  stepsTrained: number;
  finalTrainLoss?: number;
  finalTestLoss?: number;
  tokensPerSecond?: number;
  message?: string;
}

/**
 * The outcomes of one run, for both trainers (run.ts, external.ts): `outcome` for any status, `finished` for a run
 * found done or diverged, which is reported from its stored rows and not trained again.
 */
export function runOutcomes(store: Store, id: string, name: string, totalSteps: number) {
  const outcome = (status: RunOutcome['status'], step: number, extra: Partial<RunOutcome> = {}): RunOutcome => ({
    id,
    name,
    status,
    step,
    totalSteps,
    stepsTrained: 0,
    ...extra,
  });
  const finished = async (status: RunStatus): Promise<RunOutcome> => {
    const rows = await store.readMetrics(id);
    const last = rows.at(-1);
    const lastTest = rows.findLast((r) => r.testLoss !== undefined)?.testLoss;
    return outcome(status, last?.step ?? 0, { finalTrainLoss: last?.trainLoss, finalTestLoss: lastTest, message: 'already finished; not re-trained' });
  };
  return { outcome, finished };
}

/** The spec stored with the run: the config plus what it resolved to (the data's identity). */
export interface StoredSpec {
  trainer: number;
  config: RunConfig;
  dataset: string;
  vocab: number;
}

/** Rows are written at least this often, and always before a checkpoint. */
const FLUSH_MS = 2000;
/** The 'running' status's step is refreshed at most this often. */
const STATUS_MS = 2000;

export async function trainRun(config: RunConfig, exec: ExecOptions, store: Store, hooks: RunHooks = {}): Promise<RunOutcome> {
  const id = runId(config);
  const name = runName(config);
  const steps = totalSteps(config);
  const T = config.context;
  const micro = config.microBatch ?? config.batch;
  const nMicro = config.batch / micro;

  // ---- data and model
  const dataset =
    hooks.dataset ??
    (await prepareDataset({
      corpus: config.corpus,
      tokenizer: config.tokenizer,
      testFraction: config.testFraction,
      textField: config.textField,
      chunkChars: config.chunkChars,
      cacheDir: exec.cacheDir,
      onNotice: hooks.onNotice,
      onProgress: hooks.onDataProgress,
    }));
  const kernels: Kernels = loadKernels({ backend: exec.backend, threads: exec.threads });
  const { gpt, optimizer } = buildRunModel(config, dataset.vocabSize, kernels);
  const counts = gpt.paramCounts();
  const flopsPerToken = gpt.flopsPerToken(T).kaplan;
  const divergeLoss = config.divergeLoss ?? 1.5 * Math.log(dataset.vocabSize) + 1;

  // ---- the run's record: an existing run with another spec is refused by the store
  const spec: StoredSpec = { trainer: TRAINER_VERSION, config, dataset: dataset.id, vocab: dataset.vocabSize };
  const stored = await putRunExplained(store, {
    id,
    name,
    spec,
    sweep: hooks.sweep,
    model: { ...modelShape(config), vocab: dataset.vocabSize, context: T },
    paramsKaplan: counts.kaplan,
    paramsTotal: counts.total,
    batchSize: config.batch,
    context: T,
    batchTokens: config.batch * T,
    lr: config.lr,
    warmupSteps: config.warmupSteps,
    seed: config.seed,
    // grouping fields (a scan's analysis groups runs by model size x sweep x schedule x data)
    schedule: config.schedule,
    data: `${dataset.key.corpus}/${dataset.tokenizer.name}`,
  });
  const { outcome, finished: alreadyFinished } = runOutcomes(store, id, name, steps);
  const rowSteps = (upTo: number) => expectedRowSteps(config, upTo);
  // a finished status is believed only if the checkpoint and the rows bear it out; otherwise it is corrected, saying so
  let reopen: string | undefined;
  if (stored.state.status === 'done' || stored.state.status === 'diverged') {
    const problem = await finishedStatusProblem(store, id, stored, steps, divergeLoss, rowSteps);
    if (problem === undefined) return alreadyFinished(stored.state.status);
    reopen = `the status said ${stored.state.status}${stored.state.step !== undefined ? ` at step ${stored.state.step}` : ''} but ${problem}; corrected and resumed`;
    hooks.onNotice?.(`warning: ${id}: ${reopen}`);
  }

  // ---- one writer per run: take the run's lease; every write below carries its epoch, so once another process takes
  // the run over, this one's writes are refused (StoreError 'fenced') and it stops
  const me = `${hostname()}:${process.pid}`;
  const holderName = hooks.worker !== undefined ? `worker ${hooks.worker} (trainer ${me})` : `train ${me}`;
  return holdRun(store, id, holderName, { takeOver: hooks.takeOver, leaseMs: hooks.leaseMs, reopen }, alreadyFinished, trainHeld);

  async function trainHeld({ fence, due, heartbeat }: HeldRun): Promise<RunOutcome> {
    // ---- resume from the checkpoint, dropping rows written after it (they are recomputed bit for bit). The rows up to
    // the checkpoint must be there, each once: a short or damaged log cannot be filled in, so the run restarts from 0.
    const probe = new NoiseProbe(config.noiseBeta);
    let step = 0;
    let wallMsBefore = 0;
    const ckpt = await store.loadCheckpoint(id);
    const kernelsNow = kernelsInfo(kernels);
    if (ckpt) {
      const source = `the checkpoint of run ${id} in the ${store.kind} store ${store.location}`;
      const c = decodeCheckpoint(ckpt.bytes, source);
      const n = gpt.params.length;
      verifyCheckpoint(
        c,
        { runId: id, step: ckpt.step, tensors: { params: n, m: n, v: n }, state: { t: 'number', wallMs: 'number', noise: 'object' } },
        source,
      );
      const mismatch = rowsMismatch(await store.readMetrics(id), rowSteps(ckpt.step));
      if (mismatch !== undefined) {
        hooks.onNotice?.(
          `warning: ${id}: its metric rows do not match its checkpoint at step ${ckpt.step} (${mismatch}); restarting the run from step 0 (the rows are recomputed, bit for bit)`,
        );
      } else {
        const changed = kernelsChange(c.state.kernels, kernelsNow);
        if (changed !== undefined) hooks.onNotice?.(`${id}: ${changed}`);
        gpt.loadParams(c.tensors.params);
        optimizer.setState({ m: c.tensors.m, v: c.tensors.v, t: c.state.t as number });
        probe.setState(c.state.noise as NoiseProbeState);
        wallMsBefore = c.state.wallMs as number;
        step = c.step;
        hooks.onNotice?.(`resuming ${id} from its checkpoint at step ${step} of ${steps}`);
      }
    }
    await store.truncateMetricsAfter(id, step, fence);
    const holder = { worker: hooks.worker, attempt: hooks.attempt };
    await store.setStatus(id, 'running', { step, ...holder }, fence);

    const saveCheckpoint = async () => {
      const bytes = encodeCheckpoint({
        runId: id,
        step,
        state: { t: optimizer.t, noise: probe.getState(), wallMs: wallMsBefore + (performance.now() - started), kernels: kernelsNow },
        tensors: { params: gpt.params, m: optimizer.m, v: optimizer.v },
      });
      await store.saveCheckpoint(id, step, bytes, fence);
    };

    // ---- the loop
    const schedule = {
      kind: config.schedule,
      lr: config.lr,
      warmupSteps: config.warmupSteps,
      minLrRatio: config.minLrRatio,
      decayFraction: config.decayFraction,
    };
    const sampler = new BatchSampler(dataset.train, micro, T, config.seed);
    const microBatches: Batch[] = Array.from({ length: nMicro }, () => ({
      B: micro,
      T,
      inputs: new Int32Array(micro * T),
      targets: new Int32Array(micro * T),
    }));
    const evalSet = evalBatches(dataset.test, micro, T, config.evalWindows);
    const evalAt = new Set(evalSteps(config));
    const evaluate = () => {
      let sum = 0,
        n = 0;
      for (const b of evalSet) {
        sum += gpt.evaluate(b.inputs, b.targets, b.B, b.T) * b.B;
        n += b.B;
      }
      return sum / n;
    };
    const started = performance.now();
    const firstStep = step;
    let pending: MetricRow[] = [];
    let lastFlush = performance.now();
    let lastStatus = performance.now();
    const flush = async () => {
      if (pending.length) await store.appendMetrics(id, pending, fence);
      pending = [];
      lastFlush = performance.now();
      // the lease's heartbeat, a quarter of its length apart (between steps: a step longer than the lease lets another
      // process take the run over, and this one is then fenced out at its next write)
      await heartbeat();
      // the 'running' status carries the step reached, refreshed at most every STATUS_MS (sweep watchers read it)
      if (lastFlush - lastStatus >= STATUS_MS && step < steps) {
        lastStatus = lastFlush;
        await store.setStatus(id, 'running', { step, ...holder }, fence);
      }
    };
    let trainLoss = NaN;
    let testLoss: number | undefined;

    while (step < steps) {
      if (hooks.signal?.aborted) {
        await flush();
        await saveCheckpoint();
        await store.setStatus(id, 'pending', { step, message: 'interrupted; run the same command to resume' }, fence);
        return outcome('interrupted', step, { stepsTrained: step - firstStep, finalTrainLoss: trainLoss });
      }
      step++;
      for (let k = 0; k < nMicro; k++) sampler.batch(step, k, microBatches[k]);
      const lr = learningRate(schedule, step, steps);
      const r = trainStep(gpt, optimizer, microBatches, micro, T, { lr, clip: config.gradClip });
      trainLoss = r.loss;
      const wallMs = wallMsBefore + (performance.now() - started);
      const row: MetricRow = {
        step,
        tokens: step * config.batch * T,
        flops: step * config.batch * T * flopsPerToken,
        trainLoss,
        lr,
        gradNorm: r.gradNorm,
        wallMs,
      };

      // McCandlish et al. 2018 App. A.1: B_small = one micro-batch, B_big = the accumulated batch. The row keeps
      // this step's raw unbiased |G|^2 and tr(Sigma) (analysis averages them over a loss bin: a ratio of means, with
      // no EMA lag that depends on the run's length); bSimple is the EMA ratio, for live progress.
      if (nMicro >= 2 && config.noiseInterval > 0 && step % config.noiseInterval === 0 && Number.isFinite(r.gradSq)) {
        const e = probe.update({ bSmall: micro, bBig: config.batch, microGradSq: r.microGradSq, gradSq: r.gradSq });
        Object.assign(row, { bSimple: e.bSimple, bSimpleTokens: e.bSimple * T, gradSq: e.raw.gradSq, traceSigma: e.raw.traceSigma });
      }

      if (!Number.isFinite(trainLoss) || trainLoss > divergeLoss) {
        pending.push(row);
        await flush();
        const message = `train loss ${trainLoss} at step ${step} (threshold ${divergeLoss.toFixed(2)})`;
        await store.setStatus(id, 'diverged', { step, message }, fence);
        return outcome('diverged', step, { stepsTrained: step - firstStep, finalTrainLoss: trainLoss, message });
      }

      const isEval = evalAt.has(step);
      if (isEval) {
        testLoss = evaluate();
        row.testLoss = testLoss;
      }
      const logged = isEval || step % config.logEvery === 0;
      if (logged) pending.push(row);
      const tokensPerSecond = ((step - firstStep) * config.batch * T) / ((performance.now() - started) / 1000);
      hooks.onStep?.({ step, totalSteps: steps, trainLoss, testLoss, tokensPerSecond, row: logged ? row : undefined });

      if (step % exec.checkpointEvery === 0 || step === steps) {
        await flush();
        await saveCheckpoint();
      } else if (performance.now() - lastFlush >= FLUSH_MS || due()) {
        await flush();
      }
    }

    await flush();
    await store.setStatus(id, 'done', { step }, fence);
    const tokensPerSecond = ((step - firstStep) * config.batch * T) / ((performance.now() - started) / 1000);
    return outcome('done', step, { stepsTrained: step - firstStep, finalTrainLoss: trainLoss, finalTestLoss: testLoss, tokensPerSecond });
  }
}

/**
 * Why a run the store calls done or diverged is not (undefined: it is, or it is not finished). For executors deciding
 * which runs to skip: a run with a problem should go to trainRun, which corrects its status (saying so) and resumes.
 * Reads the rows and the checkpoint's step, not the checkpoint.
 */
export async function finishedRunProblem(store: Store, config: RunConfig): Promise<string | undefined> {
  const id = runId(config);
  const run = await store.getRun(id);
  if (run === undefined || (run.state.status !== 'done' && run.state.status !== 'diverged')) return undefined;
  const vocab = (run.spec as Partial<StoredSpec>).vocab ?? run.model?.vocab;
  const divergeLoss = config.divergeLoss ?? (vocab === undefined ? Infinity : 1.5 * Math.log(vocab) + 1);
  return finishedStatusProblem(store, id, run, totalSteps(config), divergeLoss, (upTo) => expectedRowSteps(config, upTo));
}

/** The steps at which a run logs a metric row, up to `upTo`: every logEvery-th step and every evaluation. */
function expectedRowSteps(config: RunConfig, upTo: number): number[] {
  const evals = new Set(evalSteps(config));
  const out: number[] = [];
  for (let s = 1; s <= upTo; s++) if (s % config.logEvery === 0 || evals.has(s)) out.push(s);
  return out;
}

/** How the stored rows up to a step differ from the expected ones (undefined: they match). */
function rowsMismatch(rows: readonly MetricRow[], expected: readonly number[]): string | undefined {
  const upTo = expected.at(-1) ?? 0;
  const have = new Set(rows.filter((r) => r.step <= upTo).map((r) => r.step));
  const want = new Set(expected);
  const missing = expected.filter((s) => !have.has(s));
  const extra = [...have].filter((s) => !want.has(s) && s <= upTo);
  const list = (xs: number[]) => (xs.length <= 6 ? xs.join(', ') : `${xs.slice(0, 3).join(', ')}, ..., ${xs.slice(-2).join(', ')}`);
  const parts = [
    ...(missing.length ? [`${missing.length} of ${expected.length} rows missing: steps ${list(missing)}`] : []),
    ...(extra.length ? [`${extra.length} unexpected rows at steps ${list(extra)}`] : []),
  ];
  return parts.length ? parts.join('; ') : undefined;
}

/**
 * Why a run stored as done or diverged is not (undefined: it is). Done: the checkpoint is at the last step and every
 * row is there. Diverged: the row of the step it diverged at shows the loss that ended it, and the rows before are there.
 */
async function finishedStatusProblem(
  store: Store,
  id: string,
  run: StoredRun,
  steps: number,
  divergeLoss: number,
  rowSteps: (upTo: number) => number[],
): Promise<string | undefined> {
  const rows = await store.readMetrics(id);
  if (run.state.status === 'done') {
    const at = await store.checkpointStep(id).catch(() => undefined);
    if (at === undefined) return `there is no readable checkpoint (a done run has one at step ${steps})`;
    if (at !== steps) return `its checkpoint is at step ${at} of ${steps}`;
    const mismatch = rowsMismatch(rows, rowSteps(steps));
    return mismatch === undefined ? undefined : `its metric rows are incomplete (${mismatch})`;
  }
  const at = run.state.step ?? rows.at(-1)?.step ?? 0;
  const last = rows.find((r) => r.step === at);
  if (last === undefined || (Number.isFinite(last.trainLoss) && last.trainLoss <= divergeLoss)) return `no row at step ${at} shows a diverged loss`;
  const mismatch = rowsMismatch(
    rows.filter((r) => r.step < at),
    rowSteps(at - 1),
  );
  return mismatch === undefined ? undefined : `its metric rows are incomplete (${mismatch})`;
}

/**
 * store.putRun, with a clearer refusal for a run that an older trainer made under the same id (ids hash the config,
 * not the trainer version): say which versions, what changed, and what to do.
 */
async function putRunExplained(store: Store, run: NewRun & { spec: StoredSpec }): Promise<StoredRun> {
  try {
    return await store.putRun(run);
  } catch (err) {
    if (!(err instanceof StoreError) || err.code !== 'spec-mismatch') throw err;
    const existing = await store.getRun(run.id).catch(() => undefined);
    const trainer = (existing?.spec as Partial<StoredSpec> | undefined)?.trainer;
    if (trainer === undefined || trainer === TRAINER_VERSION) throw err;
    throw new StoreError(
      'spec-mismatch',
      `run '${run.id}' in the ${store.kind} store ${store.location} was trained by trainer version ${trainer}; this is version ${TRAINER_VERSION}, whose metric rows differ (${TRAINER_CHANGES})`,
      store.kind === 'file'
        ? `delete ${store.location}/${run.id} to train it again with this version, or use another --store`
        : 'delete the run from the store to train it again with this version, or use another ?schema=',
      { cause: err },
    );
  }
}
