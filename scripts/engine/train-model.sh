#!/usr/bin/env bash
# Trains Concord's own small model from scratch and ships it as models/concord-wordnet-1m.gguf.
#
#   bash scripts/engine/train-model.sh      (or: npm run model:train)
#
# 1. Debian packages: python3-torch, python3-sentencepiece, wordnet-base, libopenblas0-pthread
#    (installed with apt-get when missing; that needs root).
# 2. llama.cpp's tools from node-llama-cpp's bundled source (build-llama.sh, cached).
# 3. corpus.py: WordNet 3.0 glosses and examples, one synset a line; every 50th held out.
# 4. tokenizer.py: SentencePiece BPE, 1024 pieces, also written as llama2.c's tokenizer.bin.
# 5. train.py: a llama2.c-shaped model (dim 128, 4 layers, 4 heads, seq len 256, 0.94M
#    parameters), seeded, a fixed number of steps on one thread (~10 minutes here); held-out
#    perplexity of the untrained initialisation and of the trained model.
# 6. llama-convert-llama2c-to-ggml -> GGUF (context length set to the trained 256), its sha256.
# 7. evaluate.py: the GGUF in a real llama-server against PyTorch, and sample generations.
# Writes models/: the GGUF, its .sha256, tokenizer.model/.bin, concord-wordnet-1m.json (all the
# measurements) and WORDNET-LICENSE. Intermediate files go to $CONCORD_CACHE/train-wordnet-1m.
# Environment: CONCORD_CACHE, and STEPS, BATCH, LR, SEED, THREADS for train.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/engine
name=concord-wordnet-1m
out=models
py=/usr/bin/python3  # Debian's python, where python3-torch lives (not a pyenv or venv python)

packages=(python3-torch python3-sentencepiece wordnet-base libopenblas0-pthread)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "train-model: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

bin=$(bash "$here/build-llama.sh")
work=${CONCORD_CACHE:-$HOME/.cache/concord}/train-wordnet-1m
mkdir -p "$work" "$out"

start=$SECONDS
"$py" "$here/corpus.py" "$work"
"$py" "$here/tokenizer.py" "$work/train.txt" "$work/tokenizer"
PYTHONPATH=$here nice "$py" "$here/train.py" "$work"

"$bin/llama-convert-llama2c-to-ggml" --copy-vocab-from-model "$work/tokenizer.bin" \
  --llama2c-model "$work/model.bin" --llama2c-output-model "$work/$name.gguf" >"$work/convert.log" 2>&1 \
  || { cat "$work/convert.log" >&2; exit 1; }
# The converter records a 128-token context; the model was trained on 256.
PYTHONPATH="$(dirname "$bin")/../gguf-py" "$py" "$(dirname "$bin")/../gguf-py/gguf/scripts/gguf_set_metadata.py" \
  --force "$work/$name.gguf" llama.context_length 256 >/dev/null

cp "$work/$name.gguf" "$out/$name.gguf"
cp "$work/tokenizer.model" "$work/tokenizer.bin" "$out/"
{
  echo "$name.gguf and the tokenizer files beside it were trained on WordNet 3.0 glosses and"
  echo "examples (Debian package wordnet-base), which come with this licence:"
  echo
  sed -n '/^License: WordNet3.0/,/^$/p' /usr/share/doc/wordnet-base/copyright | sed '1d; s/^ \.\?//'
} >"$out/WORDNET-LICENSE"
(cd "$out" && sha256sum "$name.gguf" >"$name.gguf.sha256")
PYTHONPATH=$here "$py" "$here/evaluate.py" "$work" "$out/$name.gguf" "$bin" "$out/$name.json"
echo "train-model: done in $((SECONDS - start)) s" >&2
cat "$out/$name.gguf.sha256"
