#!/usr/bin/python3
"""Per-step agreement of the PyTorch peer with our trainer on the same runs (bench/peer/validate.sh).

    /usr/bin/python3 bench/peer/compare_steps.py --ours STORE_DIR --torch TORCH_OUT_DIR [--steps N]

For every run in the torch output (<name>.steps.jsonl) finds our run of the same name in the file store
(<id>/spec.json + metrics.jsonl) and prints, over the first N steps, the worst relative difference of the train
loss, the gradient norm and the test loss (eval steps), and the LR's; then the same over all exported steps (for
information: float32 rounding differences grow, fastest through loss spikes). Exit 1 if a train/test loss
differs by more than --tol (default 1e-4 relative) within the first N steps (default 20).
"""
import argparse
import json
import os
import sys


def ours_runs(store):
    out = {}
    for d in os.listdir(store):
        p = os.path.join(store, d, "spec.json")
        if not os.path.exists(p):
            continue
        with open(p) as f:
            spec = json.load(f)
        out[spec["name"]] = os.path.join(store, d)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--torch", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    ours = ours_runs(a.ours)
    names = sorted(n[:-len(".steps.jsonl")] for n in os.listdir(a.torch) if n.endswith(".steps.jsonl"))
    if not names:
        print(f"no <run>.steps.jsonl in {a.torch}")
        return 1
    rel = lambda x, y: abs(x - y) / abs(y)

    def worst(o, t):
        tr = max(rel(r["train_loss"], o[r["step"]]["trainLoss"]) for r in t)
        gn = max(rel(r["grad_norm"], o[r["step"]]["gradNorm"]) for r in t)
        lr = max(rel(r["lr"], o[r["step"]]["lr"]) for r in t)
        te_pairs = [(r["loss"], o[r["step"]].get("testLoss")) for r in t if "loss" in r]
        if any(y is None for _, y in te_pairs):
            raise SystemExit("torch evaluated at a step ours did not")
        te = max((rel(x, y) for x, y in te_pairs), default=0.0)
        return tr, te, gn, lr, len(te_pairs)

    checked = 0.0
    print(f"{'run':28s} {'steps':>5s} {'train loss':>10s} {'test loss':>10s} {'grad norm':>10s} {'lr':>8s} {'evals':>5s}   worst |relative difference|")
    for n in names:
        if n not in ours:
            print(f"{n}: no run of that name in {a.ours}")
            return 1
        with open(os.path.join(ours[n], "metrics.jsonl")) as f:
            o = {r["step"]: r for r in map(json.loads, f)}
        with open(os.path.join(a.torch, n + ".steps.jsonl")) as f:
            t_all = list(map(json.loads, f))
        for label, t in ((f"1-{a.steps}", [r for r in t_all if r["step"] <= a.steps]), ("all", t_all)):
            tr, te, gn, lr, ne = worst(o, t)
            if label != "all":
                checked = max(checked, tr, te)
            extra = ""
            if label == "all":
                first = lambda tol: next((r["step"] for r in t if rel(r["train_loss"], o[r["step"]]["trainLoss"]) > tol), None)
                extra = f"   train loss first off by > 1e-4 at step {first(1e-4)}, > 1e-3 at {first(1e-3)}"
            print(f"{n:28s} {label:>5s} {tr:10.2e} {te:10.2e} {gn:10.2e} {lr:8.1e} {ne:5d}{extra}")
    ok = checked <= a.tol
    print(f"steps 1-{a.steps}: worst relative loss difference (train or test) {checked:.2e}: {'OK' if ok else 'FAIL'} (tolerance {a.tol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
