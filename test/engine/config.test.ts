// Config validation, the depth dial, the slab's size table, parameter counts by group and FLOPs per token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromDepth, validateConfig, paramTable, paramCounts, flopsPerToken, PARAM_NAMES, ConfigError, type GPTConfig } from '../../src/engine/index.ts';

test('fromDepth: d_model = 64 * depth, heads = depth', () => {
  assert.deepEqual(fromDepth(4, { vocab: 4096, context: 128 }), { nLayer: 4, dModel: 256, nHead: 4, vocab: 4096, context: 128 });
  assert.deepEqual(fromDepth(12, { vocab: 50257, context: 1024 }), { nLayer: 12, dModel: 768, nHead: 12, vocab: 50257, context: 1024 });
});

test("depth 4 is Kaplan's 3.1M model; groups sum to the total; the slab holds exactly the total", () => {
  const config = fromDepth(4, { vocab: 4096, context: 128 });
  const c = paramCounts(config);
  const L = 4,
    C = 256,
    V = 4096,
    T = 128;
  assert.equal(c.kaplan, 12 * L * C * C);
  assert.equal(c.kaplan, 3_145_728);
  assert.equal(
    Object.values(c.groups).reduce((a, b) => a + b, 0),
    c.total,
  );
  assert.equal(c.embedding, V * C + T * C);
  assert.equal(c.nonEmbedding, c.total - c.embedding);
  // non-embedding = Kaplan's matrices + biases (qkv 3C, attn proj C, fc 4C, mlp proj C) + LayerNorms (4C per layer, 2C final)
  assert.equal(c.nonEmbedding - c.kaplan, L * (3 * C + C + 4 * C + C + 4 * C) + 2 * C);
  const table = paramTable(config);
  assert.equal(
    table.reduce((s, t) => s + t.size, 0),
    c.total,
  );
  // GPT-2 small (depth 12, V 50257, context 1024): 124,439,808 parameters with the tied head (nanoGPT)
  assert.equal(paramCounts(fromDepth(12, { vocab: 50257, context: 1024 })).total, 124_439_808);
});

test('size table: tensors in PARAM_NAMES order, contiguous, decay group first and contiguous', () => {
  const table = paramTable({ nLayer: 2, dModel: 16, nHead: 2, vocab: 10, context: 8 });
  assert.deepEqual(
    table.map((t) => t.name),
    [...PARAM_NAMES],
  );
  let offset = 0;
  for (const t of table) {
    assert.equal(t.offset, offset, `${t.name} offset`);
    assert.equal(
      t.size,
      t.shape.reduce((a, b) => a * b, 1),
    );
    offset += t.size;
  }
  const firstNoDecay = table.findIndex((t) => !t.decay);
  assert.ok(table.slice(0, firstNoDecay).every((t) => t.decay) && table.slice(firstNoDecay).every((t) => !t.decay));
  // nanoGPT's rule: weight matrices and both embeddings decay; biases and LayerNorm parameters do not
  const decays = new Set(['wte', 'wpe', 'qkvw', 'attprojw', 'fcw', 'fcprojw']);
  for (const t of table) assert.equal(t.decay, decays.has(t.name), t.name);
  assert.deepEqual(table.find((t) => t.name === 'fcprojw')!.shape, [2, 16, 64]);
});

test('FLOPs per token: Kaplan (6N + 6 L T d) and with the tied head (+ 6 V d)', () => {
  const config = fromDepth(4, { vocab: 4096, context: 128 });
  const f = flopsPerToken(config);
  assert.equal(f.kaplan, 6 * 3_145_728 + 6 * 4 * 128 * 256);
  assert.equal(f.withHead, f.kaplan + 6 * 4096 * 256);
  assert.equal(f.context, 128);
  assert.equal(flopsPerToken(config, 64).kaplan, 6 * 3_145_728 + 6 * 4 * 64 * 256); // shorter sequences: smaller attention term
});

test('bad configs: ConfigError saying what was expected and what came, with a hint', () => {
  const good: GPTConfig = { nLayer: 2, dModel: 64, nHead: 2, vocab: 64, context: 16 };
  const cases: [Partial<GPTConfig>, RegExp][] = [
    [{ dModel: 64.5 }, /dModel must be a positive integer, got 64\.5/],
    [{ nLayer: 0 }, /nLayer must be a positive integer, got 0/],
    [{ vocab: -3 }, /vocab must be a positive integer, got -3/],
    [{ context: Number.NaN }, /context must be a positive integer, got NaN/],
    [{ nHead: '2' as unknown as number }, /nHead must be a positive integer, got "2"/],
    [{ dModel: 100, nHead: 3 }, /expected d_model % n_head == 0, got 100 % 3 = 1/],
  ];
  for (const [patch, message] of cases) {
    assert.throws(
      () => validateConfig({ ...good, ...patch }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, `expected a ConfigError for ${JSON.stringify(patch)}`);
        assert.match(e.message, message);
        assert.ok(e.hint.length > 10, 'a hint saying what to do');
        return true;
      },
    );
  }
  assert.throws(() => fromDepth(2.5, { vocab: 10, context: 8 }), /depth must be a positive integer, got 2\.5/);
  assert.throws(
    () => validateConfig({ ...good, dModel: 100, nHead: 3 }),
    (e: ConfigError) => /n_head dividing 100 \(e\.g\. 2\)/.test(e.hint),
  );
});
