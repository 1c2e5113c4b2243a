// The one PRNG (src/util/random.ts) against the two generators it replaced: every stream bit-identical. The expected
// values below were computed with src/analysis/random.ts (SeededRandom) and src/engine/rng.ts (Rng) as they were
// before they were merged (commit 3d1c089), on the same draws: the first floats/uniforms, integers and normals, then a
// digest of 1000 rounds of (uniform, int(97), normal) as float64 bits. Normals are compared exactly: both sides
// are this code base's own Box-Muller on V8's Math.log/sin/cos. (The Python known answers: test/engine/rng-kat.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Rng, SeededRandom } from '../../src/util/random.ts';

interface Draws {
  uniform?: number[];
  float?: number[];
  int: number[];
  normal: number[];
  digest: string;
}

function analysisDraws(r: SeededRandom): Draws {
  const head = { float: [r.float(), r.float(), r.float()], int: [r.int(1000), r.int(1000), r.int(7)], normal: [r.normal(), r.normal(), r.normal()] };
  const buf = new Float64Array(3000);
  for (let i = 0; i < 3000; i += 3) {
    buf[i] = r.float();
    buf[i + 1] = r.int(97);
    buf[i + 2] = r.normal();
  }
  return { ...head, digest: createHash('sha256').update(new Uint8Array(buf.buffer)).digest('hex').slice(0, 32) };
}

function engineDraws(r: Rng): Draws {
  const head = { uniform: [r.uniform(), r.uniform(), r.uniform()], int: [r.int(1000), r.int(2 ** 40), r.int(7)], normal: [r.normal(), r.normal(), r.normal()] };
  const buf = new Float64Array(3000);
  for (let i = 0; i < 3000; i += 3) {
    buf[i] = r.uniform();
    buf[i + 1] = r.int(97);
    buf[i + 2] = r.normal();
  }
  return { ...head, digest: createHash('sha256').update(new Uint8Array(buf.buffer)).digest('hex').slice(0, 32) };
}

// seeds as the analysis code forms them (seed * 1000003 + r, bootSeed * 7919 + r + 1), past 2^32, and negative
const OLD: { analysis: [number, Draws][]; engine: [number, Draws][]; keyed: [number[], Draws][] } = {
  analysis: [
    [
      0,
      {
        float: [0.011667883256450295, 0.3067967831157148, 0.3851752772461623],
        int: [291, 546, 1],
        normal: [-0.5213114994205705, 1.1821367408712236, 0.6447912928597818],
        digest: 'b207b7df4ff89da4e7e26f4371302400',
      },
    ],
    [
      1,
      {
        float: [0.09735302533954382, 0.8643108413089067, 0.4108802939299494],
        int: [973, 976, 1],
        normal: [-1.300030739470637, 1.4611206066649913, 1.6222897841765935],
        digest: 'ceac60e6322da2b098f51f34420304ba',
      },
    ],
    [
      42,
      {
        float: [0.4690228053368628, 0.590576414950192, 0.10237657721154392],
        int: [158, 836, 5],
        normal: [1.3898412944264111, -0.9767265584624437, 0.20482285637908795],
        digest: '39f279fbe1a4530cb9f546e4d39b6a5f',
      },
    ],
    [
      7000026,
      {
        float: [0.6148081209976226, 0.7596213789656758, 0.313519123243168],
        int: [110, 826, 6],
        normal: [1.4122850538807903, 0.12690646309933942, 1.031240465738285],
        digest: 'eeaf3e861c1f69144b2d6cdef613d215',
      },
    ],
    [
      7923,
      {
        float: [0.513206569943577, 0.34233085345476866, 0.3613341704476625],
        int: [761, 383, 1],
        normal: [-2.024932673502638, -1.396266042484931, -0.07017517197472062],
        digest: '4e7fe54a8133853b32776d5e20380c3f',
      },
    ],
    [
      4294967301,
      {
        float: [0.09096671734005213, 0.16627504234202206, 0.36586775770410895],
        int: [237, 24, 6],
        normal: [-1.894425910418065, 1.0027909487284687, 0.23307305783424886],
        digest: 'f7e92163b4603495d7b48e6bfde3bf88',
      },
    ],
    [
      1099511627899,
      {
        float: [0.9423448615707457, 0.001893765525892377, 0.42682606098242104],
        int: [587, 965, 3],
        normal: [-0.3452971539450031, -0.6832809274249807, 2.064386464925004],
        digest: '6398d5d16274dca41239182870ddf8fe',
      },
    ],
    [
      -3,
      {
        float: [0.5180970942601562, 0.7679882650263608, 0.5934159397147596],
        int: [84, 914, 3],
        normal: [1.4763271306775385, -0.4242448826775314, -1.770335898202832],
        digest: 'd0e8dd8f32fd9b6bf22c0e7e50a0d453',
      },
    ],
  ],
  engine: [
    [
      0,
      {
        uniform: [0.011667879721498298, 0.38517527499101045, 0.5464066734972723],
        int: [174, 566091117763, 4],
        normal: [-0.06928990290823793, 0.7086797263262186, 0.25071409470785466],
        digest: '4a68dd5cfc62f4357a64111bbaddec14',
      },
    ],
    [
      1,
      {
        uniform: [0.0973530252599033, 0.4108802972261345, 0.9768522620415756],
        int: [200, 22566395489, 0],
        normal: [0.9494147414601048, -0.262638292586194, 0.3809008940867611],
        digest: '18cc4e82c11bb4a511251ab3b28f5b5b',
      },
    ],
    [
      42,
      {
        uniform: [0.4690228074086935, 0.10237657397161637, 0.8368379458866404],
        int: [497, 356388452397, 4],
        normal: [0.71310057347873, 2.3821246674531866, 0.5298640085182058],
        digest: '5ace983e69ee03110d82087c78a0aab8',
      },
    ],
    [
      4294967301,
      {
        uniform: [0.4273379390867066, 0.2521924596336049, 0.35637247884856804],
        int: [21, 212049828481, 2],
        normal: [-1.4204618607837933, -1.0083178301696925, -0.8978576239695576],
        digest: 'da46e1cbbd128c659e096af2f28d127b',
      },
    ],
  ],
  keyed: [
    [
      [0, -1],
      {
        uniform: [0.7228287962216239, 0.09023503700136504, 0.8334303304500138],
        int: [838, 502434989581, 4],
        normal: [-1.0225312231545143, -0.44650082990375767, -0.4545674664883862],
        digest: '02c9c3a710587ab290f782caade521d2',
      },
    ],
    [
      [3, 17, 2],
      {
        uniform: [0.03580260611355435, 0.1111202702030274, 0.4703863929994465],
        int: [246, 652362176655, 5],
        normal: [0.15568977813858462, -1.2179913195889391, -0.47569200351572266],
        digest: '462e658585bbd7eeaa63a6e323c81047',
      },
    ],
    [
      [1, 4294967296, 0],
      {
        uniform: [0.4578700377620417, 0.08363816641921318, 0.7407956835968357],
        int: [154, 253833701287, 4],
        normal: [-0.8573471240921255, 1.6481198079698998, -1.1279436469139041],
        digest: '1eda6546a21a5d84d068b7eee9ad84dc',
      },
    ],
  ],
};

test('analysis face: SeededRandom(seed) reproduces the old analysis/random.ts stream (floats, ints, normals)', () => {
  for (const [seed, want] of OLD.analysis) assert.deepEqual(analysisDraws(new SeededRandom(seed)), want, `seed ${seed}`);
});

test('training face: new Rng(seed) and Rng.keyed(...) reproduce the old engine/rng.ts streams', () => {
  for (const [seed, want] of OLD.engine) assert.deepEqual(engineDraws(new Rng(seed)), want, `seed ${seed}`);
  for (const [key, want] of OLD.keyed) assert.deepEqual(engineDraws(Rng.keyed(...key)), want, `key ${key.join(', ')}`);
});

test('the two faces are one generator: same 32-bit words for a seed below 2^32, different past it (seeding differs)', () => {
  const a = new SeededRandom(12345),
    e = new Rng(12345);
  assert.deepEqual(
    Array.from({ length: 16 }, () => a.uint32()),
    Array.from({ length: 16 }, () => e.nextU32()),
  );
  const a2 = new SeededRandom(2 ** 32 + 5),
    e2 = new Rng(2 ** 32 + 5);
  assert.notEqual(a2.uint32(), e2.nextU32());
  // float() has 32 random bits, uniform() 53: not the same numbers, so neither are the faces' normals
  const f = new SeededRandom(9),
    u = new Rng(9);
  assert.notEqual(f.float(), u.uniform());
});

test('the analysis face saves and restores its state too (pending normal included)', () => {
  const r = new SeededRandom(77);
  r.normal();
  const state = r.getState();
  const after = [r.normal(), r.float(), r.int(10)];
  const r2 = new SeededRandom(0);
  r2.setState(state);
  assert.deepEqual([r2.normal(), r2.float(), r2.int(10)], after);
  assert.throws(() => r2.setState({ s: [1, 2, 3], spare: null }), RangeError);
});
