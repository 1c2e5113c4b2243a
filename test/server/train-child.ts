// A training run in its own process for the dashboard's browser test: the tiny run (test/helpers/tiny-run.ts) with
// more steps, slowed by a sleep after each step so that its curve visibly grows. argv: store, steps, lr, sleep ms.
import { openStore } from '../../src/store/store.ts';
import { trainRun } from '../../src/train/run.ts';
import { parseRunConfig } from '../../src/train/config.ts';
import { TINY_RUN } from '../helpers/tiny-run.ts';

const [storeDir, steps, lr, sleepMs] = process.argv.slice(2);
const config = parseRunConfig({ ...TINY_RUN, steps: Number(steps), lr: Number(lr), evalInterval: 5, warmupSteps: 1 });
const store = await openStore(storeDir!);
const pause = new Int32Array(new SharedArrayBuffer(4));
const outcome = await trainRun(config, { backend: 'auto', threads: 1, store: storeDir!, checkpointEvery: 1000, cacheDir: null }, store, {
  sweep: 'browser',
  onStep: () => void Atomics.wait(pause, 0, 0, Number(sleepMs)),
});
await store.close();
console.log(JSON.stringify({ id: outcome.id, status: outcome.status, step: outcome.step }));
