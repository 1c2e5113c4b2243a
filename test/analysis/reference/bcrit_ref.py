#!/usr/bin/python3
"""Independent reference for docs/METHODS.md section 1 (critical batch size from a batch-size scan).

Written from docs/METHODS.md alone, in numpy + scipy, so that test/analysis/bcrit-reference.test.ts can check
`scaling-lab bcrit` against a second implementation of the same spec. It deliberately uses different numerics
where the spec leaves room: numpy.polyfit per smoothing window, and for eq. 5.1 a joint trust-region least-squares
fit of (ln S_min, logit(E_min / min E)) from several starts (scipy.optimize.least_squares) instead of the
spec's grid + golden section on the profiled 1-D problem.

Usage:
    /usr/bin/python3 bcrit_ref.py SCAN.csv [--levels 2.9,2.7,...] [--warmup-steps W] [--context T]
    /usr/bin/python3 bcrit_ref.py --self-test     (checks of the reference against closed forms)

Input: a CSV with columns run, batch_tokens (or batch_size with --context), step, optional tokens, loss (test
loss; empty on rows that only log the lr), optional lr, optional seed, optional warmup. Prints one JSON object:
per level the loss, the batch sizes that reach it, S_min, E_min, B_crit (tokens) and the section 1.6 status;
the B_crit(L) line over the `ok` levels; the default levels of section 1.6 (for information).
"""
import argparse
import csv
import json
import math
import sys

import numpy as np
from scipy import optimize, special, stats

ALIASES = {
    'run': ['run', 'run_id', 'id', 'name'],
    'batch_tokens': ['batch_tokens'],
    'batch_size': ['batch_size'],
    'step': ['step', 'iter'],
    'loss': ['loss', 'test_loss', 'val_loss'],
    'lr': ['lr', 'learning_rate'],
    'seed': ['seed'],
    'warmup': ['warmup', 'warmup_steps'],
}


def die(msg):
    print(f'bcrit_ref: {msg}', file=sys.stderr)
    sys.exit(2)


def num(v):
    v = (v or '').strip()
    if v == '':
        return math.nan
    try:
        return float(v)
    except ValueError:
        return math.nan


# ---- reading

def read_scan(path, context, warmup_default):
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        cols = {c.strip().lower(): c for c in reader.fieldnames or []}

        def col(key):
            for a in ALIASES[key]:
                if a in cols:
                    return cols[a]
            return None

        c_run, c_bt, c_bs, c_step = col('run'), col('batch_tokens'), col('batch_size'), col('step')
        c_loss, c_lr, c_seed, c_wu = col('loss'), col('lr'), col('seed'), col('warmup')
        if c_run is None or c_step is None or c_loss is None:
            die(f'{path}: needs columns run, step and loss (found {reader.fieldnames})')
        if c_bt is None and (c_bs is None or context is None):
            die(f'{path}: needs batch_tokens, or batch_size with --context')
        runs = {}
        for row in reader:
            name = row[c_run]
            r = runs.setdefault(name, {'name': name, 'B': None, 'seed': '', 'evals': [], 'lrs': [], 'warmup': math.nan})
            b = num(row[c_bt]) if c_bt else num(row[c_bs]) * context
            if math.isfinite(b):
                r['B'] = b
            if c_seed and row[c_seed].strip() != '':
                r['seed'] = row[c_seed].strip()
            step = num(row[c_step])
            if not math.isfinite(step):
                continue
            loss = num(row[c_loss])
            if math.isfinite(loss) and step >= 1:
                r['evals'].append((step, loss))
            if c_lr:
                lr = num(row[c_lr])
                if math.isfinite(lr):
                    r['lrs'].append((step, lr))
            if c_wu:
                w = num(row[c_wu])
                if math.isfinite(w):
                    r['warmup'] = w
    out = []
    for r in runs.values():
        if r['B'] is None or not r['evals']:
            continue
        if not r['lrs'] and not math.isfinite(r['warmup']):
            r['warmup'] = warmup_default
        out.append(r)
    if not out:
        die(f'{path}: no runs with eval points')
    return out


# ---- 1.1 progress

def progress(run):
    """(u at each eval step, raw eval steps, eval losses, transient end) of one run."""
    ev = sorted(dict(run['evals']).items())  # one point per step, by step
    steps = np.array([s for s, _ in ev], dtype=float)
    losses = np.array([l for _, l in ev], dtype=float)
    smax = int(round(steps.max()))
    t = np.arange(1, smax + 1, dtype=float)
    if run['lrs']:
        lr = sorted(dict(run['lrs']).items())
        lt = np.array([a for a, _ in lr], dtype=float)
        lv = np.array([b for _, b in lr], dtype=float)
        if lt[0] > 0:  # rises linearly from 0 at t = 0 up to the first logged step
            lt = np.concatenate([[0.0], lt])
            lv = np.concatenate([[0.0], lv])
        peak = lv.max()
        lr_t = np.interp(t, lt, lv)  # linear between logged steps, held after the last
        at_peak = np.nonzero(lr_t >= peak * (1 - 1e-6))[0]
        t_star = t[at_peak[0]] if len(at_peak) else math.inf
        w = np.where(t < t_star, np.minimum(1.0, lr_t / peak), 1.0)
        u_all = np.cumsum(w)
        u = u_all[np.round(steps).astype(int) - 1]
        # a peak reached only after the last eval still ends the transient there
        transient_end = t_star if math.isfinite(t_star) else float(smax)
    else:
        W = run['warmup'] if math.isfinite(run['warmup']) else 0.0
        if W > 0:
            u = np.where(steps <= W, steps * (steps + 1) / (2 * W), steps - (W - 1) / 2)
        else:
            u = steps.copy()
        transient_end = W
    return u, steps, losses, transient_end


# ---- 1.2 one run's curve

def smooth_curve(x, losses):
    n = len(x)
    if n < 5:
        sm = losses.copy()
    else:
        sm = np.empty(n)
        for i in range(n):
            lo = min(max(i - 2, 0), n - 5)
            xs = x[lo:lo + 5] - x[i]  # centred on the point: the fitted value there is the constant term
            coef = np.polyfit(xs, losses[lo:lo + 5], 2)
            sm[i] = coef[-1]
    return np.minimum.accumulate(sm)


def run_curve(run):
    u, steps, losses, t_end = progress(run)
    x = np.log(u)
    return {'name': run['name'], 'x': x, 'lns': np.log(steps), 'L': smooth_curve(x, losses), 't_end': t_end,
            'lr_peak': max(v for _, v in run['lrs']) if run['lrs'] else None}


# ---- 1.3 envelope over the LR axis

def envelope(curves):
    X = np.unique(np.concatenate([c['x'] for c in curves]))
    L = np.full(len(X), np.inf)
    lns = np.zeros(len(X))
    t_end = np.zeros(len(X))
    for c in curves:
        live = X >= c['x'][0]
        v = np.interp(X, c['x'], c['L'])  # held at the last value after the run's end
        s = np.interp(X, c['x'], c['lns'])
        better = live & (v < L)
        L[better] = v[better]
        lns[better] = s[better]
        t_end[better] = c['t_end']
    return {'x': X, 'L': np.minimum.accumulate(L), 'lns': lns, 't_end': t_end}


# ---- 1.4 steps to reach a level

def crossing(env, level):
    """None if unreached, 'first' if reached at the first eval, else (ln S, raw step, transient end)."""
    L = env['L']
    hit = np.nonzero(L <= level)[0]
    if len(hit) == 0:
        return None
    j = hit[0]
    if j == 0:
        return 'first'
    f = (L[j - 1] - level) / (L[j - 1] - L[j])
    x = env['x'][j - 1] + f * (env['x'][j] - env['x'][j - 1])
    lns = env['lns'][j - 1] + f * (env['lns'][j] - env['lns'][j - 1])
    return x, math.exp(lns), env['t_end'][j]


# ---- 1.5 eq. 5.1 per level

def fit_eq51(S, E):
    lnS = np.log(S)
    emin_max = E.min()

    def resid(p):
        ln_smin, t = p
        e_min = emin_max * special.expit(t)
        # ln S = ln S_min + ln E - ln(E - E_min) = ln S_min - ln(1 - E_min / E)
        return lnS - ln_smin + np.log1p(-e_min / E)

    def profile_sse(t):
        e_min = emin_max * special.expit(t)
        r = lnS + np.log1p(-e_min / E)
        return float(np.sum((r - r.mean()) ** 2))

    best = None
    for t0 in (-12.0, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 12.0):
        e0 = emin_max * special.expit(t0)
        ls0 = float(np.mean(lnS + np.log1p(-e0 / E)))
        r = optimize.least_squares(resid, [ls0, t0], bounds=([-np.inf, -24.0], [np.inf, 24.0]),
                                   method='trf', xtol=1e-13, ftol=1e-15, gtol=1e-15, max_nfev=2000)
        if best is None or r.cost < best.cost:
            best = r
    ln_smin, t = best.x
    sse = 2 * best.cost
    edge = 'none'
    # degenerate: the optimum is (as good as) at an end of t in [-24, 24]
    if t <= -23.5 or profile_sse(-24.0) <= sse * (1 + 1e-9) + 1e-300:
        edge = 'low'
    elif t >= 23.5 or profile_sse(24.0) <= sse * (1 + 1e-9) + 1e-300:
        edge = 'high'
    s_min = math.exp(ln_smin)
    e_min = emin_max * float(special.expit(t))
    return {'sMin': s_min, 'eMin': e_min, 'bCrit': e_min / s_min, 't': float(t), 'sse': sse, 'edge': edge}


# ---- the analysis

def analyze(runs, levels=None, n_levels=16, min_sizes=3, margin=1.0, break_p=0.01):
    by_key = {}
    for r in runs:
        by_key.setdefault((r['B'], r['seed']), []).append(run_curve(r))
    envs = {k: envelope(v) for k, v in by_key.items()}
    batch_sizes = sorted({k[0] for k in envs})
    if len(batch_sizes) < 2:
        die('the scan has one batch size; B_crit needs several')

    winners = {}
    for (b, seed), cs in sorted(by_key.items()):
        w = min(cs, key=lambda c: c['L'][-1])
        lrs = sorted({c['lr_peak'] for c in cs if c['lr_peak'] is not None})
        winners[f'{b:g}/{seed}'] = {'run': w['name'], 'lr': w['lr_peak'],
                                    'edge': bool(len(lrs) > 1 and w['lr_peak'] in (lrs[0], lrs[-1]))}

    # 1.6 default levels: strictly between hi, the lowest loss any replica (batch size x seed) has reached by the end
    # of its transient (its first eval if that is later), and lo, the final loss of the k-th best batch size,
    # k = max(3, half the batch sizes). A batch size's final loss is the deepest level at least half its seeds reach.
    def reached_by_transient_end(e):
        inside = np.nonzero(np.exp(e['lns']) <= e['t_end'] * (1 + 1e-12))[0]
        return e['L'][inside[-1]] if len(inside) else e['L'][0]

    hi = min(reached_by_transient_end(e) for e in envs.values())
    finals = []
    for b in batch_sizes:
        f = sorted(e['L'][-1] for k, e in envs.items() if k[0] == b)
        finals.append(f[math.ceil(len(f) / 2) - 1])
    k_best = max(3, math.ceil(len(batch_sizes) / 2))
    lo = sorted(finals)[min(k_best, len(finals)) - 1]
    default_levels = list(np.exp(np.linspace(math.log(hi), math.log(lo), n_levels + 2)[1:-1])) if lo < hi else []
    if levels is None:
        levels = default_levels

    out = []
    for level in levels:
        reached, S, E, transient = [], [], [], False
        for b in batch_sizes:
            seeds = [k for k in envs if k[0] == b]
            hits = [crossing(envs[k], level) for k in seeds]
            good = [h for h in hits if isinstance(h, tuple)]
            if len(good) == 0 or len(good) < len(seeds) / 2:
                continue
            ln_s = float(np.mean([h[0] for h in good]))  # geometric mean of S over the seeds that reach it
            reached.append(b)
            S.append(math.exp(ln_s))
            E.append(math.exp(ln_s) * b)
            if any(h[1] <= h[2] for h in good):
                transient = True
        rec = {'loss': level, 'batchSizes': len(reached), 'reached': reached,
               'S': S, 'sMin': None, 'eMin': None, 'bCrit': None, 'edge': None, 'status': None, 'reason': ''}
        if len(reached) >= 2:
            f = fit_eq51(np.array(S), np.array(E))
            rec.update(sMin=f['sMin'], eMin=f['eMin'], bCrit=f['bCrit'], edge=f['edge'], t=f['t'])
        if len(reached) < min_sizes:
            rec['status'], rec['reason'] = 'too-few-batch-sizes', f'{len(reached)} batch sizes reach it'
        elif transient:
            rec['status'], rec['reason'] = 'transient', 'a batch size crosses it inside its transient'
        elif rec['edge'] != 'none':
            rec['status'], rec['reason'] = 'degenerate', f'eq. 5.1 optimum at the {rec["edge"]} edge'
        elif rec['bCrit'] < reached[0] / margin or rec['bCrit'] > reached[-1] * margin:
            rec['status'], rec['reason'] = 'outside-scan', 'B_crit beyond the batch sizes that reach the level'
        else:
            rec['status'] = 'ok'
        out.append(rec)

    # 1.6 break test over the ok levels, ordered by loss (high to low)
    ok = sorted([r for r in out if r['status'] == 'ok'], key=lambda r: -r['loss'])
    brk = None
    n = len(ok)
    if n >= 6:
        lx = np.log([r['loss'] for r in ok])
        ly = np.log([r['bCrit'] for r in ok])

        def sse_line(a, b):
            p = np.polyfit(a, b, 1)
            return float(np.sum((b - np.polyval(p, a)) ** 2))

        sse1 = sse_line(lx, ly)
        best = None
        # high part >= 2 levels, low part >= max(4, n/2) levels; the high part steeper than the low part (a more
        # negative slope of ln B_crit on ln L) and below the low part's line on average
        for k in range(2, n - max(4, math.ceil(n / 2)) + 1):
            low = np.polyfit(lx[k:], ly[k:], 1)
            high = np.polyfit(lx[:k], ly[:k], 1)
            if not high[0] < low[0] or np.mean(ly[:k] - np.polyval(low, lx[:k])) >= 0:
                continue
            s2 = sse_line(lx[:k], ly[:k]) + sse_line(lx[k:], ly[k:])
            if best is None or s2 < best[1]:
                best = (k, s2)
        if best is not None:
            k, sse2 = best
            F = ((sse1 - sse2) / 2) / (sse2 / (n - 4)) if sse2 > 0 else math.inf
            p = float(stats.f.sf(F, 2, n - 4)) if math.isfinite(F) else 0.0
            brk = {'split': k, 'loss': ok[k - 1]['loss'], 'F': F, 'p': p, 'applied': p < break_p}
            if p < break_p:
                for r in ok[:k]:
                    r['status'] = 'pre-regime'
                    r['reason'] = f'break test: F = {F:.3g}, p = {p:.3g}'

    law = None
    ok = [r for r in out if r['status'] == 'ok']
    if len(ok) >= 3:
        slope, icpt = np.polyfit(np.log([r['loss'] for r in ok]), np.log([r['bCrit'] for r in ok]), 1)
        law = {'bStar': math.exp(icpt), 'alphaB': -1 / slope, 'invAlphaB': -slope, 'n': len(ok)}
    return {'batchSizes': batch_sizes, 'levels': out, 'law': law, 'breakTest': brk,
            'defaultLevels': default_levels, 'winners': winners}


def self_test():
    """Checks of the reference itself against closed forms; prints 'ok' or raises."""
    # 1.5: exact points of eq. 5.1 give back S_min, E_min; S flat in B is the low edge
    B = np.array([256.0, 1024, 4096, 16384])
    S = 1000 * (1 + 3e6 / 1000 / B)
    f = fit_eq51(S, S * B)
    assert abs(f['sMin'] / 1000 - 1) < 1e-6 and abs(f['eMin'] / 3e6 - 1) < 1e-6 and f['edge'] == 'none', f
    f = fit_eq51(np.full(3, 500.0), 500 * B[:3])
    assert f['edge'] == 'low', f
    # 1.1: a logged linear warm-up (sparse, from 0 at t = 0) equals the declared one: s(s+1)/(2W), s - (W-1)/2
    evals = [(s, 1.0) for s in range(5, 101, 5)]
    u1, _, _, t1 = progress({'evals': evals, 'lrs': [(s, 2e-3 * min(1, s / 30)) for s in (10, 20, 30, 40, 100)], 'warmup': math.nan})
    u2, _, _, t2 = progress({'evals': evals, 'lrs': [], 'warmup': 30.0})
    s = np.arange(5, 101, 5.0)
    u3 = np.where(s <= 30, s * (s + 1) / 60, s - 14.5)
    assert np.allclose(u1, u3) and np.allclose(u2, u3) and t1 == 30 and t2 == 30, (u1, u2, u3)
    u4, _, _, t4 = progress({'evals': evals, 'lrs': [], 'warmup': 0.0})
    assert np.allclose(u4, s) and t4 == 0
    # 1.2: the 5-point quadratic reproduces a quadratic in x (then the running minimum)
    x = np.log(np.arange(1.0, 12))
    q = 3 - 0.4 * x + 0.02 * x ** 2
    assert np.allclose(smooth_curve(x, q), np.minimum.accumulate(q))
    # 1.4: linear interpolation in x between the envelope points around the crossing
    env = {'x': np.log([1.0, 2, 4]), 'L': np.array([3.0, 2.5, 2.0]), 'lns': np.log([1.0, 2, 4]), 't_end': np.zeros(3)}
    c = crossing(env, 2.25)
    assert abs(c[0] - math.log(2) * 1.5) < 1e-12 and crossing(env, 3.5) == 'first' and crossing(env, 1.5) is None
    print('ok')


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('file')
    ap.add_argument('--levels', help='target losses, comma separated (default: section 1.6)')
    ap.add_argument('--n-levels', type=int, default=16)
    ap.add_argument('--break-p', type=float, default=0.01, help='p below which the break test applies (1.6)')
    ap.add_argument('--warmup-steps', type=float, default=0.0, help='declared warm-up of runs without lr or warmup')
    ap.add_argument('--context', type=float, help='tokens per sequence when the file has batch_size')
    a = ap.parse_args()
    levels = [float(v) for v in a.levels.split(',')] if a.levels else None
    runs = read_scan(a.file, a.context, a.warmup_steps)
    res = analyze(runs, levels, a.n_levels, break_p=a.break_p)
    print(json.dumps(res, indent=1, default=float))


if __name__ == '__main__':
    main()
