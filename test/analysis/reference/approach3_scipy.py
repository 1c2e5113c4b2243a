#!/usr/bin/env python3
"""Independent reference for Chinchilla Approach 3 (Hoffmann et al. 2022 appendix D.2; Besiroglu et al. 2024):
minimise sum_i Huber_delta(LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i), delta = 1e-3, with
scipy.optimize.minimize(method='L-BFGS-B') from a grid of starts, keeping the best. Written from the papers,
not from scaling-lab's TypeScript; numpy + scipy only.

Data: the Open-Athena IsoFLOP collection (test/fixtures/analysis/isoflops_open_athena.csv), one fit per
experiment on the rows with outlier False, N = params, D = tokens.

Start grid: by default a coarser grid than Hoffmann's 4500 points so CI stays fast (243 starts:
alpha, beta in {0.5, 1, 1.5}, e in {-1, 0, 1}, a, b in {0, 10, 20}); --full uses Hoffmann's grid
(alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}). L-BFGS-B with the analytic
gradient and ftol 1e-12 (scipy's default 2.2e-9 stops early on this objective, whose value is ~1e-4).

Usage: approach3_scipy.py [CSV] [--full] [--experiment NAME] [--bootstrap K]  -> one JSON object on stdout.
"""
import csv
import itertools
import json
import math
import sys
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

DELTA = 1e-3


def load(path):
    by = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["outlier"] == "True":
                continue
            by.setdefault(row["experiment"], []).append((float(row["params"]), float(row["tokens"]), float(row["loss"])))
    return {k: np.array(v) for k, v in by.items()}


def objective(x, logN, logD, logL, w):
    a, b, e, alpha, beta = x
    u = np.stack([a - alpha * logN, b - beta * logD, np.full_like(logN, e)])
    lse = logsumexp(u, axis=0)
    r = lse - logL
    f = np.sum(w * huber(DELTA, r))
    p = np.exp(u - lse)  # softmax weights of the three terms
    h = w * np.clip(r, -DELTA, DELTA)
    g = np.array([np.sum(h * p[0]), np.sum(h * p[1]), np.sum(h * p[2]), -np.sum(h * p[0] * logN), -np.sum(h * p[1] * logD)])
    return f, g


def grid(full):
    if full:
        al = np.arange(0, 2.01, 0.5)
        es = np.arange(-1, 1.01, 0.5)
        ab = np.arange(0, 25.01, 5)
    else:
        al = np.array([0.5, 1.0, 1.5])
        es = np.array([-1.0, 0.0, 1.0])
        ab = np.array([0.0, 10.0, 20.0])
    return [np.array([a, b, e, x, y]) for x, y, e, a, b in itertools.product(al, al, es, ab, ab)]


def fit(data, starts, w=None):
    logN, logD, logL = np.log(data[:, 0]), np.log(data[:, 1]), np.log(data[:, 2])
    if w is None:
        w = np.ones(len(logN))
    best = None
    for x0 in starts:
        r = minimize(objective, x0, args=(logN, logD, logL, w), jac=True, method="L-BFGS-B", options={"ftol": 1e-12, "gtol": 1e-5, "maxiter": 15000, "maxfun": 15000})
        if np.isfinite(r.fun) and (best is None or r.fun < best.fun):
            best = r
    return best


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    path = args[0] if args else "test/fixtures/analysis/isoflops_open_athena.csv"
    full = "--full" in argv
    only = argv[argv.index("--experiment") + 1] if "--experiment" in argv else None
    boot = int(argv[argv.index("--bootstrap") + 1]) if "--bootstrap" in argv else 0
    sets = load(path)
    starts = grid(full)
    out = {"grid": "full (4500)" if full else f"coarse ({len(starts)})", "starts": len(starts), "scipy": __import__("scipy").__version__, "experiments": {}}
    for name, data in sets.items():
        if only and name != only:
            continue
        t0 = time.perf_counter()
        c0 = time.process_time()
        r = fit(data, starts)
        secs = time.perf_counter() - t0
        cpu = time.process_time() - c0
        a, b, e, alpha, beta = r.x
        entry = {"n": int(len(data)), "objective": float(r.fun), "E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": float(alpha), "beta": float(beta), "x": [float(v) for v in r.x], "seconds": secs, "cpu_seconds": cpu}
        if boot > 0:
            # warm-started bootstrap (the same strategy the TypeScript uses: the full-data optimum as start)
            rng = np.random.default_rng(0)
            t1 = time.perf_counter()
            c1 = time.process_time()
            alphas = []
            for _ in range(boot):
                w = np.bincount(rng.integers(0, len(data), len(data)), minlength=len(data)).astype(float)
                rb = fit(data, [r.x], w)
                alphas.append(rb.x[3])
            entry["bootstrap"] = {"samples": boot, "seconds": time.perf_counter() - t1, "cpu_seconds": time.process_time() - c1, "alpha_ci": [float(np.quantile(alphas, 0.025)), float(np.quantile(alphas, 0.975))]}
        out["experiments"][name] = entry
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
