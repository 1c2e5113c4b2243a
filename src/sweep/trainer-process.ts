// The parent's handle on one trainer child process (worker-entry.ts): fork it, hand it one run at a time over IPC,
// relay its step events, ask it to checkpoint and stop, notice when it dies. Scheduling is local.ts's and queue.ts's.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecOptions, RunConfig } from '../train/config.ts';
import type { RunOutcome } from '../train/run.ts';

// ---- the IPC protocol

export interface RunJob {
  config: RunConfig;
  exec: ExecOptions;
  sweep: string;
  /** recorded in the run's status: which worker holds it, and which try this is */
  worker: string;
  attempt: number;
  /** how the trainer opens a postgres:// store: the outage window and statement timeout (errors.ts, postgres-store.ts) */
  store?: StoreTimeouts;
}

/** What the CLI's --outage-window and --statement-timeout set for every store a sweep, worker or trainer opens. */
export interface StoreTimeouts {
  /** how long a store call waits out an outage before it fails (default errors.ts DEFAULT_OUTAGE_WINDOW_MS) */
  outageWindowMs?: number;
  /** PostgreSQL statement_timeout (default 60 s) */
  statementTimeoutMs?: number;
}

export type ToChild = { type: 'run'; job: RunJob } | { type: 'stop' };

export type FromChild =
  | { type: 'step'; id: string; step: number; totalSteps: number; trainLoss: number; testLoss?: number; tokensPerSecond: number }
  | { type: 'notice'; message: string }
  | { type: 'outcome'; outcome: RunOutcome }
  /** transient: an outage that outlasted the window (worth another attempt later); code: a StoreError's code */
  | { type: 'error'; message: string; hint?: string; transient?: boolean; code?: string }
  /** a store call has been outstanding since this Date.now() (null: none is, any more); sent on change, ~1 s grain */
  | { type: 'store'; busySince: number | null };

/** The child died (killed, out of memory, a native crash) while it held a run. */
export class TrainerCrash extends Error {
  override name = 'TrainerCrash';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(message);
  }
}

/** The run threw inside the child (bad corpus, store error): not a crash, and retrying will not help if it has a hint. */
export class TrainerError extends Error {
  override name = 'TrainerError';
  constructor(
    message: string,
    readonly hint?: string,
    /** the store or queue stayed unreachable past the outage window: another attempt later may succeed */
    readonly transient = false,
    /** the StoreError code, when the run threw one ('fenced': this holder was replaced; stop, do not retry) */
    readonly code?: string,
  ) {
    super(message);
  }

  /** Retrying cannot help: a hint names something to fix (bad corpus, spec clash, fenced), unless it was an outage. */
  get final(): boolean {
    return this.hint !== undefined && !this.transient;
  }
}

const entry = fileURLToPath(new URL('./worker-entry.ts', import.meta.url));
// tsx's loader, resolved from here so the child starts whatever the current directory is
const tsxLoader = import.meta.resolve('tsx');

export type StepEvent = Extract<FromChild, { type: 'step' }>;

export class TrainerProcess {
  private readonly child: ChildProcess;
  private current?: { resolve: (o: RunOutcome) => void; reject: (e: Error) => void; onStep?: (e: StepEvent) => void; onNotice?: (m: string) => void };
  private exited = false;
  private readonly exit: Promise<void>;
  /** Date.now() since which one of the trainer's store calls has been outstanding (a stuck or unreachable store) */
  storeBusySince?: number;

  private constructor() {
    this.child = fork(entry, [], { execArgv: ['--import', tsxLoader], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: process.env });
    this.exit = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        const cur = this.current;
        this.current = undefined;
        cur?.reject(new TrainerCrash(`trainer process ${this.child.pid} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`, code, signal));
        resolve();
      });
    });
    this.child.on('error', () => {}); // exit follows; a send to a dead child must not throw out of here
    this.child.on('message', (m: FromChild) => {
      if (m.type === 'store') {
        this.storeBusySince = m.busySince ?? undefined;
        return;
      }
      const cur = this.current;
      if (!cur) return;
      switch (m.type) {
        case 'step':
          cur.onStep?.(m);
          break;
        case 'notice':
          cur.onNotice?.(m.message);
          break;
        case 'outcome':
          this.current = undefined;
          cur.resolve(m.outcome);
          break;
        case 'error':
          this.current = undefined;
          cur.reject(new TrainerError(m.message, m.hint, m.transient, m.code));
          break;
        default:
          m satisfies never;
      }
    });
  }

  static start(): TrainerProcess {
    return new TrainerProcess();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.exited;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Runs one job; rejects with TrainerCrash if the process dies, TrainerError if the run throws. */
  run(job: RunJob, hooks: { onStep?: (e: StepEvent) => void; onNotice?: (m: string) => void } = {}): Promise<RunOutcome> {
    if (this.exited) return Promise.reject(new TrainerCrash(`trainer process ${this.pid} is gone`, null, null));
    if (this.current) return Promise.reject(new Error(`trainer process ${this.pid} is busy`));
    return new Promise<RunOutcome>((resolve, reject) => {
      this.current = { resolve, reject, ...hooks };
      this.send({ type: 'run', job });
    });
  }

  /** Asks the current run to checkpoint and return 'interrupted' (no-op when idle). */
  stop(): void {
    this.send({ type: 'stop' });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Lets an idle child exit (it leaves when its IPC channel closes); kills it after `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exit;
    clearTimeout(timer);
  }

  private send(message: ToChild): void {
    if (!this.exited && this.child.connected) this.child.send(message, (err) => void err);
  }
}
