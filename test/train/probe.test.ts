// The timing probe (train/probe.ts): the run's own model construction, timed for a few steps on synthetic tokens; and
// a plan made without it (sweep/plan.ts probe: false) builds no model at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelsRef } from '../../src/engine/index.ts';
import { parseRunConfig } from '../../src/train/config.ts';
import { buildRunModel, timeTrainingSteps } from '../../src/train/probe.ts';

const config = parseRunConfig({ depth: 1, context: 16, batch: 8, microBatch: 4, steps: 20, tokenizer: 'byte', lr: 3e-3, seed: 3 });

test("buildRunModel is the run's model: its shape, seed and micro-batch", () => {
  const a = buildRunModel(config, 256, kernelsRef);
  assert.deepEqual([a.gptConfig.nLayer, a.gptConfig.dModel, a.gptConfig.nHead, a.gptConfig.vocab, a.gptConfig.context], [1, 64, 1, 256, 16]);
  const b = buildRunModel(config, 256, kernelsRef);
  assert.deepEqual(a.gpt.params, b.gpt.params, 'the same config initialises the same parameters');
  const other = buildRunModel({ ...config, seed: 4 }, 256, kernelsRef);
  assert.notDeepEqual(a.gpt.params, other.gpt.params, "the seed is the config's");
  assert.equal(a.optimizer.t, 0);
});

test('timeTrainingSteps times the asked steps (or fewer past maxSeconds), in wall or CPU time', () => {
  const wall = timeTrainingSteps(config, 256, kernelsRef, { steps: 2 });
  assert.equal(wall.steps, 2);
  assert.equal(wall.cpuTime, false);
  assert.ok(wall.secondsPerMicroStep > 0 && wall.secondsPerMicroStep < 5, String(wall.secondsPerMicroStep));
  const cut = timeTrainingSteps(config, 256, kernelsRef, { steps: 50, maxSeconds: 0 });
  assert.equal(cut.steps, 1, 'stops after the first timed step once maxSeconds is spent');
  const cpu = timeTrainingSteps(config, 256, kernelsRef, { steps: 1, cpuTime: true });
  assert.equal(cpu.cpuTime, true);
  assert.ok(cpu.secondsPerMicroStep > 0 && Number.isFinite(cpu.secondsPerMicroStep));
});
