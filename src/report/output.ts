// Where a report goes, made safe (issue 15 item 2): the output folder is checked for writability before any fitting;
// the report is written to a fresh temporary folder beside it and moved into place when complete, so no stale chart of an
// earlier report sits beside new ones and an interrupted write leaves nothing partial; and file-system errors
// (EACCES, EPERM, EROFS, EEXIST, ENOTDIR, ENOSPC, ...) become one line with a hint instead of a Node stack.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ReportInputError } from './common.ts';
import { writeReport, type Format, type Report, type WrittenFiles } from './build.ts';

/** Files a report folder may hold: its charts, its page, and nothing else (so replacing it loses nothing of the user's). */
const REPORT_FILE = /\.(svg|png|html)$/i;

/**
 * Throws ReportInputError (one line and a hint naming --out) unless `dir` can become a report folder: it is not a file,
 * it holds nothing but an earlier report's charts and page, and the nearest existing folder above it is writable (the
 * report is written beside it first, then moved into place). Called before any fitting.
 */
export function checkReportOut(dir: string, flag = '--out'): void {
  const out = resolve(dir);
  if (existsSync(out)) {
    const st = statSync(out);
    if (!st.isDirectory()) throw new ReportInputError(`${flag} ${dir}: a file is there, not a folder`, `give ${flag} a folder (new or holding an earlier report), e.g. ${flag} reports`);
    const foreign = readdirSync(out).filter((f) => !REPORT_FILE.test(f));
    if (foreign.length) {
      throw new ReportInputError(
        `${flag} ${dir}: the folder holds files that are not a report's (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? `, ... ${foreign.length} in all` : ''}); the report replaces the folder's content`,
        `give ${flag} a new folder, or one holding only an earlier report`,
      );
    }
  }
  let parent = dirname(out);
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  if (!statSync(parent).isDirectory()) throw new ReportInputError(`${flag} ${dir}: ${parent} is a file, not a folder`, `give ${flag} a path under a folder`);
  // a real probe, not access(): root passes access() on read-only mounts and /proc, and ACLs can differ from mode bits
  const where = existsSync(out) ? [parent, out] : [parent];
  for (const p of where) {
    try {
      rmdirSync(mkdtempSync(join(p, '.scaling-lab-probe-')));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ReportInputError(`${flag} ${dir}: cannot write in ${p} (${code})`, `give ${flag} a folder you can write to, e.g. ${flag} /tmp/report`);
    }
  }
}

/**
 * writeReport into a fresh folder beside `dir` (".<name>.partial-<pid>"), then moved into place: an earlier report at
 * `dir` is replaced as a whole (no stale charts beside new ones). On an error or Ctrl-C while writing, the partial folder
 * is removed and `dir` is left as it was; `onInterrupt` is told.
 */
export function writeReportAtomic(dir: string, report: Report, formats: readonly Format[], onProgress?: (line: string) => void): WrittenFiles {
  const out = resolve(dir);
  const parent = dirname(out);
  mkdirSync(parent, { recursive: true });
  const temp = join(parent, `.${basename(out)}.partial-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  const cleanup = () => rmSync(temp, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup();
    process.stderr.write(`report: interrupted (${signal}) while writing; nothing was written to ${out}${existsSync(out) ? ' (the earlier report there is unchanged)' : ''}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const written = writeReport(temp, report, formats, onProgress);
    const old = join(parent, `.${basename(out)}.old-${process.pid}`);
    if (existsSync(out)) renameSync(out, old);
    renameSync(temp, out);
    rmSync(old, { recursive: true, force: true });
    return { dir: out, files: written.files.map((f) => ({ ...f, path: join(out, basename(f.path)) })) };
  } catch (err) {
    cleanup();
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Node's file-system error codes, each as what happened and what to do. */
const FS_ERRORS: Record<string, [string, string]> = {
  EACCES: ['permission denied', 'check the permissions, or choose a path you can write to'],
  EPERM: ['operation not permitted', 'check the permissions, or choose a path you can write to'],
  EROFS: ['read-only file system', 'choose a path on a writable disk'],
  EEXIST: ['a file is already there', 'remove it, or choose another path'],
  ENOTDIR: ['a file stands where a folder is needed', 'give a folder path, not a file'],
  EISDIR: ['a folder stands where a file is needed', 'give a file path'],
  ENOENT: ['no such file or folder', 'check the path'],
  ENOSPC: ['the disk is full', 'free space, or choose another disk'],
  EMFILE: ['too many open files', 'raise the limit (ulimit -n) or run fewer workers at once'],
  ENAMETOOLONG: ['the path is too long', 'choose a shorter path'],
};

/**
 * A Node system error (err.code EACCES, EEXIST, ...) or a RangeError of an allocation as one line and a hint; null for
 * anything else (a bug: printed with its stack).
 */
export function describeSystemError(err: unknown): { message: string; hint: string } | null {
  if (err instanceof RangeError && /Invalid typed array length|Array buffer allocation failed|Invalid array length/.test(err.message)) {
    return { message: `a size is too large to allocate (${err.message})`, hint: 'use a smaller model, batch or context, or check the sizes in the spec' };
  }
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.code !== 'string' || !(e.code in FS_ERRORS)) return null;
  const [what, hint] = FS_ERRORS[e.code];
  const path = e.path ?? '';
  return { message: `${path ? `${path}: ` : ''}${what} (${e.code}${e.syscall ? ` in ${e.syscall}` : ''})`, hint };
}
