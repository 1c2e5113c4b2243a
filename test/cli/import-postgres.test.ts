// `scaling-lab import` into a real PostgreSQL store (test/helpers/services.ts): the runs keep their trainer, and a second
// import adds nothing. The file store and the command's other cases are test/cli/import.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openStore } from '../../src/store/store.ts';
import { isSkip, startPostgres } from '../helpers/services.ts';
import { skipOrFail } from '../helpers/require.ts';

const cli = (args: string[]) => spawnSync(process.execPath, ['bin/scaling-lab.js', ...args], { encoding: 'utf8', timeout: 120_000 });
const logs = 'test/fixtures/external-logs';

test('import into PostgreSQL: the runs keep their trainer, and a second import adds nothing', async (t) => {
  const server = await startPostgres();
  if (isSkip(server)) return skipOrFail(t, server);
  try {
    const url = `${server.url}?schema=imported`;
    for (let i = 0; i < 2; i++) {
      const r = cli([
        'import',
        `${logs}/wandb-history-d1-b32.jsonl`,
        '--trainer',
        'torch',
        '--store',
        url,
        '--batch',
        '32',
        '--context',
        '64',
        '--params',
        '49152',
        '--json',
      ]);
      assert.equal(r.status, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { files: { format: string; runs: { existed: boolean; added: number }[] }[] };
      assert.equal(j.files[0].format, 'wandb');
      assert.deepEqual(
        j.files[0].runs.map((x) => [x.existed, x.added]),
        [i === 0 ? [false, 74] : [true, 0]],
      );
    }
    const s = await openStore(url);
    try {
      const [run] = await s.loadRecords();
      assert.deepEqual(
        [run.trainer, run.status, run.batchTokens, run.metrics.length, run.metrics.filter((m) => m.testLoss !== undefined).length],
        ['torch', 'done', 2048, 74, 74],
      );
    } finally {
      await s.close();
    }
  } finally {
    await server.stop();
  }
});
