#!/usr/bin/python3
"""PyTorch peer of scaling-lab's trainer (issue 11): trains the runs that bench/peer/export.ts exported with
the same architecture, initialisation, data order, optimiser, LR schedule, clipping, gradient accumulation
and eval windows as src/train/run.ts, and writes metric rows in the format `scaling-lab bcrit FILE` reads.

    npx tsx bench/peer/export.ts bench/peer/scan-d1.yaml --out /tmp/peer/export-d1
    OPENBLAS_NUM_THREADS=1 nice -n 10 /usr/bin/python3 bench/peer/torch_run.py /tmp/peer/export-d1 \\
        --out /tmp/peer/torch-d1 --threads 1

Needs Debian's python3-torch (1.13) and numpy; with libopenblas0-pthread for speed (see bench/torch_train_step.py).

What is the same as ours (and how):
- model: GPT-2 as nanoGPT/llm.c (src/engine/gpt.ts): learned position embeddings, pre-LN blocks, causal MHA with
  biases, 4x GELU(tanh) MLP with biases, final LN (eps 1e-5), head tied to wte, mean cross-entropy. Parameters
  are kept as our slab's tensors (per-layer stacked, nn.Linear layout) and start from our exported init.
- data: the exported window offsets of every (step, micro-batch) (src/data/sampler.ts); eval on the exported
  evaluation windows, chunked by the micro-batch as evalBatches does, at the exported eval steps.
- step: for each micro-batch, backward of loss / nMicro (accumulating the mean gradient); global-norm clipping
  with torch.nn.utils.clip_grad_norm_ (ours: clip / (norm + 1e-6) when below 1, as torch); torch.optim.AdamW with
  weight decay on the first six (matrix) tensors only (src/engine/adamw.ts, config.ts); LR from our schedule
  (src/train/schedule.ts), recomputed here and checked against the exported per-step LR.
- train loss: the mean of the micro-batch mean losses.

Outputs in --out: <name>.steps.jsonl (every step: step, tokens, train_loss, lr, grad_norm, and loss at eval
steps) and scan.csv (eval rows of every run, the bcrit import columns: run, trainer, depth, seed, batch,
batch_tokens, step, tokens, loss, lr, train_loss, warmup_steps). A run already complete in --out is skipped.
"""
import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def learning_rate(cfg, step, total_steps):
    """src/train/schedule.ts learningRate, step 1-based."""
    lr, warm = cfg["lr"], cfg["warmupSteps"]
    if step <= warm:
        return lr * step / warm
    floor = lr * cfg["minLrRatio"]
    kind = cfg["schedule"]
    if kind == "constant":
        return lr
    if kind == "cosine":
        span = max(1, total_steps - warm)
        progress = min(1.0, (step - warm) / span)
        return floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * progress))
    if kind == "wsd":
        decay_steps = max(1, round(total_steps * cfg["decayFraction"]))
        decay_start = total_steps - decay_steps
        if step <= decay_start:
            return lr
        progress = min(1.0, (step - decay_start) / decay_steps)
        return lr + (floor - lr) * progress
    raise ValueError(f"unknown schedule {kind}")


class Peer:
    def __init__(self, info, params0):
        m = info["model"]
        self.L, self.C, self.NH, self.V = m["nLayer"], m["dModel"], m["nHead"], m["vocab"]
        self.p = {}
        for t in info["table"]:
            v = params0[t["offset"]:t["offset"] + t["size"]].reshape(t["shape"])
            self.p[t["name"]] = torch.nn.Parameter(torch.from_numpy(v.copy()))
        self.names = [t["name"] for t in info["table"]]
        self.decay = [t["name"] for t in info["table"] if t["decay"]]
        self.no_decay = [t["name"] for t in info["table"] if not t["decay"]]
        T = m["context"]
        self.mask = torch.tril(torch.ones(T, T, dtype=torch.bool))

    def parameters(self):
        return [self.p[n] for n in self.names]

    def loss(self, idx, targets):
        p, L, C, NH = self.p, self.L, self.C, self.NH
        B, T = idx.shape
        HS = C // NH
        x = p["wte"][idx] + p["wpe"][:T]
        mask = self.mask[:T, :T]
        for l in range(L):
            h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
            qkv = F.linear(h, p["qkvw"][l], p["qkvb"][l])
            q, k, v = qkv.split(C, dim=2)
            q, k, v = (z.view(B, T, NH, HS).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))
            att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            x = x + F.linear(y, p["attprojw"][l], p["attprojb"][l])
            h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
            h = F.gelu(F.linear(h, p["fcw"][l], p["fcb"][l]), approximate="tanh")
            x = x + F.linear(h, p["fcprojw"][l], p["fcprojb"][l])
        x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
        logits = F.linear(x, p["wte"])  # tied head
        return F.cross_entropy(logits.view(-1, self.V), targets.reshape(-1))


def windows(tokens, offsets, T):
    """(B, T) inputs and targets from window starts (tokens[off .. off+T], next-token targets)."""
    idx = torch.as_tensor(offsets, dtype=torch.int64).unsqueeze(1) + torch.arange(T + 1)
    w = tokens[idx]
    return w[:, :-1], w[:, 1:]


def run_one(export_dir, name, out_dir, data_cache, log_every_s=30.0):
    rdir = os.path.join(export_dir, "runs", name)
    with open(os.path.join(rdir, "run.json")) as f:
        info = json.load(f)
    cfg = info["config"]
    T, micro, n_micro, steps = cfg["context"], info["micro"], info["nMicro"], info["steps"]
    total = info["totalSteps"]
    ddir = os.path.join(export_dir, info["dataDir"])
    if ddir not in data_cache:
        data_cache[ddir] = {k: torch.from_numpy(np.fromfile(os.path.join(ddir, f"{k}.u16"), dtype="<u2").astype(np.int64))
                            for k in ("train", "test")}
    train, test = data_cache[ddir]["train"], data_cache[ddir]["test"]
    params0 = np.fromfile(os.path.join(rdir, "params.f32"), dtype="<f4")
    assert params0.size == info["nParams"], f"{name}: params.f32 has {params0.size} values, run.json says {info['nParams']}"
    offsets = np.fromfile(os.path.join(rdir, "offsets.i32"), dtype="<i4").reshape(steps, n_micro, micro)
    lr_ts = np.fromfile(os.path.join(rdir, "lr.f64"), dtype="<f8")
    lrs = [learning_rate(cfg, s, total) for s in range(1, steps + 1)]
    worst = max(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(lrs, lr_ts))
    assert worst < 1e-12, f"{name}: LR schedule differs from the exported one (worst rel {worst:.3g})"

    model = Peer(info, params0)
    opt = torch.optim.AdamW(
        [{"params": [model.p[n] for n in model.decay], "weight_decay": cfg["weightDecay"]},
         {"params": [model.p[n] for n in model.no_decay], "weight_decay": 0.0}],
        lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"])
    # eval windows in chunks of the micro-batch, as src/data/sampler.ts evalBatches + run.ts evaluate
    ev = info["evalOffsets"]
    eval_chunks = [windows(test, ev[i:i + micro], T) for i in range(0, len(ev), micro)]

    def evaluate():
        with torch.no_grad():
            s = 0.0
            for x, y in eval_chunks:
                s += model.loss(x, y).item() * x.shape[0]
            return s / len(ev)

    eval_steps = set(info["evalSteps"])
    clip = cfg["gradClip"]
    params = model.parameters()
    rows = []
    t0 = time.perf_counter()
    last_print = t0
    for step in range(1, steps + 1):
        lr = lrs[step - 1]
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for k in range(n_micro):
            x, y = windows(train, offsets[step - 1, k], T)
            loss = model.loss(x, y)
            (loss / n_micro).backward()
            loss_sum += loss.item()
        if clip > 0 and math.isfinite(clip):
            norm = torch.nn.utils.clip_grad_norm_(params, clip).item()
        else:
            norm = math.sqrt(sum(float((q.grad.double() ** 2).sum()) for q in params))
        opt.step()
        row = {"step": step, "tokens": step * cfg["batch"] * T, "train_loss": loss_sum / n_micro, "lr": lr, "grad_norm": norm}
        if step in eval_steps:
            row["loss"] = evaluate()
        row["wall_s"] = time.perf_counter() - t0
        rows.append(row)
        if not math.isfinite(row["train_loss"]):
            print(f"{name}: train loss {row['train_loss']} at step {step}; stopping (diverged)", flush=True)
            break
        if time.perf_counter() - last_print > log_every_s:
            last_print = time.perf_counter()
            print(f"  {name}: step {step}/{steps} train {row['train_loss']:.4f} ({row['wall_s']:.0f} s)", flush=True)
    wall = time.perf_counter() - t0
    tmp = os.path.join(out_dir, f"{name}.steps.jsonl.tmp")
    with open(tmp, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, os.path.join(out_dir, f"{name}.steps.jsonl"))
    last_eval = [r for r in rows if "loss" in r][-1]
    print(f"{name}: {steps} steps in {wall:.1f} s ({steps * cfg['batch'] * T / wall:,.0f} tokens/s); "
          f"train {rows[-1]['train_loss']:.4f}, test {last_eval['loss']:.4f} at step {last_eval['step']}", flush=True)
    return info, rows, wall


CSV_COLUMNS = ["run", "trainer", "depth", "seed", "batch", "batch_tokens", "step", "tokens", "loss", "lr", "train_loss", "warmup_steps"]


def csv_rows(info, rows, trainer):
    cfg = info["config"]
    for r in rows:
        if "loss" not in r:
            continue
        yield {"run": info["name"], "trainer": trainer, "depth": cfg.get("depth", ""), "seed": cfg["seed"], "batch": cfg["batch"],
               "batch_tokens": cfg["batch"] * cfg["context"], "step": r["step"], "tokens": r["tokens"],
               "loss": repr(r["loss"]), "lr": repr(r["lr"]), "train_loss": repr(r["train_loss"]), "warmup_steps": cfg["warmupSteps"]}


def main():
    ap = argparse.ArgumentParser(description="Train exported scaling-lab runs in PyTorch (the peer trainer).")
    ap.add_argument("export", help="directory written by bench/peer/export.ts")
    ap.add_argument("--out", required=True, help="output directory (per-step JSONL per run, scan.csv of eval rows)")
    ap.add_argument("--only", default="", help="comma-separated run names, trained in this order (default: every exported run, by seed then batch)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (set OPENBLAS_NUM_THREADS too)")
    ap.add_argument("--csv-only", action="store_true", help="train nothing; write scan.csv from the runs finished in --out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    names = sorted(os.listdir(os.path.join(args.export, "runs")))
    if args.only:
        keep = set(args.only.split(","))
        names = [n for n in names if n in keep]
    def key(n):
        with open(os.path.join(args.export, "runs", n, "run.json")) as f:
            c = json.load(f)["config"]
        return (c["seed"], c["batch"])
    if args.only:
        order = args.only.split(",")  # the order given
        names.sort(key=order.index)
    else:
        names.sort(key=key)
    print(f"torch {torch.__version__}, {args.threads} thread(s), OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"{len(names)} runs from {args.export}", flush=True)
    cache = {}
    walls = {}
    for n in names:
        done = os.path.join(args.out, f"{n}.steps.jsonl")
        if os.path.exists(done) or args.csv_only:
            if not args.csv_only:
                print(f"{n}: already done, skipped", flush=True)
            continue
        _, _, wall = run_one(args.export, n, args.out, cache)
        walls[n] = wall
    # scan.csv from every finished run in --out (so a resumed invocation writes the whole scan)
    with open(os.path.join(args.out, "scan.csv.tmp"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for n in names:
            p = os.path.join(args.out, f"{n}.steps.jsonl")
            if not os.path.exists(p):
                continue
            with open(os.path.join(args.export, "runs", n, "run.json")) as g:
                info = json.load(g)
            with open(p) as g:
                rows = [json.loads(line) for line in g]
            w.writerows(csv_rows(info, rows, "torch"))
    os.replace(os.path.join(args.out, "scan.csv.tmp"), os.path.join(args.out, "scan.csv"))
    if walls:
        with open(os.path.join(args.out, "walls.json"), "a") as f:
            f.write(json.dumps({"threads": args.threads, "walls_s": walls}) + "\n")
    print(f"wrote {os.path.join(args.out, 'scan.csv')}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
