"""Trains the model on the tokenized corpus for a fixed number of steps and measures it.

Each synset line becomes <s> tokens </s>; training lines are shuffled (seeded) and concatenated,
and every step takes random seq_len+1 windows. Held-out perplexity is exp(mean next-token loss)
over consecutive windows of val.txt, measured for the untrained initialisation (the
random-weight model of the same shape) and for the trained model. Writes, in WORK_DIR:
init.bin and model.bin (llama2.c checkpoints), model.pt (PyTorch weights) and train.json.

usage: train.py WORK_DIR   (reads WORK_DIR/train.txt, val.txt, tokenizer.model)
env:   STEPS (1800), BATCH (8), LR (2e-3), SEED (1337), THREADS (1: on a shared machine two
       threads were slower, and one thread gives the same weights on every run)
"""
import json
import math
import os
import random
import sys
import time

import numpy as np
import sentencepiece as spm
import torch

from model import Config, Transformer, export_llama2c


def tokenize(sp, path: str, shuffle_seed=None) -> torch.Tensor:
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(lines)
    ids = []
    for tokens in sp.encode(lines):
        ids.append(sp.bos_id())
        ids.extend(tokens)
        ids.append(sp.eos_id())
    return torch.from_numpy(np.array(ids, dtype=np.int64))


@torch.no_grad()
def perplexity(model: Transformer, data: torch.Tensor, batch: int = 16) -> float:
    model.eval()
    n = model.cfg.seq_len
    starts = list(range(0, len(data) - n - 1, n))
    total, count = 0.0, 0
    for i in range(0, len(starts), batch):
        x = torch.stack([data[s:s + n] for s in starts[i:i + batch]])
        y = torch.stack([data[s + 1:s + n + 1] for s in starts[i:i + batch]])
        _, loss = model(x, y)
        total += loss.item() * y.numel()
        count += y.numel()
    model.train()
    return math.exp(total / count)


def main() -> None:
    work = sys.argv[1]
    steps = int(os.environ.get("STEPS", 1800))
    batch = int(os.environ.get("BATCH", 8))
    peak_lr = float(os.environ.get("LR", 2e-3))
    seed = int(os.environ.get("SEED", 1337))
    torch.set_num_threads(int(os.environ.get("THREADS", 1)))
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)

    sp = spm.SentencePieceProcessor(model_file=os.path.join(work, "tokenizer.model"))
    cfg = Config(vocab_size=sp.get_piece_size())
    train_ids = tokenize(sp, os.path.join(work, "train.txt"), shuffle_seed=seed)
    val_ids = tokenize(sp, os.path.join(work, "val.txt"))
    print(f"train: {len(train_ids):,} tokens, val: {len(val_ids):,} tokens", flush=True)

    model = Transformer(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    export_llama2c(model, os.path.join(work, "init.bin"))
    init_ppl = perplexity(model, val_ids)
    print(f"model: {n_params:,} parameters, untrained val perplexity {init_ppl:.1f}", flush=True)

    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, betas=(0.9, 0.95), weight_decay=0.1)
    warmup = max(1, steps // 20)
    generator = torch.Generator().manual_seed(seed)
    n = cfg.seq_len
    started = time.time()
    for step in range(steps):
        # linear warmup, then cosine decay to a tenth of the peak
        lr = peak_lr * (step + 1) / warmup if step < warmup else \
            peak_lr * (0.1 + 0.45 * (1 + math.cos(math.pi * (step - warmup) / (steps - warmup))))
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(train_ids) - n - 1, (batch,), generator=generator)
        x = torch.stack([train_ids[s:s + n] for s in starts])
        y = torch.stack([train_ids[s + 1:s + n + 1] for s in starts])
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 100 == 0 or step == steps - 1:
            elapsed = time.time() - started
            rate = (step + 1) * batch * n / elapsed
            print(f"step {step:5d}  loss {loss.item():.3f}  lr {lr:.2e}  {rate:,.0f} tokens/s  {elapsed:.0f} s", flush=True)
    train_seconds = time.time() - started

    trained_ppl = perplexity(model, val_ids)
    print(f"trained val perplexity {trained_ppl:.2f} (untrained {init_ppl:.1f}) after {train_seconds:.0f} s", flush=True)
    export_llama2c(model, os.path.join(work, "model.bin"))
    torch.save(model.state_dict(), os.path.join(work, "model.pt"))
    with open(os.path.join(work, "train.json"), "w") as f:
        json.dump({
            "config": {"dim": cfg.dim, "hidden_dim": cfg.hidden_dim, "n_layers": cfg.n_layers,
                       "n_heads": cfg.n_heads, "vocab_size": cfg.vocab_size, "seq_len": cfg.seq_len},
            "parameters": n_params,
            "seed": seed, "steps": steps, "batch": batch, "peak_lr": peak_lr,
            "threads": torch.get_num_threads(),
            "train_tokens": len(train_ids), "val_tokens": len(val_ids),
            "tokens_seen": steps * batch * n,
            "train_seconds": round(train_seconds, 1),
            "tokens_per_second": round(steps * batch * n / train_seconds),
            "val_perplexity": {"untrained": round(init_ppl, 2), "trained": round(trained_ppl, 3)},
        }, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
