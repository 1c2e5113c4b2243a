// The one progress renderer, plain (non-TTY) mode: training steps with their fields, and the library's Progress
// events (data work) drawn by the same view with compact counts, a view per phase.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress, phaseProgress } from '../../src/cli/progress.ts';

function capture(): { stream: NodeJS.WriteStream; lines: string[] } {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => (lines.push(...s.split('\n').filter(Boolean)), true) } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

test('createProgress, plain: value/total, the fields, elapsed and eta as durations; the last position on stop', () => {
  const { stream, lines } = capture();
  const p = createProgress('train', { total: 900, unit: 'steps', stream, plainEverySeconds: 3600 });
  p.update(1, { loss: '5.50' }); // the first update always prints
  p.update(2, { loss: '5.40' }); // throttled
  p.log('a notice');
  p.stop(); // prints where it stopped
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^train 1\/900 steps \| loss 5\.50 \| \d+s elapsed, eta (\d+s|[\d.]+ (min|h|days))$/);
  assert.equal(lines[1], 'a notice');
  assert.match(lines[2], /^train 2\/900 steps \| loss 5\.40 \| /);
});

test('phaseProgress: a line per phase start and end, counts compact, nothing when quiet', () => {
  const { stream, lines } = capture();
  const report = phaseProgress({ stream, plainEverySeconds: 3600 });
  report({ phase: 'encode train', done: 0, total: 3_000_000, unit: 'chars' });
  report({ phase: 'encode train', done: 1_500_000, total: 3_000_000, unit: 'chars' }); // throttled
  report({ phase: 'encode train', done: 3_000_000, total: 3_000_000, unit: 'chars' }); // the end always prints
  report({ phase: 'train bpe-512', done: 10, total: 256, unit: 'merges' });
  report({ phase: 'encode test', done: 0, total: 1000, unit: 'chars' }); // a new phase stops the last one where it was
  assert.deepEqual(
    lines.map((l) => l.replace(/ \| .*$/, '')),
    ['encode train 0/3M chars', 'encode train 3M/3M chars', 'train bpe-512 10/256 merges', 'train bpe-512 10/256 merges', 'encode test 0/1k chars'],
  );
  const quiet = capture();
  phaseProgress({ stream: quiet.stream, quiet: true })({ phase: 'x', done: 1, total: 1, unit: 'u' });
  assert.deepEqual(quiet.lines, []);
});
