// Our trainer vs the PyTorch peer on the same batch-size scan (issue 11): B_crit per level from both trainers by
// the same analysis (`scaling-lab bcrit --json`, same flags, same levels), the seed-to-seed spread, and the
// test-loss curves side by side (a table here, a PNG/SVG in --out).
//
//   npx tsx bench/peer/compare.ts --ours /tmp/peer/ours-d1.csv --torch /tmp/peer/torch-d1/scan.csv --out /tmp/peer/cmp-d1 [-- BCRIT FLAGS]
//
// Scans: a file holds seed 0 at every batch size and seed 1 at some. Each trainer's file is split into two
// one-seed scans: "s0" (seed 0 everywhere) and "s1" (seed 1 where it exists, seed 0 elsewhere), so every scan has
// one run per batch size; B_crit(s1) / B_crit(s0) is the seed-to-seed spread of that trainer at that level.
// Levels: those `bcrit` picks on our s0 scan (or --levels), passed explicitly to all four, so rows line up.
// BCRIT=<command> overrides how bcrit is run (default `node bin/scaling-lab.js bcrit` in this checkout).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { renderSvg, svgToPng } from '../../src/report/render.ts';
import { formatPercent, formatSig } from '../../src/util/format.ts';

interface Row {
  run: string;
  trainer: string;
  seed: number;
  batch: number;
  batchTokens: number;
  step: number;
  tokens: number;
  loss: number;
  lr: number;
  line: string;
}
interface Level {
  loss: number;
  bCrit?: number;
  status?: string;
  reason?: string;
  sMin?: number;
  eMin?: number;
  [k: string]: unknown;
}
interface Bcrit {
  levels: Level[];
  fit?: { bStar?: number; alphaB?: number; ci?: { bStar?: number[]; alphaB?: number[] }; n?: number; r2?: number } & Record<string, unknown>;
  [k: string]: unknown;
}

function readScan(path: string): { header: string; rows: Row[] } {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const header = lines[0];
  const cols = header.split(',');
  const at = (name: string) => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`${path}: no column ${name}`);
    return i;
  };
  const ix = {
    run: at('run'),
    trainer: at('trainer'),
    seed: at('seed'),
    batch: at('batch'),
    bt: at('batch_tokens'),
    step: at('step'),
    tokens: at('tokens'),
    loss: at('loss'),
    lr: at('lr'),
  };
  const rows = lines.slice(1).map((line) => {
    const v = line.split(',');
    return {
      run: v[ix.run],
      trainer: v[ix.trainer],
      seed: Number(v[ix.seed]),
      batch: Number(v[ix.batch]),
      batchTokens: Number(v[ix.bt]),
      step: Number(v[ix.step]),
      tokens: Number(v[ix.tokens]),
      loss: Number(v[ix.loss]),
      lr: Number(v[ix.lr]),
      line,
    };
  });
  return { header, rows };
}

/** seed 0 at every batch size ("s0"), or seed `seed` where present and seed 0 elsewhere. */
function oneSeed(rows: Row[], seed: number): Row[] {
  const has = new Set(rows.filter((r) => r.seed === seed).map((r) => r.batch));
  return rows.filter((r) => (has.has(r.batch) ? r.seed === seed : r.seed === 0));
}

function bcrit(file: string, flags: string[]): Bcrit {
  const cmd = (process.env.BCRIT ?? `node ${resolve('bin/scaling-lab.js')} bcrit`).split(' ');
  const out = execFileSync(cmd[0], [...cmd.slice(1), file, '--json', ...flags], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return JSON.parse(out) as Bcrit;
}

const fmt = (x: number | undefined, d = 3) => (x === undefined ? '-' : formatSig(x, { digits: d, small: 0, large: 1e4, trim: false }));
const pad = (s: string, n: number) => s.padStart(n);
const usable = (l: Level | undefined) => l !== undefined && (l.status === 'ok' || l.status === undefined) && l.bCrit !== undefined && Number.isFinite(l.bCrit);

async function main(): Promise<void> {
  const dash = process.argv.indexOf('--');
  const passthrough = dash >= 0 ? process.argv.slice(dash + 1) : [];
  const { values } = parseArgs({
    args: process.argv.slice(2, dash >= 0 ? dash : undefined),
    options: { ours: { type: 'string' }, torch: { type: 'string' }, out: { type: 'string' }, levels: { type: 'string' }, title: { type: 'string' } },
  });
  if (!values.ours || !values.torch || !values.out) {
    console.error('usage: npx tsx bench/peer/compare.ts --ours OURS.csv --torch TORCH.csv --out DIR [--levels L1,L2,...] [-- bcrit flags]');
    process.exit(2);
  }
  mkdirSync(values.out, { recursive: true });
  const scans = { ours: readScan(values.ours), torch: readScan(values.torch) };
  const seeds = [...new Set(scans.ours.rows.map((r) => r.seed))].sort((a, b) => a - b);
  const variants: { key: string; trainer: 'ours' | 'torch'; seed: number; file: string; rows: Row[] }[] = [];
  for (const trainer of ['ours', 'torch'] as const) {
    for (const seed of seeds) {
      // a trainer whose file lacks some of our seed-s runs (not trained yet) gets no s scan: '-' in the table
      const want = new Set(scans.ours.rows.filter((r) => r.seed === seed).map((r) => r.run));
      const have = new Set(scans[trainer].rows.filter((r) => r.seed === seed).map((r) => r.run));
      const missing = [...want].filter((r) => !have.has(r));
      if (missing.length) {
        console.log(`${trainer}: no seed-${seed} scan (missing ${missing.join(', ')})`);
        continue;
      }
      const rows = oneSeed(scans[trainer].rows, seed);
      const file = join(values.out, `${trainer}-s${seed}.csv`);
      writeFileSync(file, [scans[trainer].header, ...rows.map((r) => r.line)].join('\n') + '\n');
      variants.push({ key: `${trainer}-s${seed}`, trainer, seed, file, rows });
    }
  }
  // the whole files too: bcrit itself treats seeds as replicas (its per-level intervals include them)
  for (const trainer of ['ours', 'torch'] as const)
    variants.push({ key: `${trainer}-all`, trainer, seed: -1, file: trainer === 'ours' ? values.ours : values.torch, rows: scans[trainer].rows });
  // ---- B_crit per level, same levels for all: bcrit's default levels on our whole file, unless --levels
  let levels = values.levels;
  if (!levels) {
    const first = bcrit(values.ours, passthrough);
    levels = first.levels.map((l) => l.loss.toFixed(4)).join(',');
  }
  const results = new Map<string, Bcrit>();
  for (const v of variants) results.set(v.key, bcrit(v.file, [...passthrough, '--levels', levels]));
  const levelLosses = results.get('ours-all')!.levels.map((l) => l.loss);
  const find = (key: string, loss: number) => results.get(key)?.levels.find((l) => Math.abs(l.loss - loss) < 1e-6);

  console.log(`B_crit (tokens) per level, bcrit ${passthrough.join(' ') || '(defaults)'} --levels ${levels}`);
  console.log('ratio = PyTorch / ours (seed 0); seed spread = seed-1 scan / seed-0 scan of the same trainer (seed 1 at the batch sizes that have it)');
  console.log("all = the whole file (seeds as replicas, bcrit's 95% interval over batch sizes and seeds); status of our whole file");
  const head = [
    'loss',
    'status (ours all)',
    'ours all [95% CI]',
    'torch all [95% CI]',
    'ratio',
    'ours s0',
    'torch s0',
    'torch/ours',
    ...seeds.slice(1).flatMap((s) => [`ours s${s}`, `torch s${s}`, `seed ours`, `seed torch`]),
    'within spread',
    'torch in ours CI',
  ];
  const widths = [6, 18, 24, 24, 6, 9, 9, 10, ...seeds.slice(1).flatMap(() => [9, 9, 9, 10]), 13, 16];
  const withCi = (l: Level | undefined) =>
    l?.bCrit === undefined ? '-' : `${fmt(l.bCrit)}${Array.isArray(l.ci) ? ` [${fmt((l.ci as number[])[0])}, ${fmt((l.ci as number[])[1])}]` : ''}`;
  console.log(head.map((h, i) => pad(h, widths[i])).join(' '));
  const summary: Record<string, unknown>[] = [];
  for (const loss of levelLosses) {
    const o0 = find('ours-s0', loss),
      t0 = find('torch-s0', loss);
    const oa = find('ours-all', loss),
      ta = find('torch-all', loss);
    const ratio = usable(o0) && usable(t0) ? t0!.bCrit! / o0!.bCrit! : NaN;
    const ratioAll = usable(oa) && usable(ta) ? ta!.bCrit! / oa!.bCrit! : NaN;
    const cells = [fmt(loss, 4), String(oa?.status ?? '-').slice(0, 18), withCi(oa), withCi(ta), fmt(ratioAll), fmt(o0?.bCrit), fmt(t0?.bCrit), fmt(ratio)];
    const spreads: number[] = [];
    const entry: Record<string, unknown> = {
      loss,
      status: { ours: oa?.status, torch: ta?.status, 'ours-s0': o0?.status, 'torch-s0': t0?.status },
      bCrit: { 'ours-all': oa?.bCrit, 'torch-all': ta?.bCrit, 'ours-s0': o0?.bCrit, 'torch-s0': t0?.bCrit },
      ci: { 'ours-all': oa?.ci, 'torch-all': ta?.ci },
      ratioAll,
      ratio,
    };
    for (const s of seeds.slice(1)) {
      const o1 = find(`ours-s${s}`, loss),
        t1 = find(`torch-s${s}`, loss);
      const so = usable(o0) && usable(o1) ? o1!.bCrit! / o0!.bCrit! : NaN;
      const st = usable(t0) && usable(t1) ? t1!.bCrit! / t0!.bCrit! : NaN;
      for (const x of [so, st]) if (Number.isFinite(x)) spreads.push(Math.abs(Math.log(x)));
      cells.push(fmt(o1?.bCrit), fmt(t1?.bCrit), fmt(so), fmt(st));
      Object.assign(entry.bCrit as object, { [`ours-s${s}`]: o1?.bCrit, [`torch-s${s}`]: t1?.bCrit });
      entry[`seedRatio-s${s}`] = { ours: so, torch: st };
    }
    const spread = spreads.length ? Math.max(...spreads) : NaN;
    const within = Number.isFinite(ratio) && Number.isFinite(spread) ? (Math.abs(Math.log(ratio)) <= spread ? 'yes' : 'no') : '-';
    const ci = oa?.ci as number[] | undefined;
    const inCi = usable(oa) && usable(ta) && Array.isArray(ci) ? (ta!.bCrit! >= ci[0] && ta!.bCrit! <= ci[1] ? 'yes' : 'no') : '-';
    entry.within = within;
    entry.torchInOursCi = inCi;
    cells.push(within, inCi);
    summary.push(entry);
    console.log(cells.map((c, i) => pad(c, widths[i])).join(' '));
  }
  // over the levels usable in both trainers' seed-0 scans: the RMS of log(torch/ours) against the RMS of the
  // seed ratios' logs (a one-alternative-seed estimate of the spread, so itself noisy)
  const rms = (xs: number[]) => (xs.length ? Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / xs.length) : NaN);
  const lr = summary.filter((e) => Number.isFinite(e.ratio as number)).map((e) => Math.log(e.ratio as number));
  const la = summary.filter((e) => Number.isFinite(e.ratioAll as number)).map((e) => Math.log(e.ratioAll as number));
  console.log(
    `whole files, over ${la.length} levels usable in both: RMS |log(torch/ours)| ${rms(la).toFixed(3)} (x${Math.exp(rms(la)).toFixed(3)}); torch inside our 95% interval at ${summary.filter((e) => e.torchInOursCi === 'yes').length} of ${summary.filter((e) => e.torchInOursCi !== '-').length}`,
  );
  const ls = summary.flatMap((e) =>
    seeds.slice(1).flatMap((s) =>
      Object.values(e[`seedRatio-s${s}`] as Record<string, number>)
        .filter(Number.isFinite)
        .map(Math.log),
    ),
  );
  console.log(
    `seed-0 scans, over ${lr.length} levels usable in both: RMS |log(torch/ours)| ${rms(lr).toFixed(3)} (x${Math.exp(rms(lr)).toFixed(3)}), RMS |log(seed ratio)| ${rms(ls).toFixed(3)} (x${Math.exp(rms(ls)).toFixed(3)}, ${ls.length} ratios)`,
  );
  console.log('\nfit B_crit(L) = B* / L^(1/alpha_B) on the levels each scan calls usable:');
  for (const v of variants) {
    const f = results.get(v.key)!.fit;
    const ci = f?.ci;
    console.log(
      `  ${v.key.padEnd(9)} B* ${fmt(f?.bStar)} [${fmt(ci?.bStar?.[0])}, ${fmt(ci?.bStar?.[1])}]  alpha_B ${fmt(f?.alphaB)} [${fmt(ci?.alphaB?.[0])}, ${fmt(ci?.alphaB?.[1])}]  1/alpha_B ${fmt(f?.alphaB ? 1 / f.alphaB : undefined)}  n ${f?.n ?? '-'}`,
    );
  }

  // ---- test-loss curves: PyTorch vs ours at the same eval steps, and seed 1 vs seed 0 of the same trainer
  console.log("\ntest loss: relative difference at the same eval steps (median / max over the run's evals), and the loss at a few steps");
  console.log(
    `${'batch'.padStart(5)} ${'seed'.padStart(4)} ${'torch vs ours'.padStart(17)} ${'seed1 vs seed0 (ours)'.padStart(22)} ${'(torch)'.padStart(17)}   loss ours / torch at 25%, 50%, 100% of the run`,
  );
  const byRun = (rows: Row[]) => {
    const m = new Map<string, Map<number, Row>>();
    for (const r of rows) {
      if (!m.has(r.run)) m.set(r.run, new Map());
      m.get(r.run)!.set(r.step, r);
    }
    return m;
  };
  const O = byRun(scans.ours.rows),
    Tt = byRun(scans.torch.rows);
  const relStats = (a: Map<number, Row> | undefined, b: Map<number, Row> | undefined) => {
    if (!a || !b) return undefined;
    const d = [...a.keys()]
      .filter((s) => b.has(s))
      .map((s) => Math.abs(b.get(s)!.loss / a.get(s)!.loss - 1))
      .sort((x, y) => x - y);
    return d.length ? { median: d[Math.floor(d.length / 2)], max: d[d.length - 1], n: d.length } : undefined;
  };
  const runOf = (rows: Row[], batch: number, seed: number) => rows.find((r) => r.batch === batch && r.seed === seed)?.run;
  const batches = [...new Set(scans.ours.rows.map((r) => r.batch))].sort((a, b) => a - b);
  const pct = (x?: { median: number; max: number }) => (x ? `${formatPercent(x.median, 2)} / ${formatPercent(x.max, 2)}` : '-');
  const curveSummary: Record<string, unknown>[] = [];
  for (const b of batches) {
    for (const s of seeds) {
      const run = runOf(scans.ours.rows, b, s);
      if (!run) continue;
      const tv = relStats(O.get(run), Tt.get(run));
      const r0 = runOf(scans.ours.rows, b, 0)!;
      const so = s !== 0 ? relStats(O.get(r0), O.get(run)) : undefined;
      const st = s !== 0 ? relStats(Tt.get(r0), Tt.get(run)) : undefined;
      const steps = [...(O.get(run)?.keys() ?? [])];
      const at = [0.25, 0.5, 1].map((f) => steps[Math.max(0, Math.ceil(f * steps.length) - 1)]);
      const losses = at.map((st_) => `${fmt(O.get(run)?.get(st_)?.loss, 4)}/${fmt(Tt.get(run)?.get(st_)?.loss, 4)}`).join('  ');
      console.log(
        `${String(b).padStart(5)} ${String(s).padStart(4)} ${pad(pct(tv), 17)} ${pad(pct(so), 22)} ${pad(pct(st), 17)}   ${losses} (steps ${at.join(', ')})`,
      );
      curveSummary.push({ batch: b, seed: s, run, torchVsOurs: tv, seedVsSeed0: { ours: so, torch: st } });
    }
  }
  writeFileSync(
    join(values.out, 'compare.json'),
    JSON.stringify(
      {
        levels,
        bcritFlags: passthrough,
        rmsLogRatioAll: rms(la),
        rmsLogRatio: rms(lr),
        rmsLogSeedRatio: rms(ls),
        perLevel: summary,
        fits: Object.fromEntries([...results].map(([k, v]) => [k, v.fit])),
        curves: curveSummary,
        bcrit: Object.fromEntries(results),
      },
      null,
      1,
    ),
  );

  // ---- the curves side by side: one panel per batch size, x tokens (log), colour trainer, dash seed
  const data = [...scans.ours.rows, ...scans.torch.rows].map((r) => ({
    batch: r.batch,
    seed: `seed ${r.seed}`,
    trainer: r.trainer === 'ours' ? 'ours' : 'PyTorch',
    tokens: r.tokens,
    loss: r.loss,
    series: `${r.trainer} s${r.seed}`,
  }));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: values.title ?? 'Test loss, our trainer vs the PyTorch peer (same init, data order, optimiser)',
    data: { values: data },
    facet: { column: { field: 'batch', type: 'ordinal', title: 'batch (sequences of 64 tokens)' } },
    spec: {
      width: 170,
      height: 220,
      mark: { type: 'line', strokeWidth: 1.2, clip: true },
      encoding: {
        x: { field: 'tokens', type: 'quantitative', scale: { type: 'log', domain: [5000, 1600000] }, title: 'tokens' },
        y: {
          field: 'loss',
          type: 'quantitative',
          scale: { domain: [Math.floor(Math.min(...data.map((d) => d.loss)) * 10) / 10, 3.5], zero: false },
          title: 'test loss',
        },
        color: { field: 'trainer', type: 'nominal', scale: { range: ['#1f77b4', '#d62728'] } },
        strokeDash: { field: 'seed', type: 'nominal' },
        detail: { field: 'series' },
        opacity: { value: 0.8 },
      },
    },
  };
  const svg = await renderSvg(spec as never);
  writeFileSync(join(values.out, 'curves.svg'), svg);
  writeFileSync(join(values.out, 'curves.png'), svgToPng(svg, 1.5));
  console.log(
    `\nwrote ${join(values.out, 'curves.png')} (and .svg), compare.json, the one-seed scans ${variants
      .filter((v) => v.seed >= 0)
      .map((v) => v.key)
      .join(', ')}.csv`,
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
