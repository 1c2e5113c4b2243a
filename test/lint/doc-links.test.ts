// The design travels with the code: every page a file in the repository cites (an upper-case .md name, bare or with
// a path) is in the repository, and every numbered section it cites (`docs/METHODS.md 1.6`, `docs/ARCHITECTURE.md
// section 4`) exists there. A comment pointing at a page kept elsewhere, or at a section since renumbered, leaves the
// reader with nothing (docs/ARCHITECTURE.md 5.5). Also: .gitignore ignores no tracked file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---- the files to check

/** Directories never scanned when git cannot list the files (installed, built or written by runs). */
const SKIP_DIRS = new Set(['.git', 'node_modules', 'build', 'runs', 'reports', '.cache', 'test-artifacts']);

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  } catch {
    return undefined;
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return SKIP_DIRS.has(name) ? [] : walk(p);
    return [relative(ROOT, p)];
  });
}

/** Tracked files and untracked ones git does not ignore (a new file is checked before it is committed). */
function repoFiles(): string[] {
  const listed = git(['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  const files = listed === undefined ? walk(ROOT) : listed.split('\0').filter((f) => f !== '');
  return [...new Set(files)].filter((f) => f !== 'package-lock.json' && existsSync(join(ROOT, f))).sort();
}

/** The file's text, or undefined for a binary file (a NUL byte in its first 8 KB). */
function textOf(file: string): string | undefined {
  const buf = readFileSync(join(ROOT, file));
  if (buf.subarray(0, 8192).includes(0)) return undefined;
  return buf.toString('utf8');
}

// ---- citations

interface Citation {
  /** the page as written, e.g. docs/METHODS.md or METHODS.md */
  page: string;
  /** sections cited after it, e.g. ['1.1', '1.3'] for "1.1-1.3"; empty when none */
  sections: string[];
  /** the word "section" was written, so the page must have numbered sections */
  explicit: boolean;
  line: number;
}

const PAGE = /(?<![\w./-])((?:[\w.-]+\/)*[A-Z][A-Z0-9_-]*\.md)\b/g;
const SECTION_ID = String.raw`\d+(?:\.\d+)*`;
const AFTER = new RegExp(String.raw`^,?\s+(sections?\s+)?(${SECTION_ID})(?:\s*-\s*(${SECTION_ID}))?((?:\s*,\s*\d+\.\d+)*)`);

/**
 * A page that is not ours to check: part of a URL (a host name or :// in the same token), or another project's file
 * named with a possessive ("nanochat's dev/LOG" + ".md").
 */
function elsewhere(text: string, index: number, length: number): boolean {
  let start = index;
  while (start > 0 && !/[\s"'`(<[]/.test(text[start - 1])) start--;
  const token = text.slice(start, index + length);
  if (token.includes('://') || /^[\w-]+(\.[\w-]+)*\.(com|org|io|net|dev|ai)\//.test(token)) return true;
  return start === index && /[\w-]'s\s+$/.test(text.slice(Math.max(0, index - 40), index));
}

/** Every citation of an upper-case .md page in `text`, with the sections written after it. */
function citations(text: string): Citation[] {
  const out: Citation[] = [];
  for (const m of text.matchAll(PAGE)) {
    if (elsewhere(text, m.index, m[0].length)) continue;
    const line = text.slice(0, m.index).split('\n').length;
    const after = AFTER.exec(text.slice(m.index + m[0].length));
    const sections: string[] = [];
    let explicit = false;
    if (after) {
      explicit = after[1] !== undefined;
      sections.push(after[2]);
      if (after[3] !== undefined) sections.push(after[3]);
      for (const more of after[4].matchAll(/\d+\.\d+/g)) sections.push(more[0]);
    }
    out.push({ page: m[1], sections, explicit, line });
  }
  return out;
}

/** Where a cited page is: beside the citing file, from the repository root, or (a bare name) under docs/. */
function resolvePage(file: string, page: string): string | undefined {
  const candidates = [join(dirname(file), page), page];
  if (!page.includes('/')) candidates.push(join('docs', page));
  return candidates.find((c) => existsSync(join(ROOT, c)) && statSync(join(ROOT, c)).isFile());
}

/** The numbered sections of a markdown page: "## 1. Title" is 1, "### 1.2 Title" is 1.2. */
function sectionsOf(markdown: string): Set<string> {
  const ids = new Set<string>();
  for (const m of markdown.matchAll(new RegExp(String.raw`^#{1,6}\s+(${SECTION_ID})\.?\s`, 'gm'))) ids.add(m[1]);
  return ids;
}

// ---- tests

const md = (name: string) => `${name}.md`; // fixture names built at run time, so this file cites nothing itself

test('the citation parser: pages with and without paths, sections, ranges, lists; URLs and dates are not sections', () => {
  const c = (s: string) => citations(s).map((x) => ({ page: x.page, sections: x.sections, explicit: x.explicit }));
  assert.deepEqual(c(`see docs/${md('METHODS')} 1.6 and ${md('STYLE')} 13`), [
    { page: `docs/${md('METHODS')}`, sections: ['1.6'], explicit: false },
    { page: md('STYLE'), sections: ['13'], explicit: false },
  ]);
  assert.deepEqual(c(`(docs/${md('METHODS')} 1.1-1.3)`), [{ page: `docs/${md('METHODS')}`, sections: ['1.1', '1.3'], explicit: false }]);
  assert.deepEqual(c(`(docs/${md('METHODS')} 1.1, 1.6)`), [{ page: `docs/${md('METHODS')}`, sections: ['1.1', '1.6'], explicit: false }]);
  assert.deepEqual(c(`as docs/${md('ARCHITECTURE')} section 4 says`), [{ page: `docs/${md('ARCHITECTURE')}`, sections: ['4'], explicit: true }]);
  assert.deepEqual(c(`docs/${md('LOG')}, 2026-11-29`), [{ page: `docs/${md('LOG')}`, sections: ['2026', '11'], explicit: false }]);
  assert.deepEqual(c(`github.com/someone/repo/${md('README')} and https://example.org/${md('NOTES')}`), []);
  assert.deepEqual(c(`after nanochat's dev/${md('LOG')}`), []);
  assert.deepEqual(c(`a file called ${md('notes')} or x${md('README')}`), []);
  assert.deepEqual([...sectionsOf('# Title\n## 1. One\n### 1.1 Sub\n### 1.10 Ten\n## 2026-11-29: a log entry\n## 12. Twelve\n')], ['1', '1.1', '1.10', '12']);
});

test('every design document cited in the repository is in it, with the sections cited', () => {
  const problems: string[] = [];
  const sectionCache = new Map<string, Set<string>>();
  for (const file of repoFiles()) {
    const text = textOf(file);
    if (text === undefined) continue;
    if (/shared\/design\b/.test(text)) {
      problems.push(`${file}: points at the team's design notes outside the repository; cite docs/ARCHITECTURE.md or docs/METHODS.md`);
    }
    for (const c of citations(text)) {
      const page = resolvePage(file, c.page);
      if (page === undefined) {
        problems.push(
          `${file}:${c.line}: cites ${c.page}, which is not in the repository; cite the section of docs/ARCHITECTURE.md or docs/METHODS.md that says it`,
        );
        continue;
      }
      if (c.sections.length === 0) continue;
      let ids = sectionCache.get(page);
      if (ids === undefined) {
        ids = sectionsOf(readFileSync(join(ROOT, page), 'utf8'));
        sectionCache.set(page, ids);
      }
      // a bare number after a page without numbered sections is not a section (docs/LOG.md, 2026-11-29)
      if (ids.size === 0 && !c.explicit) continue;
      for (const s of c.sections) {
        if (!ids.has(s))
          problems.push(
            `${file}:${c.line}: cites ${c.page} section ${s}, which ${page} does not have (its sections: ${[...ids].join(', ') || 'none numbered'})`,
          );
      }
    }
  }
  assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
});

test('.gitignore ignores no tracked file', (t) => {
  const ignored = git(['ls-files', '-z', '--ignored', '--cached', '--exclude-standard']);
  if (ignored === undefined) {
    t.skip('not a git checkout (or no git): cannot list tracked files');
    return;
  }
  const files = ignored.split('\0').filter((f) => f !== '');
  assert.deepEqual(files, [], `tracked files that .gitignore matches (narrow the pattern, or anchor it with a leading /):\n${files.join('\n')}`);
});
