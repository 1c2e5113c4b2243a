// The one atomic-write protocol, both faces: contents land whole, no temp file is left behind (on success or on a
// failed rename), temp names are ones removeStaleTemps recognises, exclusive create refuses a taken name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendDurable, createFileExclusive, removeStaleTemps, replaceFile, replaceFileSync, truncateDurable } from '../../src/util/atomic.ts';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'atomic-test-'));
}

test('replaceFileSync and replaceFile: string, bytes and pieces land whole and replace the old file; no temp left', async () => {
  const dir = scratch();
  try {
    const file = join(dir, 'a.bin');
    replaceFileSync(file, 'old');
    replaceFileSync(file, [Buffer.from('he'), new Uint8Array([108, 108]), Buffer.from('o')]);
    assert.equal(readFileSync(file, 'utf8'), 'hello');
    await replaceFile(file, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(file)], [1, 2, 3]);
    await replaceFile(file, [Buffer.from('x'), Buffer.from('yz')]);
    assert.equal(readFileSync(file, 'utf8'), 'xyz');
    assert.deepEqual(readdirSync(dir), ['a.bin']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed rename (the target is a directory) throws and leaves no temp file, in both faces', async () => {
  const dir = scratch();
  try {
    mkdirSync(join(dir, 'taken'));
    mkdirSync(join(dir, 'taken', 'inside')); // a non-empty directory: rename over it fails on every platform
    assert.throws(() => replaceFileSync(join(dir, 'taken'), 'x'));
    await assert.rejects(replaceFile(join(dir, 'taken'), 'x'));
    assert.deepEqual(readdirSync(dir), ['taken']);
    // and a missing directory is an error, not created (callers that want it make it)
    assert.throws(() => replaceFileSync(join(dir, 'missing', 'f'), 'x'), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createFileExclusive writes once, then refuses without touching the file', async () => {
  const dir = scratch();
  try {
    const file = join(dir, 'spec.json');
    assert.equal(await createFileExclusive(file, 'first'), true);
    assert.equal(await createFileExclusive(file, 'second'), false);
    assert.equal(readFileSync(file, 'utf8'), 'first');
    assert.deepEqual(readdirSync(dir), ['spec.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('appendDurable and truncateDurable', async () => {
  const dir = scratch();
  try {
    const file = join(dir, 'log');
    await appendDurable(file, 'a\n');
    await appendDurable(file, 'torn');
    await truncateDurable(file, 2);
    assert.equal(readFileSync(file, 'utf8'), 'a\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("removeStaleTemps removes a dead writer's temp files and keeps live ones and other files", async () => {
  const dir = scratch();
  try {
    const dead = 2 ** 22 + 12345; // above Linux's default pid_max: no such process
    writeFileSync(join(dir, `.metrics.jsonl.${dead}.0a1b2c3d.tmp`), 'x');
    writeFileSync(join(dir, `.status.json.${process.pid}.0a1b2c3d.tmp`), 'x');
    writeFileSync(join(dir, 'status.json'), 'x');
    assert.deepEqual(await removeStaleTemps(dir), [`.metrics.jsonl.${dead}.0a1b2c3d.tmp`]);
    assert.deepEqual(readdirSync(dir).sort(), [`.status.json.${process.pid}.0a1b2c3d.tmp`, 'status.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
