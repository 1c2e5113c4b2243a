// The shared store suite over the file store (a temp dir per test), then what only the file store has: its layout,
// torn-line repair, damaged files, and openStore's choice of store by location. The SIGKILL test is in crash.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { openStore, storeKindOf } from '../../src/store/store.ts';
import { defineStoreSuite, makeRow, makeRun, rejectsWith, rows } from './store-suite.ts';

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'scaling-lab-store-'));
  temps.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

defineStoreSuite('FileStore', async () => ({ fresh: async () => join(await tempDir(), 'runs'), stop: async () => {} }));

/** Every file under dir, recursively, relative to it. */
async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('FileStore on disk', () => {
  it('lays a run out as spec.json, status.json, metrics.jsonl and checkpoint.bin, leaving no temp files', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    await store.putRun(makeRun('r1'));
    await store.appendMetrics('r1', rows(0, 2));
    await store.setStatus('r1', 'running', { step: 2 });
    await store.saveCheckpoint('r1', 2, new Uint8Array([1, 2, 3]));
    await store.truncateMetricsAfter('r1', 1);
    assert.deepEqual(await listFiles(dir), ['r1/checkpoint.bin', 'r1/metrics.jsonl', 'r1/spec.json', 'r1/status.json']);
    const spec = JSON.parse(await readFile(join(dir, 'r1/spec.json'), 'utf8'));
    assert.equal(spec.format, 'scaling-lab run');
    assert.equal(spec.version, 1);
    assert.deepEqual(spec.spec, makeRun('r1').spec);
    assert.equal(JSON.parse(await readFile(join(dir, 'r1/status.json'), 'utf8')).status, 'running');
    const lines = (await readFile(join(dir, 'r1/metrics.jsonl'), 'utf8')).split('\n');
    assert.deepEqual(
      lines.slice(0, 2).map((l) => JSON.parse(l)),
      rows(0, 1),
    );
    assert.equal(lines[2], '', 'the file ends with a newline');
    const bin = await readFile(join(dir, 'r1/checkpoint.bin'));
    assert.equal(bin.subarray(0, 8).toString('latin1'), 'SLCHKPT\0');
    assert.equal(bin.length, 32 + 3);
    // temp files a killed writer left are cleared when the run is resumed (putRun again); a live writer's stay
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(join(dir, `r1/.metrics.jsonl.${dead}.0123abcd.tmp`), 'half');
    await writeFile(join(dir, `r1/.status.json.${process.pid}.0123abcd.tmp`), 'mine');
    await store.putRun(makeRun('r1'));
    assert.deepEqual(
      (await readdir(join(dir, 'r1'))).filter((n) => n.endsWith('.tmp')),
      [`.status.json.${process.pid}.0123abcd.tmp`],
    );
    await store.close();
  });

  it('writes NaN and Infinity as strings a JSON reader can see', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    await store.putRun(makeRun('r1'));
    await store.appendMetrics('r1', [makeRow(0, { trainLoss: NaN, gradNorm: -Infinity })]);
    const line = JSON.parse(await readFile(join(dir, 'r1/metrics.jsonl'), 'utf8'));
    assert.equal(line.trainLoss, 'NaN');
    assert.equal(line.gradNorm, '-Infinity');
  });

  it('ignores a torn last line on read and repairs it on the next append', async () => {
    const dir = await tempDir();
    const writer = await openStore(dir);
    await writer.putRun(makeRun('r1'));
    await writer.appendMetrics('r1', rows(0, 2));
    const path = join(dir, 'r1/metrics.jsonl');
    const good = await readFile(path, 'utf8');
    const torn = JSON.stringify(makeRow(3)).slice(0, 25);
    await appendFile(path, torn); // what a kill in the middle of write(2) leaves
    const reader = await openStore(dir); // a fresh instance: no cached index
    assert.deepEqual(await reader.readMetrics('r1'), rows(0, 2), 'readers ignore the torn tail');
    assert.equal(await readFile(path, 'utf8'), good + torn, 'readers do not write');
    assert.equal(await reader.appendMetrics('r1', rows(2, 4)), 2);
    assert.equal(
      await readFile(path, 'utf8'),
      good +
        rows(3, 4)
          .map((r) => JSON.stringify(r) + '\n')
          .join(''),
    );
    assert.deepEqual(await reader.readMetrics('r1'), rows(0, 4));
    // a writer whose cached index is stale (another writer appended and repaired) rescans instead of trusting it
    assert.equal(await writer.appendMetrics('r1', rows(0, 5)), 1);
    assert.deepEqual(await writer.readMetrics('r1'), rows(0, 5));
  });

  it('treats a last line that ends in a newline but does not parse as torn, and a bad middle line as damage', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    await store.putRun(makeRun('r1'));
    await store.appendMetrics('r1', rows(0, 1));
    const path = join(dir, 'r1/metrics.jsonl');
    await appendFile(path, '\0\0\0\0\n'); // zeros where a power cut lost the data but kept the length
    assert.deepEqual(await store.readMetrics('r1'), rows(0, 1));
    assert.equal(await (await openStore(dir)).truncateMetricsAfter('r1', 10), 0);
    assert.deepEqual((await readFile(path, 'utf8')).split('\n').length, 3, 'truncate rewrote the file without the torn line');
    await appendFile(path, '{"step": oops}\n' + JSON.stringify(makeRow(2)) + '\n');
    await rejectsWith(store.readMetrics('r1'), 'corrupt', /line 3 is not a metric row/);
  });

  it('fails loudly on a damaged checkpoint, a foreign spec.json and a newer format', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    await store.putRun(makeRun('r1'));
    await store.saveCheckpoint('r1', 5, new Uint8Array(1000).fill(7));
    const path = join(dir, 'r1/checkpoint.bin');
    const bin = await readFile(path);
    bin[500] ^= 1;
    await writeFile(path, bin);
    await rejectsWith(store.loadCheckpoint('r1'), 'corrupt', /CRC-32/);
    await writeFile(path, bin.subarray(0, 100));
    await rejectsWith(store.loadCheckpoint('r1'), 'corrupt', /payload bytes/);
    bin.writeUInt32LE(9, 8);
    await writeFile(path, bin);
    await rejectsWith(store.loadCheckpoint('r1'), 'version', /version 9/);

    const specPath = join(dir, 'r1/spec.json');
    const spec = JSON.parse(await readFile(specPath, 'utf8'));
    await writeFile(specPath, JSON.stringify({ ...spec, version: 2 }));
    await rejectsWith(store.getRun('r1'), 'version', /version 2/);
    await writeFile(specPath, '{"something": "else"}');
    await rejectsWith(store.getRun('r1'), 'corrupt', /not a scaling-lab run/);
    await writeFile(specPath, '{"trunc');
    await rejectsWith(store.getRun('r1'), 'corrupt', /not valid JSON/);
  });

  it('reads the sweep manifests the previous version wrote (fixtures/previous-version: its sweep/manifest.ts made them)', async () => {
    const dir = await tempDir();
    await cp(new URL('./fixtures/previous-version', import.meta.url).pathname, dir, { recursive: true });
    const store = await openStore(dir);
    const sweeps = await store.listSweeps();
    assert.deepEqual(
      sweeps.map((m) => m.name),
      ['scan', 'seeds-2'],
      'oldest first',
    );
    const scan = await store.getSweep<{ name: string; axes: { batch: number[] } }>('scan');
    assert.equal(scan?.purpose, 'batch-scan');
    assert.match(scan?.hash ?? '', /^[0-9a-f]{16}$/);
    assert.equal(scan?.runIds.length, 2);
    assert.deepEqual(scan?.spec.axes.batch, [4, 8]);
    // recording it again finds it (not created, the file untouched); a new manifest is laid out as before
    const path = join(dir, '.sweeps/scan.json');
    const before = await readFile(path, 'utf8');
    assert.deepEqual(await store.putSweep({ ...scan!, createdAt: new Date().toISOString() }), { created: false, stored: scan });
    assert.equal(await readFile(path, 'utf8'), before);
    const fresh = { ...scan!, name: 'fresh', createdAt: new Date().toISOString() };
    assert.equal((await store.putSweep(fresh)).created, true);
    assert.equal(
      await readFile(join(dir, '.sweeps/fresh.json'), 'utf8'),
      JSON.stringify(fresh, null, 2) + '\n',
      'the same layout: a reader of either version reads both',
    );
    // a temp file a killed writer left, and files that are not manifests, are not listed; a damaged manifest is 'corrupt'
    await writeFile(join(dir, '.sweeps/.x.json.123.0123abcd.tmp'), '{');
    await writeFile(join(dir, '.sweeps/notes.txt'), 'hello');
    assert.deepEqual(
      (await store.listSweeps()).map((m) => m.name),
      ['scan', 'seeds-2', 'fresh'],
    );
    await writeFile(join(dir, '.sweeps/broken.json'), '{"name": "broken"}');
    await rejectsWith(store.getSweep('broken'), 'corrupt', /is not a sweep manifest/);
    await writeFile(join(dir, '.sweeps/broken.json'), '{"name": ');
    await rejectsWith(store.listSweeps(), 'corrupt', /not valid JSON/);
    // and the runs are not mistaken for sweeps nor the manifests' directory for a run
    assert.deepEqual(await store.listRuns(), []);
    assert.deepEqual(await store.listDamaged(), []);
    await store.close();
  });

  it("a putRun that loses the create race keeps the live run's status (it used to reset it to pending)", async () => {
    const dir = await tempDir();
    const winner = await openStore(dir);
    const loser = await openStore(dir);
    // the loser read "no spec.json" just before the winner created the run: replay that interleaving exactly
    const spied = loser as unknown as { readSpecFile(id: string): Promise<unknown> };
    const readSpecFile = spied.readSpecFile.bind(loser);
    let reads = 0;
    spied.readSpecFile = async (id) => (reads++ === 0 ? undefined : readSpecFile(id));
    await winner.putRun(makeRun('r1'));
    await winner.appendMetrics('r1', rows(1, 3));
    await winner.setStatus('r1', 'done', { step: 7 });
    const got = await loser.putRun(makeRun('r1'));
    assert.equal(reads, 2, 'the loser found spec.json taken and compared against it');
    assert.equal(got.state.status, 'done');
    assert.equal((await winner.getRun('r1'))!.state.status, 'done');
    assert.equal(JSON.parse(await readFile(join(dir, 'r1/status.json'), 'utf8')).step, 7);
    assert.deepEqual(await winner.readMetrics('r1'), rows(1, 3), 'the live metrics log is untouched');
    await Promise.all([winner.close(), loser.close()]);
  });

  it('a run whose status.json is not yet written (or was lost in a crash) reads as pending since its creation', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    const created = await store.putRun(makeRun('r1'));
    assert.equal(JSON.parse(await readFile(join(dir, 'r1/status.json'), 'utf8')).status, 'pending', 'putRun writes status.json');
    await rm(join(dir, 'r1/status.json'));
    assert.deepEqual((await store.getRun('r1'))!.state, { status: 'pending', updatedAt: created.createdAt });
    await store.close();
  });

  it('lists only run directories, leaving other entries alone', async () => {
    const dir = await tempDir();
    const store = await openStore(dir);
    await store.putRun(makeRun('r1'));
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await rm(join(dir, 'r1/spec.json'));
    await store.putRun(makeRun('r2'));
    await writeFile(join(dir, '.hidden'), '');
    assert.deepEqual(
      (await store.listRuns()).map((r) => r.id),
      ['r2'],
    );
    assert.equal(await store.getRun('r1'), undefined, 'a directory without spec.json is not a run');
    await store.putRun(makeRun('r1')); // and putRun completes it
    assert.equal((await store.listRuns()).length, 2);
  });
});

describe('openStore', () => {
  it('picks the store by location and explains schemes it does not know', async () => {
    assert.equal(storeKindOf('./runs'), 'file');
    assert.equal(storeKindOf('/abs/runs'), 'file');
    assert.equal(storeKindOf('file:///tmp/runs'), 'file');
    assert.equal(storeKindOf('postgres://u@h/db'), 'postgres');
    assert.equal(storeKindOf('POSTGRESQL://u@h/db'), 'postgres');
    await rejectsWith(openStore('redis://127.0.0.1:6379'), 'bad-input', /unknown scheme 'redis/).then((e) => assert.match(e.hint, /queue/));
    await rejectsWith(openStore('s3://bucket/runs'), 'bad-input', /unknown scheme/);
    const dir = await tempDir();
    const store = await openStore(pathToFileURL(join(dir, 'via-url')).href);
    assert.equal(store.kind, 'file');
    assert.equal(store.location, join(dir, 'via-url'));
    await writeFile(join(dir, 'plain-file'), 'x');
    await rejectsWith(openStore(join(dir, 'plain-file')), 'bad-input', /cannot use/);
  });
});
