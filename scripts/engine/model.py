"""A llama2.c-shaped transformer (RMSNorm, rotary attention, SwiGLU, tied embeddings) and its
export to llama2.c's legacy checkpoint format, the one llama-convert-llama2c-to-ggml reads.

The checkpoint: seven little-endian i32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
vocab_size, seq_len; vocab_size positive = output tied to the embedding), then f32 tensors in
this order, each layer's stacked: embedding, attention norms, wq, wk, wv, wo, ffn norms, w1, w2,
w3, final norm, then the rotary tables (cos, sin: seq_len x head_dim/2), which the converter skips.
Rotary pairs are adjacent dimensions (2i, 2i+1), as in llama.cpp's "llama" architecture, so
no weight permutation is needed.
"""
import math
import struct
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Config:
    dim: int = 128
    n_layers: int = 4
    n_heads: int = 4
    vocab_size: int = 1024
    seq_len: int = 256
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    @property
    def hidden_dim(self) -> int:
        # llama's rule: 2/3 of 4*dim, rounded up to a multiple of 32 (128 -> 352)
        return 32 * math.ceil(int(2 * 4 * self.dim / 3) / 32)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary_tables(cfg: Config):
    head_dim = cfg.dim // cfg.n_heads
    freqs = cfg.rope_theta ** (-torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(cfg.seq_len).float(), freqs)  # (seq_len, head_dim/2)
    return angles.cos(), angles.sin()


def rotate(x, cos, sin):
    # x: (batch, heads, time, head_dim); rotates each adjacent pair (2i, 2i+1)
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.wq = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.wo = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.w1 = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.w2 = nn.Linear(cfg.hidden_dim, cfg.dim, bias=False)
        self.w3 = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, d = x.shape
        h = self.attention_norm(x)
        q, k, v = (w(h).view(b, t, self.n_heads, -1).transpose(1, 2) for w in (self.wq, self.wk, self.wv))
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1]) + mask
        attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.wo(attended)
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Transformer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.output.weight = self.tok_embeddings.weight  # tied, as llama2.c's small models
        cos, sin = rotary_tables(cfg)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((cfg.seq_len, cfg.seq_len), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)
        # llama2.c's initialisation: N(0, 0.02), residual projections scaled by depth
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg.n_layers) if name.endswith(("wo.weight", "w3.weight")) else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, tokens, targets=None):
        t = tokens.shape[1]
        x = self.tok_embeddings(tokens)
        cos, sin, mask = self.cos[:t], self.sin[:t], self.mask[:t, :t]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = self.output(self.norm(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def export_llama2c(model: Transformer, path: str) -> None:
    cfg = model.cfg
    layers = model.layers

    def write(f, tensor):
        f.write(tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())

    with open(path, "wb") as f:
        f.write(struct.pack("<7i", cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_heads,
                            cfg.vocab_size, cfg.seq_len))
        write(f, model.tok_embeddings.weight)
        for name in ("attention_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3"):
            for layer in layers:
                write(f, getattr(layer, name).weight)
        write(f, model.norm.weight)
        write(f, model.cos)
        write(f, model.sin)
