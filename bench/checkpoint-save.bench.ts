// Save time of a depth-2 checkpoint (d_model 128, byte vocabulary, context 64: batch-scan-small's d2; params and AdamW
// m and v, 5.25 MB) through the trainer's format and the file store: encodeCheckpoint, then FileStore.saveCheckpoint,
// then loadCheckpoint + decodeCheckpoint, REPS times after 3 warm-ups; prints the medians (wall and CPU).
//   node --import tsx bench/checkpoint-save.bench.ts [REPO_ROOT=.] [STORE_PARENT=/tmp] [REPS=40]
// REPO_ROOT may be another checkout of scaling-lab (e.g. an older commit, `git archive REV src package.json | tar -x
// -C DIR` with node_modules linked in), so the same script times two versions. A tmpfs STORE_PARENT (/dev/shm) keeps
// fsync from dominating.
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const parent = process.argv[3] ?? '/tmp';
const reps = Number(process.argv[4] ?? 40);
const { GPT, AdamW, kernelsRef, validateConfig } = await import(join(root, 'src/engine/index.ts'));
const { encodeCheckpoint, decodeCheckpoint } = await import(join(root, 'src/train/checkpoint.ts'));
const { openStore } = await import(join(root, 'src/store/store.ts'));

const g = validateConfig({ nLayer: 2, dModel: 128, nHead: 2, vocab: 256, context: 64 });
const gpt = new GPT(g, kernelsRef, { seed: 0, maxMicroBatch: 8 });
const opt = new AdamW(gpt, {});
const state = { t: 100, noise: { emaGradSq: 0.5, emaTrace: 3.25, count: 17 }, wallMs: 1234.5, kernels: { backend: 'ts', threads: 1 } };
const store = await openStore(mkdtempSync(join(parent, 'checkpoint-bench-')));
await store.putRun({ id: 'r1', name: 'd2', paramsKaplan: 1, paramsTotal: 1, batchSize: 8, context: 64, batchTokens: 512, spec: {} });

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const series: Record<string, number[]> = { encodeMs: [], saveMs: [], encodeSaveMs: [], loadDecodeMs: [], encodeCpuMs: [], encodeSaveCpuMs: [] };
let bytes = 0;
for (let i = 0; i < reps + 3; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const encoded = encodeCheckpoint({ runId: 'r1', step: i, state, tensors: { params: gpt.params, m: opt.m, v: opt.v } });
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  await store.saveCheckpoint('r1', i, encoded);
  const t2 = performance.now();
  const c2 = process.cpuUsage(c0);
  decodeCheckpoint((await store.loadCheckpoint('r1'))!.bytes, 'bench');
  const t3 = performance.now();
  bytes = encoded.byteLength;
  if (i < 3) continue;
  series.encodeMs.push(t1 - t0);
  series.saveMs.push(t2 - t1);
  series.encodeSaveMs.push(t2 - t0);
  series.loadDecodeMs.push(t3 - t2);
  series.encodeCpuMs.push(cpuMs(c1));
  series.encodeSaveCpuMs.push(cpuMs(c2));
}
await store.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const out: Record<string, unknown> = { root, bytes, reps, load1: (await import('node:os')).loadavg()[0].toFixed(1) };
for (const [k, xs] of Object.entries(series)) out[k] = Number(median(xs).toFixed(2));
console.log(JSON.stringify(out));
