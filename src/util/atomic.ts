// Crash-safe file writes, one protocol with a synchronous face (the data layer: tokenizers, token caches) and an
// asynchronous one (the file store): write a temp file beside the target (same directory, so the rename is atomic),
// fsync it, rename it over the target, fsync the directory. A reader sees the old file or the new one, never a torn
// one, and after the call returns a crash keeps the new one. Also: create a file only if absent, append durably,
// and clear the temp files a killed writer left. What goes into the files is the callers' concern. Imports nothing of ours.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { link, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** What a write takes: a string, bytes, or pieces of bytes written one after another (no copy into one buffer). */
export type FileData = string | Uint8Array | readonly Uint8Array[];

const pieces = (data: FileData): readonly (string | Uint8Array)[] => (Array.isArray(data) ? data : [data as string | Uint8Array]);

/** A temp file beside `path`, named so a crash leaves visible litter that removeStaleTemps recognises (*.tmp). */
function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;
const TEMP_MODE = 0o644;

// ---- asynchronous face

/** Makes a directory's entries (a created, renamed or removed file) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeTemp(path: string, data: FileData): Promise<string> {
  const temp = tempPathFor(path);
  const handle = await open(temp, 'wx', TEMP_MODE);
  try {
    // successive writeFile calls on one handle continue where the last one stopped
    for (const piece of pieces(data)) await handle.writeFile(piece);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  return temp;
}

/**
 * Replaces `path` with `data` so that after a crash at any moment the file holds either its old content or
 * the new content, never a mix or a prefix: write a temp file, fsync it, rename it over, fsync the directory.
 * The directory must exist.
 */
export async function replaceFile(path: string, data: FileData): Promise<void> {
  const temp = await writeTemp(path, data);
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  await fsyncDir(dirname(path));
}

/**
 * Creates `path` with `data` only if it does not exist, atomically (link(2) of a complete, fsynced temp file
 * fails with EEXIST when the name is taken). Returns false, writing nothing, when the file already exists.
 */
export async function createFileExclusive(path: string, data: FileData): Promise<boolean> {
  const temp = await writeTemp(path, data);
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => {});
  }
  await fsyncDir(dirname(path));
  return true;
}

/**
 * Appends `data` to `path` (created if absent) and fsyncs before resolving. A crash mid-append can leave a prefix
 * of `data` at the end of the file; callers that append lines must treat an unterminated last line as torn.
 */
export async function appendDurable(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'a', TEMP_MODE);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Cuts `path` to `length` bytes and fsyncs (the repair of a torn last line). */
export async function truncateDurable(path: string, length: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Deletes temp files in `dir` that a killed process left mid-write (their writer's pid is gone). Local processes
 * only: not for shared network filesystems. Returns the names removed.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(TEMP_NAME.exec(name)?.[1] ?? NaN);
    if (Number.isNaN(pid) || pid === process.pid || isAlive(pid)) continue;
    await unlink(join(dir, name)).catch(() => {});
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---- synchronous face: the same protocol, for callers that cannot await (the data layer)

/** Makes a directory's entries durable (synchronous fsyncDir). */
function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeTempSync(path: string, data: FileData): string {
  const temp = tempPathFor(path);
  const fd = openSync(temp, 'wx', TEMP_MODE);
  try {
    for (const piece of pieces(data)) {
      const buf = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  closeSync(fd);
  return temp;
}

/** replaceFile, synchronously: the same temp file, fsync, rename and directory fsync. The directory must exist. */
export function replaceFileSync(path: string, data: FileData): void {
  const temp = writeTempSync(path, data);
  try {
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  fsyncDirSync(dirname(path));
}
