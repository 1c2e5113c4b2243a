// An external trainer's run (issue 17; docs/ARCHITECTURE.md 4.9): the command template filled from the config, the
// child in its own process group, its JSON-lines metrics tailed while it runs and stored as our rows, under the lease.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hostname } from 'node:os';
import type { MetricRow } from '../analysis/records.ts';
import type { Store } from '../store/store.ts';
import { holdRun, type HeldRun } from './hold.ts';
import { ConfigError, modelShape, runId, runName, totalSteps, type ExecOptions, type RunConfig, type TrainerSpec } from './config.ts';
import { learningRate } from './schedule.ts';
import { runOutcomes, type RunHooks, type RunOutcome } from './run.ts';

// ---- errors

/**
 * An external run that failed. With a hint it fails the same way every time (malformed metrics, stopped short of its
 * budget, no metrics): the executors do not retry it. Without one (a crash, a hang) it is retried, resuming.
 */
export class ExternalRunError extends Error {
  override name = 'ExternalRunError';
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

// ---- the command template

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Where the run's own files go: {run_dir} is `<root>/<run id>`. */
export function externalRunDir(config: RunConfig, exec: Pick<ExecOptions, 'store'>): string {
  // a file store keeps them beside its runs (a dot directory, which it does not list); a shared store has no directory
  const root = config.trainer?.runDir ?? (/^postgres(ql)?:\/\//i.test(exec.store) ? 'runs-external' : join(exec.store, '.external'));
  return resolve(root, runId(config));
}

/**
 * The values a template may name: every config key (camelCase and snake_case), the model shape, the trainer's extra
 * keys, and derived ones: steps (total optimiser steps), tokens, micro_batch, run_dir, metrics, run_id, name.
 */
function templateValues(config: RunConfig, runDir: string): Record<string, string> {
  const steps = totalSteps(config);
  const { trainer: _trainer, extra, ...fields } = config;
  const values: Record<string, unknown> = {
    ...fields,
    ...modelShape(config),
    tokens: config.tokens ?? steps * config.batch * config.context,
    ...extra,
    steps,
    microBatch: config.microBatch ?? config.batch,
    runDir,
    metrics: join(runDir, 'metrics.jsonl'),
    runId: runId(config),
    name: runName(config),
  };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out[key] = String(value);
    out[snake(key)] = String(value);
  }
  return out;
}

/** A value as one shell word: bare when it is safe, else in single quotes. */
const shellWord = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Fills `{key}` from `values` (each shell-quoted); a key not there is refused, naming it, the run and the keys there are. */
function fillTemplate(template: string, values: Record<string, string>, run: string, what = 'command'): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, key: string) => {
    const value = values[key];
    if (value === undefined) {
      throw new ConfigError(
        `the trainer ${what} names {${key}}, which run ${run} does not have; keys available: ${Object.keys(values)
          .filter((k) => !/[A-Z]/.test(k))
          .sort()
          .join(', ')}`,
        `fix the trainer ${what}, or add ${key} to the spec's base or axes (an external trainer may take keys of its own)`,
      );
    }
    return shellWord(value);
  });
}

/** The command line of a run: the template, the flag mapping, and (resuming) the resume template. */
export function externalCommand(config: RunConfig, runDir: string, resuming: boolean): string {
  const trainer = config.trainer;
  if (trainer === undefined) throw new Error('externalCommand: the config has no trainer section');
  const values = templateValues(config, runDir);
  const id = runId(config);
  const parts = [fillTemplate(trainer.command, values, id)];
  for (const [key, flag] of Object.entries(trainer.flags ?? {})) {
    if (values[key] === undefined) fillTemplate(`{${key}}`, values, id, `flags.${key}`);
    parts.push(`${flag} ${shellWord(values[key])}`);
  }
  if (resuming && trainer.resume !== undefined) parts.push(fillTemplate(trainer.resume, values, id, 'resume'));
  return parts.join(' ');
}

// ---- the metrics protocol

/** One parsed protocol line: the MetricRow fields it gave (missing ones filled when the step's row is stored). */
export type ProtocolRow = Partial<MetricRow> & { step: number };

const NON_FINITE: Record<string, number> = { nan: NaN, inf: Infinity, infinity: Infinity, '-inf': -Infinity, '-infinity': -Infinity };
const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' ? NON_FINITE[v.toLowerCase()] : undefined);

const ALIASES: [keyof MetricRow, string[]][] = [
  ['trainLoss', ['train_loss', 'trainLoss']],
  ['testLoss', ['test_loss', 'testLoss']],
  ['tokens', ['tokens']],
  ['lr', ['lr']],
  ['gradNorm', ['grad_norm', 'gradNorm']],
  ['wallMs', ['wall_ms', 'wallMs']],
  ['flops', ['flops']],
  ['gradSq', ['grad_sq', 'gradSq']],
  ['traceSigma', ['trace_sigma', 'traceSigma']],
];

/**
 * Parses one protocol line (a JSON object); throws a message saying what is wrong. |G|^2 and tr(Sigma) come as given
 * (grad_sq, trace_sigma) or from the micro-batch gradient norms (McCandlish et al. 2018 App. A.1, B_small = the
 * micro-batch, B_big = all of them: |G|^2 = (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small),
 * tr(Sigma) = (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big), |G_small|^2 the mean over micro-batches).
 */
export function parseProtocolLine(line: string): ProtocolRow {
  let obj: unknown;
  try {
    // Python's json.dumps writes NaN and Infinity bare, which JSON does not allow: read them as strings
    obj = JSON.parse(line.replace(/(?<=[:[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])/g, '"$1"'));
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('not a JSON object');
  const o = obj as Record<string, unknown>;
  const step = o.step;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 1) throw new Error(`'step' must be an integer >= 1 (got ${JSON.stringify(step)})`);
  const row: ProtocolRow = { step };
  for (const [key, names] of ALIASES) {
    const name = names.find((n) => o[n] !== undefined && o[n] !== null);
    if (name === undefined) continue;
    const v = num(o[name]);
    if (v === undefined) throw new Error(`'${name}' must be a number (got ${JSON.stringify(o[name])})`);
    row[key] = v;
  }
  if (row.trainLoss === undefined && row.testLoss === undefined) throw new Error("neither 'train_loss' nor 'test_loss' given");
  const norms = o.micro_grad_norms ?? o.microGradNorms;
  if (norms !== undefined && row.gradSq === undefined) {
    const micro = num(o.micro_batch ?? o.microBatch);
    if (!Array.isArray(norms) || norms.some((n) => typeof n !== 'number')) throw new Error("'micro_grad_norms' must be an array of numbers");
    if (norms.length >= 2 && micro !== undefined && micro > 0 && row.gradNorm !== undefined) {
      const bSmall = micro;
      const bBig = micro * norms.length;
      const small = (norms as number[]).reduce((s, n) => s + n * n, 0) / norms.length;
      const big = row.gradNorm * row.gradNorm;
      row.gradSq = (bBig * big - bSmall * small) / (bBig - bSmall);
      row.traceSigma = (small - big) / (1 / bSmall - 1 / bBig);
    } else if (norms.length >= 2) throw new Error("'micro_grad_norms' needs 'grad_norm' and 'micro_batch' beside it");
  }
  return row;
}

// ---- reading lines as they come

/**
 * Reads a file's complete lines as it grows, from a byte offset: each poll reads only what was added; a partial last
 * line waits for its newline; a file that shrank (rewritten) is read again from the start.
 */
export class LineTail {
  private offset = 0;
  private partial = '';
  /** lines handed out so far (1-based line numbers for messages) */
  lineNo = 0;
  constructor(readonly path: string) {}

  async poll(): Promise<{ line: string; lineNo: number }[]> {
    const fh = await open(this.path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (fh === undefined) return [];
    try {
      const { size } = await fh.stat();
      if (size < this.offset) {
        this.offset = 0;
        this.partial = '';
        this.lineNo = 0;
      }
      if (size === this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      this.offset += bytesRead;
      return this.feed(buf.subarray(0, bytesRead).toString('utf8'));
    } finally {
      await fh.close();
    }
  }

  /** Splits text into complete lines (also for stdout): the unfinished end is kept for the next call. */
  feed(text: string): { line: string; lineNo: number }[] {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    return parts.map((line) => ({ line: line.replace(/\r$/, ''), lineNo: ++this.lineNo }));
  }

  /** The unfinished last line, once the writer is gone (a line without its newline). */
  rest(): { line: string; lineNo: number }[] {
    const line = this.partial;
    this.partial = '';
    return line.trim() === '' ? [] : [{ line, lineNo: ++this.lineNo }];
  }
}

// ---- the run

const POLL_MS = 200;
const STATUS_MS = 2000;
const STDERR_LINES = 20;
/** after SIGTERM, how long the trainer may take to save and leave before SIGKILL */
const TERM_GRACE_MS = 10_000;

/** Every running external trainer's process group, killed if this process exits (a parent that dies leaves no orphans). */
const groups = new Set<number>();
let exitHookInstalled = false;
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // gone already
  }
}
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => groups.forEach((pid) => killGroup(pid, 'SIGKILL')));
}

/**
 * A watchdog outside our process (a SIGKILL of ours runs no exit hook): it kills the trainer's group once our pid is
 * gone, and leaves by itself once the group is.
 */
function startWatchdog(groupPid: number): ChildProcess {
  const dog = spawn(
    '/bin/sh',
    [
      '-c',
      'while kill -0 "$0" 2>/dev/null && kill -0 -"$1" 2>/dev/null; do sleep 1; done; kill -KILL -"$1" 2>/dev/null',
      String(process.pid),
      String(groupPid),
    ],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  dog.unref();
  return dog;
}

/** The status message of a failed launch: what happened, the command, the stderr tail. */
function faultMessage(what: string, command: string, stderr: string[]): string {
  const tail = stderr.length ? `\nstderr (last ${stderr.length} lines):\n  ${stderr.join('\n  ')}` : '\nstderr: (empty)';
  return `${what}\ncommand: ${command}${tail}`;
}

/** One launch of the trainer: its command line, how it ended, the tail of its stderr. */
interface Launch {
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string[];
}

/**
 * Runs one config through its external trainer: the same contract as trainRun (run record, lease with takeOver,
 * fenced writes, rows keyed by step, 'running' status with the step, outcome), with the child process as the loop.
 */
export async function runExternal(config: RunConfig, exec: ExecOptions, store: Store, hooks: RunHooks = {}): Promise<RunOutcome> {
  if (config.trainer === undefined) throw new Error('runExternal: the config has no trainer section');
  const trainer: TrainerSpec = config.trainer;
  const id = runId(config);
  const name = runName(config);
  const steps = totalSteps(config);
  const T = config.context;
  const shape = modelShape(config);
  // Kaplan's N from the shape (12 n_layer d_model^2, METHODS.md 3.1); the total count needs the trainer's vocabulary,
  // which it does not tell us, so it is the same number here
  const paramsKaplan = 12 * shape.nLayer * shape.dModel * shape.dModel;
  const runDir = externalRunDir(config, exec);
  const metricsPath = join(runDir, 'metrics.jsonl');
  externalCommand(config, runDir, true); // a template naming a missing key fails here, before anything is stored

  const stored = await store.putRun({
    id,
    name,
    spec: { trainer: `external:${trainer.name}`, config: { ...config, trainer: { name: trainer.name, command: trainer.command, flags: trainer.flags } } },
    sweep: hooks.sweep,
    paramsKaplan,
    paramsTotal: paramsKaplan,
    batchSize: config.batch,
    context: T,
    batchTokens: config.batch * T,
    lr: config.lr,
    warmupSteps: config.warmupSteps,
    seed: config.seed,
    schedule: config.schedule,
    data: `${config.corpus}/${config.tokenizer}`,
    trainer: trainer.name,
  });
  const { outcome, finished } = runOutcomes(store, id, name, steps);
  // a run that finished is never relaunched
  if (stored.state.status === 'done' || stored.state.status === 'diverged') return finished(stored.state.status);

  const me = `${hostname()}:${process.pid}`;
  const holderName = hooks.worker !== undefined ? `worker ${hooks.worker} (external ${trainer.name} via ${me})` : `external ${me}`;
  return holdRun(store, id, holderName, { takeOver: hooks.takeOver, leaseMs: hooks.leaseMs }, finished, held);

  async function held({ fence, heartbeat }: HeldRun): Promise<RunOutcome> {
    const before = await store.readMetrics(id);
    const storedSteps = new Set(before.map((r) => r.step));
    let lastStored = before.at(-1);
    const firstStep = lastStored?.step ?? 0;
    const wallBefore = lastStored?.wallMs ?? 0;
    const resuming = before.length > 0;
    const command = externalCommand(config, runDir, resuming);
    const holder = { worker: hooks.worker, attempt: hooks.attempt };
    await mkdir(runDir, { recursive: true });
    // the metrics file is ours to read from the start: what an earlier launch wrote is in the store already
    await rm(metricsPath, { force: true });
    await store.setStatus(id, 'running', { step: firstStep, ...holder }, fence);
    if (resuming) hooks.onNotice?.(`resuming ${id} with ${trainer.name}'s resume flag from stored step ${firstStep} of ${steps}`);

    // ---- launch: its own process group, so a kill reaches whatever it started
    installExitHook();
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: trainer.cwd,
      env: { ...process.env, ...trainer.env, PYTHONUNBUFFERED: '1' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    if (pid !== undefined) groups.add(pid);
    const watchdog = pid !== undefined ? startWatchdog(pid) : undefined;
    const launch: Launch = { command, exitCode: null, signal: null, stderr: [] };
    let exited = false;
    const exit = new Promise<void>((res) => {
      child.once('error', (err) => {
        launch.stderr.push(`spawn failed: ${err.message}`);
        exited = true;
        res();
      });
      child.once('exit', (code, signal) => {
        launch.exitCode = code;
        launch.signal = signal;
        exited = true;
        res();
      });
    });
    let stderrPartial = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (stderrPartial + d).split('\n');
      stderrPartial = lines.pop()!;
      launch.stderr.push(...lines);
      if (launch.stderr.length > STDERR_LINES) launch.stderr.splice(0, launch.stderr.length - STDERR_LINES);
    });
    const tail = new LineTail(trainer.metrics === 'file' ? metricsPath : '(stdout)');
    const stdoutLines: { line: string; lineNo: number }[] = [];
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (trainer.metrics === 'stdout') stdoutLines.push(...tail.feed(d));
    });
    const stop = (signal: NodeJS.Signals) => {
      if (pid !== undefined && !exited) killGroup(pid, signal);
    };
    const source = trainer.metrics === 'file' ? `the metrics file ${metricsPath}` : `the stdout of ${trainer.name}`;

    // ---- rows: one per step; the latest step is held open until a later step comes, so an eval line merges in
    let open: ProtocolRow | undefined;
    let pending: MetricRow[] = [];
    let seenLines = 0;
    let lastLineAt = performance.now();
    let lastStatus = performance.now();
    let lastStep = firstStep;
    let lastTrain: number | undefined;
    let lastTest: number | undefined;
    const started = performance.now();
    const schedule = {
      kind: config.schedule,
      lr: config.lr,
      warmupSteps: config.warmupSteps,
      minLrRatio: config.minLrRatio,
      decayFraction: config.decayFraction,
    };
    const complete = (r: ProtocolRow): MetricRow => {
      const tokens = r.tokens ?? r.step * config.batch * T;
      return {
        step: r.step,
        tokens,
        // Kaplan's C = 6ND when the trainer does not count its FLOPs (METHODS.md 3.2)
        flops: r.flops ?? 6 * paramsKaplan * tokens,
        trainLoss: r.trainLoss ?? NaN,
        // the config's schedule when the trainer does not say (the LR-weighted step axis needs one)
        lr: r.lr ?? learningRate(schedule, r.step, steps),
        gradNorm: r.gradNorm ?? NaN,
        wallMs: r.wallMs ?? wallBefore + (performance.now() - started),
        ...(r.testLoss !== undefined && { testLoss: r.testLoss }),
        ...(r.gradSq !== undefined && { gradSq: r.gradSq }),
        ...(r.traceSigma !== undefined && { traceSigma: r.traceSigma }),
        ...(r.gradSq !== undefined && r.traceSigma !== undefined && { bSimple: r.traceSigma / r.gradSq, bSimpleTokens: (r.traceSigma / r.gradSq) * T }),
      };
    };
    const close = () => {
      if (open === undefined) return;
      const row = complete(open);
      open = undefined;
      if (storedSteps.has(row.step)) return; // a restarted trainer repeating a step duplicates nothing
      storedSteps.add(row.step);
      pending.push(row);
      lastStored = row;
      if (Number.isFinite(row.trainLoss)) lastTrain = row.trainLoss;
      if (row.testLoss !== undefined) lastTest = row.testLoss;
    };
    const take = (lines: { line: string; lineNo: number }[]) => {
      for (const { line, lineNo } of lines) {
        if (line.trim() === '') continue;
        if (trainer.metrics === 'stdout' && !line.trimStart().startsWith('{')) continue; // other output is the trainer's
        let row: ProtocolRow;
        try {
          row = parseProtocolLine(line);
        } catch (err) {
          throw new ExternalRunError(
            `run ${id}: line ${lineNo} of ${source} is not a metrics line: ${(err as Error).message}; the line starts ${JSON.stringify(line.slice(0, 80))}`,
            'each line must be one JSON object with an integer step >= 1 and train_loss and/or test_loss (docs/ARCHITECTURE.md 4.9)',
          );
        }
        seenLines++;
        lastLineAt = performance.now();
        if (open !== undefined && row.step === open.step) {
          // the same step again (an eval after the train line): its fields merge into the step's one row
          open = { ...open, ...Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined)), step: row.step };
        } else {
          close();
          open = row;
        }
        lastStep = Math.max(lastStep, row.step);
        const tokensPerSecond = ((lastStep - firstStep) * config.batch * T) / Math.max(1e-3, (performance.now() - started) / 1000);
        const shown = complete(open);
        hooks.onStep?.({ step: shown.step, totalSteps: steps, trainLoss: shown.trainLoss, testLoss: shown.testLoss, tokensPerSecond, row: shown });
      }
    };
    const flush = async () => {
      if (pending.length) await store.appendMetrics(id, pending, fence);
      pending = [];
      const now = performance.now();
      await heartbeat();
      if (now - lastStatus >= STATUS_MS) {
        lastStatus = now;
        await store.setStatus(id, 'running', { step: lastStored?.step ?? firstStep, ...holder }, fence);
      }
    };
    const read = async () => take(trainer.metrics === 'file' ? await tail.poll() : stdoutLines.splice(0));

    // ---- the loop: read what came, store it, renew, watch for a hang or an abort
    let hung = false;
    let aborted = false;
    try {
      while (!exited) {
        await Promise.race([exit, new Promise((r) => setTimeout(r, POLL_MS))]);
        await read();
        await flush();
        if (hooks.signal?.aborted && !aborted) {
          aborted = true;
          stop('SIGTERM');
          setTimeout(() => stop('SIGKILL'), TERM_GRACE_MS).unref();
        }
        if (!exited && !aborted && performance.now() - lastLineAt > trainer.timeout * 1000) {
          hung = true;
          stop('SIGKILL');
          await exit;
        }
      }
      await read();
      take(tail.rest());
      close();
      await flush();
    } catch (err) {
      stop('SIGKILL');
      await exit;
      // a malformed line: what it ran and what it said go with the cause
      if (err instanceof ExternalRunError) throw new ExternalRunError(faultMessage(err.message, command, launch.stderr.slice(-STDERR_LINES)), err.hint);
      throw err;
    } finally {
      if (pid !== undefined) groups.delete(pid);
      if (watchdog?.pid !== undefined) killGroup(watchdog.pid, 'SIGKILL');
      if (pid !== undefined) killGroup(pid, 'SIGKILL'); // anything it left running in its group
    }
    if (stderrPartial.trim() !== '') launch.stderr.push(stderrPartial);
    launch.stderr = launch.stderr.slice(-STDERR_LINES);

    const reached = lastStored?.step ?? 0;
    const stats = {
      stepsTrained: Math.max(0, reached - firstStep),
      finalTrainLoss: lastTrain,
      finalTestLoss: lastTest,
      tokensPerSecond: ((reached - firstStep) * config.batch * T) / Math.max(1e-3, (performance.now() - started) / 1000),
    };
    if (aborted) {
      await store.setStatus(id, 'pending', { step: reached, message: 'interrupted; run the same command to resume' }, fence);
      return outcome('interrupted', reached, stats);
    }
    const how = launch.signal ? `was killed by ${launch.signal}` : `exited with code ${launch.exitCode}`;
    if (hung) {
      throw new ExternalRunError(
        faultMessage(
          `run ${id}: ${trainer.name} wrote no metrics line for ${trainer.timeout} s (hung; killed at step ${reached} of ${steps})`,
          command,
          launch.stderr,
        ),
      );
    }
    if (launch.exitCode !== 0) {
      const none = seenLines === 0 ? ` (no metrics line in ${source})` : '';
      throw new ExternalRunError(faultMessage(`run ${id}: ${trainer.name} ${how} at step ${reached} of ${steps}${none}`, command, launch.stderr));
    }
    if (seenLines === 0 && before.length === 0) {
      throw new ExternalRunError(
        faultMessage(`run ${id}: ${trainer.name} exited with code 0 but wrote no metrics to ${source}`, command, launch.stderr),
        trainer.metrics === 'file' ? 'the trainer must write JSON lines to the path given by {metrics}' : 'the trainer must print JSON lines on stdout',
      );
    }
    const last = lastStored;
    const divergeLoss = config.divergeLoss ?? Infinity;
    if (last !== undefined && reached < steps && (!Number.isFinite(last.trainLoss) || last.trainLoss > divergeLoss) && last.testLoss === undefined) {
      const message = `train loss ${last.trainLoss} at step ${reached}; ${trainer.name} stopped there`;
      await store.setStatus(id, 'diverged', { step: reached, message }, fence);
      return outcome('diverged', reached, { ...stats, message });
    }
    if (reached < steps) {
      throw new ExternalRunError(
        faultMessage(`run ${id}: ${trainer.name} exited with code 0 at step ${reached}, short of its budget of ${steps} steps`, command, launch.stderr),
        `the trainer must run to --steps ({steps} = ${steps}) and log that step`,
      );
    }
    await store.setStatus(id, 'done', { step: reached }, fence);
    return outcome('done', reached, stats);
  }
}
