// Issue 17 item 4 through the local executor: the tiny PyTorch scan (examples/external/tiny-scan.yaml), one run killed
// by SIGKILL mid-way; no row lost or duplicated; bcrit and report on the file store. Needs python3 with torch.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { createLocalExecutor } from '../../src/sweep/local.ts';
import { needs } from '../helpers/require.ts';
import { torchMissing, torchSweepEndToEnd } from './external-torch.ts';
import { bin, tmp } from './fixtures.ts';

it('local executor: the tiny torch scan completes with one run SIGKILLed, every row once; report works', async (t) => {
  if (!needs(t, 'torch', torchMissing)) return;
  const store = mkdtempSync(join(tmp, 'torch-local-'));
  await torchSweepEndToEnd(createLocalExecutor({ workers: 2 }), store, 'local');
  const out = join(tmp, 'torch-report');
  const report = spawnSync(process.execPath, [bin, 'report', store, '--out', out, '--format', 'svg', '--bootstrap', '20'], { encoding: 'utf8' });
  assert.equal(report.status, 0, report.stderr);
  assert.ok(existsSync(join(out, 'batch-scan.svg')) && existsSync(join(out, 'learning-curves.svg')));
});
