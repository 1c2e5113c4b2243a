#!/usr/bin/python3
"""Our trainer's runs from a file store to the scan CSV that bench/peer/torch_run.py writes (same columns,
eval rows only), so both trainers go through the same analysis (`scaling-lab bcrit FILE`).

    /usr/bin/python3 bench/peer/ours_to_csv.py STORE_DIR --sweep peer-scan-d1 --out /tmp/peer/ours-d1.csv

Only runs whose status is done are written (a run still training is reported and left out).
Columns: run (our run name, the same string torch_run.py uses), trainer, depth, seed, batch, batch_tokens,
step, tokens, loss (test loss), lr, train_loss, warmup_steps.
"""
import argparse
import csv
import json
import os
import sys

COLUMNS = ["run", "trainer", "depth", "seed", "batch", "batch_tokens", "step", "tokens", "loss", "lr", "train_loss", "warmup_steps"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--sweep", required=True, help="sweep name (the spec's name:)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    runs = []
    for d in sorted(os.listdir(a.store)):
        p = os.path.join(a.store, d, "spec.json")
        if not os.path.exists(p):
            continue
        with open(p) as f:
            spec = json.load(f)
        if spec.get("sweep") != a.sweep:
            continue
        with open(os.path.join(a.store, d, "status.json")) as f:
            status = json.load(f)["status"]
        if status != "done":
            print(f"{spec['name']}: {status}, left out", file=sys.stderr)
            continue
        runs.append((spec, os.path.join(a.store, d, "metrics.jsonl")))
    runs.sort(key=lambda r: (r[0]["spec"]["config"]["seed"], r[0]["spec"]["config"]["batch"]))
    n = 0
    with open(a.out + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for spec, metrics in runs:
            c = spec["spec"]["config"]
            with open(metrics) as g:
                rows = [json.loads(line) for line in g]
            for r in rows:
                if "testLoss" not in r:
                    continue
                w.writerow({"run": spec["name"], "trainer": "ours", "depth": c.get("depth", ""), "seed": c["seed"], "batch": c["batch"],
                            "batch_tokens": c["batch"] * c["context"], "step": r["step"], "tokens": r["tokens"], "loss": repr(r["testLoss"]),
                            "lr": repr(r["lr"]), "train_loss": repr(r["trainLoss"]), "warmup_steps": c["warmupSteps"]})
                n += 1
    os.replace(a.out + ".tmp", a.out)
    print(f"wrote {a.out}: {len(runs)} runs, {n} eval rows", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
