"""Runs the converted GGUF in a real llama-server and checks it against the PyTorch model.

- Conversion check: for held-out prompts ("lemmas (pos):" of val.txt lines), the server's greedy
  tokens with their logprobs are compared with PyTorch's distribution given the same history:
  how often PyTorch's top token is the server's, and the largest logprob difference.
- Generations: a few prompts, greedy and T=0.7 (seeded), as the model card shows them.

usage: evaluate.py WORK_DIR GGUF LLAMA_BIN_DIR OUT_JSON   (adds to WORK_DIR/train.json)
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import sentencepiece as spm
import torch

from model import Config, Transformer

CHECK_PROMPTS = 24
CHECK_TOKENS = 24
GENERATION_PROMPTS = ["water (noun):", "run (verb):", "happy (adjective):", "quickly (adverb):",
                      "computer (noun):", "king (noun):"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def start_server(bin_dir: str, gguf: str):
    port = free_port()
    server = subprocess.Popen(
        [os.path.join(bin_dir, "llama-server"), "-m", gguf, "--host", "127.0.0.1", "--port", str(port),
         "-np", "1", "-t", "1", "-c", "256"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return server, url
        except OSError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"llama-server exited with {server.returncode}")
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("llama-server did not become healthy")


def complete(url: str, prompt: str, max_tokens: int, temperature: float, seed: int = 0) -> dict:
    reply = post(url + "/v1/completions", {
        "prompt": prompt, "max_tokens": max_tokens, "temperature": temperature, "seed": seed,
        "logprobs": 1, "cache_prompt": False})
    return reply["choices"][0]


@torch.no_grad()
def conversion_check(model, sp, url: str, val_path: str) -> dict:
    with open(val_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    step = len(lines) // CHECK_PROMPTS
    prompts = [lines[i * step].split(":", 1)[0] + ":" for i in range(CHECK_PROMPTS)]
    steps = same_top = 0
    max_diff = 0.0
    for prompt in prompts:
        choice = complete(url, prompt, CHECK_TOKENS, 0.0)
        entries = choice["logprobs"]["content"]
        ids = [sp.bos_id()] + sp.encode(prompt) + [e["id"] for e in entries]
        logprobs = model(torch.tensor([ids]))[0][0].log_softmax(-1)
        first = len(ids) - len(entries) - 1  # position whose output predicts the first generated token
        for i, entry in enumerate(entries):
            row = logprobs[first + i]
            steps += 1
            same_top += int(row.argmax().item() == entry["id"])
            max_diff = max(max_diff, abs(row[entry["id"]].item() - entry["logprob"]))
    return {"prompts": len(prompts), "steps": steps, "same_top_token": same_top,
            "max_logprob_difference": round(max_diff, 6)}


def main() -> None:
    work, gguf, bin_dir, out_json = sys.argv[1:5]
    torch.set_num_threads(1)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(work, "tokenizer.model"))
    model = Transformer(Config(vocab_size=sp.get_piece_size()))
    model.load_state_dict(torch.load(os.path.join(work, "model.pt")))
    model.eval()
    with open(os.path.join(work, "train.json")) as f:
        report = json.load(f)

    server, url = start_server(bin_dir, gguf)
    try:
        report["llama_cpp_vs_pytorch"] = conversion_check(model, sp, url, os.path.join(work, "val.txt"))
        report["generations"] = [
            {"prompt": p,
             "greedy": complete(url, p, 48, 0.0)["text"],
             "t0.7_seed42": complete(url, p, 48, 0.7, seed=42)["text"]}
            for p in GENERATION_PROMPTS]
    finally:
        server.terminate()
        server.wait()
    with open(out_json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(json.dumps(report["llama_cpp_vs_pytorch"]))


if __name__ == "__main__":
    main()
