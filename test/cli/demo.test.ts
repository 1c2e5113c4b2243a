// The main job as a newcomer runs it: `scaling-lab demo --quick`, interrupted with Ctrl-C part-way and run
// again, resumes (finished runs kept), passes its sanity checks on real training, and writes the report.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = new URL('../../bin/scaling-lab.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'scaling-lab-demo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const args = ['demo', '--quick', '--store', join(dir, 'runs'), '--out', join(dir, 'report'), '--bootstrap', '50'];
const env = { ...process.env, SCALING_LAB_CACHE: join(dir, 'cache') };

function finishedRuns(): number {
  const store = join(dir, 'runs');
  if (!existsSync(store)) return 0;
  return readdirSync(store).filter((id) => {
    try {
      return JSON.parse(readFileSync(join(store, id, 'status.json'), 'utf8')).status === 'done';
    } catch {
      return false;
    }
  }).length;
}

function demo(onStart?: (child: ReturnType<typeof spawn>) => Promise<void>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    onStart?.(child).catch(reject);
  });
}

test('demo --quick: Ctrl-C part-way, run again, it resumes and presents sensible findings', { timeout: 600_000 }, async () => {
  // first: interrupt once a few runs are done
  const first = await demo(async (child) => {
    while (finishedRuns() < 3 && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
  });
  assert.equal(first.code, 130, `expected the interrupted exit code\n${first.stderr.slice(-2000)}`);
  assert.match(first.stderr, /run the same command again to resume/);
  const kept = finishedRuns();
  assert.ok(kept >= 3, `runs finished before the interrupt are kept (${kept})`);

  // second: the same command finishes the job without redoing finished runs
  const second = await demo();
  assert.equal(second.code, 0, second.stderr.slice(-3000));
  const trainedLines = [...second.stderr.matchAll(/(\d+) runs trained, (\d+) already finished/g)].map((m) => Number(m[2]));
  assert.ok(trainedLines.reduce((a, b) => a + b, 0) >= kept, `resumed run counts: ${trainedLines}; kept ${kept}`);
  // the plan it prints counts what was already done, so the estimate is for what is left
  assert.match(second.stdout, new RegExp(`runs \\(${kept} finished before, [\\d.]+M tokens left\\)`), second.stdout.split('\n')[0]);
  assert.match(second.stdout, /all checks passed/, second.stdout);
  assert.match(second.stdout, /ok {3}B_crit rises as loss falls \(49K/);
  assert.match(second.stdout, /ok {3}noise scale within 10x of B_crit/);
  assert.match(second.stdout, /ok {3}L\(N, D\) fit has positive exponents/);
  assert.match(second.stdout, /B\* = [\d.e+]+ \[.*\], alpha_B = /);
  assert.match(second.stdout, /N_opt ~ C\^[\d.]+ .*D_opt ~ C\^/);
  // the IsoFLOP experiment says how many budgets have an interior minimum and whether E is identified (issue 16)
  assert.match(second.stdout, /IsoFLOP minima: \d of 3 budgets have their minimum inside the sizes tried/);
  assert.match(second.stdout, /irreducible loss: (NOT identified: )?E /);
  for (const f of ['report.html', 'batch-scan.svg', 'batch-scan.png', 'bcrit.png', 'lnd-3d.png']) assert.ok(existsSync(join(dir, 'report', f)), `missing ${f}`);
});

test('demo --dry-run: prints both designs and their plans, trains nothing', { timeout: 120_000 }, () => {
  const store = join(dir, 'dry-runs');
  const r = spawnSync(process.execPath, [bin, 'demo', '--dry-run', '--store', store, '--out', join(dir, 'dry-report')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // the IsoFLOP design's notes (from the spec's header) and its budgets in the plan
  assert.match(r.stdout, /demo-isoflop \(size-data\)/);
  assert.match(r.stdout, /IsoFLOP design: 3 budgets, up to 5 sizes each/);
  assert.match(r.stdout, /LR per size: 0\.003 x \(64 \/ d_model\)\^1/);
  assert.match(r.stdout, /demo-scan \(batch-scan\)/);
  assert.match(r.stdout, /dry run: nothing trained/);
  assert.ok(!existsSync(store), 'no store written');
});
