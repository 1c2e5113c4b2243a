// LR schedules: warm-up ramp, constant plateau, cosine endpoints and midpoint, WSD plateau and decay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate, type Schedule } from '../../src/train/schedule.ts';

const base: Schedule = { kind: 'constant', lr: 1e-3, warmupSteps: 10, minLrRatio: 0.1, decayFraction: 0.2 };
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-12, `${a} != ${b}`);

test('warm-up is linear to the peak for every kind', () => {
  for (const kind of ['constant', 'cosine', 'wsd'] as const) {
    const s = { ...base, kind };
    close(learningRate(s, 1, 100), 1e-4);
    close(learningRate(s, 5, 100), 5e-4);
    close(learningRate(s, 10, 100), 1e-3);
  }
});

test('constant stays at the peak', () => close(learningRate(base, 100, 100), 1e-3));

test('cosine: peak after warm-up, halfway at the midpoint, floor at the end', () => {
  const s = { ...base, kind: 'cosine' as const };
  close(learningRate(s, 55, 100), 1e-4 + 0.5 * (1e-3 - 1e-4));
  close(learningRate(s, 100, 100), 1e-4);
  assert.ok(learningRate(s, 30, 100) > learningRate(s, 31, 100));
});

test('wsd: stable until the last 20% of steps, then linear to the floor', () => {
  const s = { ...base, kind: 'wsd' as const };
  close(learningRate(s, 80, 100), 1e-3);
  close(learningRate(s, 90, 100), 1e-3 + 0.5 * (1e-4 - 1e-3));
  close(learningRate(s, 100, 100), 1e-4);
});

test('no warm-up works (warmupSteps 0)', () => close(learningRate({ ...base, warmupSteps: 0 }, 1, 10), 1e-3));
