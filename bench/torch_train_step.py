#!/usr/bin/python3
# PyTorch's CPU training step of the same model `scaling-lab bench train` times, for the side-by-side speed
# comparison of issue 2: nanoGPT architecture (tied head, GELU tanh, pre-LN), AdamW, clipping, random tokens.
#
# Needs Debian's python3-torch (apt-get install python3-torch); run with the system python:
#   /usr/bin/python3 bench/torch_train_step.py --depth 4 --context 128 --vocab 4096 --batch 32 --threads 1,2 [--json]
# Debian's torch does its matmuls through the system libblas.so.3. With only the netlib reference BLAS
# (libblas3) that is ~10x slower than with OpenBLAS, which is no fair opponent: install libopenblas0-pthread,
# or, without changing the system, unpack its .deb and point the loader at it:
#   dpkg-deb -x libopenblas0-pthread_*.deb /tmp/openblas
#   LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread /usr/bin/python3 bench/torch_train_step.py
# The output names the BLAS library actually loaded.
import argparse
import json
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, NH, T):
        super().__init__()
        self.NH = NH
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T))

    def attn(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.NH, C // self.NH).transpose(1, 2)  # (B, NH, T, HS)
        k = k.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        v = v.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, NH, T, T)
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, L, C, NH, V, T):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList([Block(C, NH, T) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()  # tied output head
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def time_steps(args, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    L, C, NH = args.depth, 64 * args.depth, args.depth
    model = GPT(L, C, NH, args.vocab, args.context)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    idx = torch.randint(0, args.vocab, (args.batch, args.context))
    tgt = torch.randint(0, args.vocab, (args.batch, args.context))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(args.warmup):
        step()
    ms = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1000)
    step_ms = statistics.median(ms)
    params = sum(p.numel() for p in model.parameters())
    return {"threads": threads, "stepMs": step_ms, "stepMsAll": ms,
            "tokensPerSecond": args.batch * args.context / (step_ms / 1000), "params": params}


def loaded_blas():
    """Path of the BLAS shared library mapped into this process (after torch ran a matmul)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and line.split()[-1].startswith("/")}
        return sorted(libs)
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser(description="Time PyTorch CPU training steps of the scaling-lab GPT (nanoGPT architecture).")
    ap.add_argument("--depth", type=int, default=4, help="n_layer = depth, d_model = 64 * depth, heads = depth")
    ap.add_argument("--context", type=int, default=128, help="sequence length T")
    ap.add_argument("--vocab", type=int, default=4096, help="vocabulary size V")
    ap.add_argument("--batch", type=int, default=32, help="sequences per step B")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts to time")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    results = [time_steps(args, int(t)) for t in args.threads.split(",")]
    best = max(results, key=lambda r: r["tokensPerSecond"])
    out = {"bench": "torch-train", "torch": torch.__version__, "depth": args.depth, "context": args.context,
           "vocab": args.vocab, "batch": args.batch, "params": results[0]["params"], "results": results,
           "bestTokensPerSecond": best["tokensPerSecond"], "bestThreads": best["threads"],
           "blas": loaded_blas(), "load1": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"torch {torch.__version__}: depth {args.depth}, T {args.context}, V {args.vocab}, B {args.batch}; "
              f"{out['params']:,} params; load {out['load1']}")
        print(f"  BLAS: {', '.join(out['blas']) or 'unknown'}")
        for r in results:
            print(f"  {r['threads']} thread(s): step {r['stepMs']:.1f} ms, {r['tokensPerSecond']:,.0f} tokens/s")


if __name__ == "__main__":
    main()
