// Where a report goes, made safe (issue 15 item 2): the output folder is checked for writability before any fitting;
// the report is written to a fresh temporary folder beside it and moved into place when complete, replacing every file
// of an earlier report (no stale chart beside new ones; other files are kept), so an interrupted write leaves nothing
// partial; and file-system errors
// (EACCES, EPERM, EROFS, EEXIST, ENOTDIR, ENOSPC, ...) become one line with a hint instead of a Node stack.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CHART_ORDER, ReportInputError } from './common.ts';
import { writeReport, type Format, type Report, type WrittenFiles } from './build.ts';

/** The files a report writes into its folder: each chart as SVG and PNG, and the page. Only these are replaced. */
const reportFiles = (): string[] => [...CHART_ORDER.flatMap((id) => [`${id}.svg`, `${id}.png`]), 'report.html'];

/**
 * Throws ReportInputError (one line and a hint naming --out) unless `dir` can take a report: it is not a file, and
 * the folder (or, when it does not exist yet, the nearest existing folder above it) can be written in, probed with a
 * real mkdtemp (root passes access() on read-only mounts). Called before any fitting or training.
 */
export function checkReportOut(dir: string, flag = '--out'): void {
  const out = resolve(dir);
  if (existsSync(out) && !statSync(out).isDirectory()) {
    throw new ReportInputError(
      `${flag} ${dir}: a file is there, not a folder`,
      `give ${flag} a folder (new, or holding an earlier report), e.g. ${flag} reports`,
    );
  }
  let parent = dirname(out);
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  if (!statSync(parent).isDirectory()) throw new ReportInputError(`${flag} ${dir}: ${parent} is a file, not a folder`, `give ${flag} a path under a folder`);
  for (const p of existsSync(out) ? [parent, out] : [parent]) {
    try {
      rmdirSync(mkdtempSync(join(p, '.scaling-lab-probe-')));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ReportInputError(`${flag} ${dir}: cannot write in ${p} (${code})`, `give ${flag} a folder you can write to, e.g. ${flag} /tmp/report`);
    }
  }
}

/**
 * writeReport into a fresh folder beside `dir` (".<name>.partial-<pid>"); when it is complete, the report files of an
 * earlier report in `dir` (every chart's SVG and PNG, report.html: no stale chart stays beside new ones) are removed
 * and the new ones moved in. Other files in `dir` are left alone. On an error, or SIGINT/SIGTERM while writing, the
 * partial folder is removed, `dir` is left as it was, and the message says so.
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
    process.stderr.write(
      `report: interrupted (${signal}) while writing; nothing was written to ${out}${existsSync(out) ? ' (what was there is unchanged)' : ''}\n`,
    );
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const written = writeReport(temp, report, formats, onProgress);
    mkdirSync(out, { recursive: true });
    for (const f of reportFiles()) rmSync(join(out, f), { force: true });
    for (const f of readdirSync(temp)) renameSync(join(temp, f), join(out, f));
    cleanup();
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
