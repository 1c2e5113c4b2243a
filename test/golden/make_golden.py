#!/usr/bin/env python3
"""PyTorch reference for scaling-lab's GPT engine: writes test/golden/gpt2-tiny.bin, which
test/engine/golden.test.ts compares the TypeScript model against (after llm.c's train_gpt2.py -> test_gpt2.c).

Install and run (Debian/Ubuntu; PyTorch is not an npm dependency):
    sudo apt-get install python3-torch        # made with torch 1.13 (Debian's python3-torch)
    python3 test/golden/make_golden.py        # from the repository root; rewrites test/golden/gpt2-tiny.bin

The model is nanoGPT's GPT-2 (pre-LN blocks, causal MHA with biases, 4x GELU(tanh) MLP with biases, final
LN, output head tied to wte, cross-entropy), written functionally over parameters stored exactly as the
TypeScript slab stores them. The weights come from torch's own generator (seed 1337); the TypeScript test
LOADS them from the file, so the two RNGs need not match. LayerNorm gains and all biases are random too,
so a swapped or missing bias/gain gradient cannot hide behind zeros and ones.

File layout (little-endian; bump VERSION when it changes, and the TS reader with it):
    int32[64]   header: [0] MAGIC, [1] VERSION, [2] n_layer L, [3] d_model C, [4] n_head NH, [5] vocab V,
                [6] context maxT, [7] B, [8] T, [9] steps S, [10] number of parameters P; the rest 0
    float32[16] hyperparameters: [0] lr, [1] beta1, [2] beta2, [3] eps, [4] weight decay, [5] clip; rest 0
    float32[P]  parameters, in slab order (below)
    int32[B*T]  inputs
    int32[B*T]  targets
    float32[B*T*V] logits of the forward pass at the initial parameters
    float32[1]  mean cross-entropy loss at the initial parameters
    float32[P]  d loss / d parameters at the initial parameters, slab order
    float32[S]  loss before each of S AdamW steps on the same batch (so [0] is the loss above)
    float32[S]  global gradient norm before clipping at each step

Slab order (src/engine/config.ts, PARAM_NAMES): the weight-decay group first, then the no-decay group:
    wte (V,C), wpe (maxT,C), qkvw (L,3C,C), attprojw (L,C,C), fcw (L,4C,C), fcprojw (L,C,4C),
    ln1w (L,C), ln1b (L,C), qkvb (L,3C), attprojb (L,C), ln2w (L,C), ln2b (L,C), fcb (L,4C), fcprojb (L,C),
    lnfw (C), lnfb (C)
Linear weights are (out_features, in_features) as nn.Linear. Weight decay goes to the first six (nanoGPT's
rule: every parameter with dim >= 2 per layer, embeddings included), 0 to the rest.
"""
import math
import os
import struct

import torch
import torch.nn.functional as F

MAGIC = 20260417
VERSION = 1

L, C, NH, V, MAXT = 2, 64, 2, 64, 32
B, T = 4, 16
STEPS = 10
LR, BETA1, BETA2, EPS, WD, CLIP = 3e-3, 0.9, 0.95, 1e-8, 0.1, 1.0

SHAPES = [
    ("wte", (V, C)), ("wpe", (MAXT, C)), ("qkvw", (L, 3 * C, C)), ("attprojw", (L, C, C)),
    ("fcw", (L, 4 * C, C)), ("fcprojw", (L, C, 4 * C)),
    ("ln1w", (L, C)), ("ln1b", (L, C)), ("qkvb", (L, 3 * C)), ("attprojb", (L, C)),
    ("ln2w", (L, C)), ("ln2b", (L, C)), ("fcb", (L, 4 * C)), ("fcprojb", (L, C)),
    ("lnfw", (C,)), ("lnfb", (C,)),
]
DECAY = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


def init_params(gen):
    """GPT-2 / nanoGPT init (std 0.02; residual projections 0.02/sqrt(2L)), then random gains and biases."""
    p = {}
    for name, shape in SHAPES:
        if name in ("attprojw", "fcprojw"):
            t = torch.randn(shape, generator=gen) * (0.02 / math.sqrt(2 * L))
        elif name in DECAY:
            t = torch.randn(shape, generator=gen) * 0.02
        elif name.endswith("w"):  # LayerNorm gains
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        else:  # biases
            t = 0.02 * torch.randn(shape, generator=gen)
        p[name] = torch.nn.Parameter(t.float())
    return p


def forward(p, idx, targets):
    Bx, Tx = idx.shape
    HS = C // NH
    x = p["wte"][idx] + p["wpe"][:Tx]
    mask = torch.tril(torch.ones(Tx, Tx, dtype=torch.bool))
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = F.linear(h, p["qkvw"][l], p["qkvb"][l])
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (z.view(Bx, Tx, NH, HS).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(Bx, Tx, C)
        x = x + F.linear(y, p["attprojw"][l], p["attprojb"][l])
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(F.linear(h, p["fcw"][l], p["fcb"][l]), approximate="tanh")
        x = x + F.linear(h, p["fcprojw"][l], p["fcprojb"][l])
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    logits = F.linear(x, p["wte"])  # tied head
    loss = F.cross_entropy(logits.view(-1, V), targets.view(-1))
    return logits, loss


def f32(t):
    return t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()


def i32(t):
    return t.contiguous().to(torch.int32).numpy().astype("<i4").tobytes()


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1337)
    p = init_params(gen)
    idx = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    names = [n for n, _ in SHAPES]
    nparams = sum(p[n].numel() for n in names)
    params0 = b"".join(f32(p[n]) for n in names)

    logits, loss = forward(p, idx, targets)
    loss.backward()
    grads = b"".join(f32(p[n].grad) for n in names)
    for n in names:
        p[n].grad = None

    opt = torch.optim.AdamW(
        [{"params": [p[n] for n in names if n in DECAY], "weight_decay": WD},
         {"params": [p[n] for n in names if n not in DECAY], "weight_decay": 0.0}],
        lr=LR, betas=(BETA1, BETA2), eps=EPS)
    losses, norms = [], []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        _, l = forward(p, idx, targets)
        l.backward()
        norm = torch.nn.utils.clip_grad_norm_([p[n] for n in names], CLIP)
        losses.append(l.item())
        norms.append(norm.item())
        opt.step()

    header = [MAGIC, VERSION, L, C, NH, V, MAXT, B, T, STEPS, nparams] + [0] * 53
    hyper = [LR, BETA1, BETA2, EPS, WD, CLIP] + [0.0] * 10
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt2-tiny.bin")
    with open(out, "wb") as f:
        f.write(struct.pack("<64i", *header))
        f.write(struct.pack("<16f", *hyper))
        f.write(params0)
        f.write(i32(idx))
        f.write(i32(targets))
        f.write(f32(logits))
        f.write(struct.pack("<f", loss.item()))
        f.write(grads)
        f.write(struct.pack(f"<{STEPS}f", *losses))
        f.write(struct.pack(f"<{STEPS}f", *norms))
    print(f"wrote {out}: torch {torch.__version__}, {nparams} params, loss {loss.item():.6f}, "
          f"step losses {losses[0]:.4f} -> {losses[-1]:.4f}, grad norms {norms[0]:.3f} -> {norms[-1]:.3f}")


if __name__ == "__main__":
    main()
