#!/usr/bin/env bash
# Builds llama.cpp's llama-server and llama-convert-llama2c-to-ggml from the source that
# node-llama-cpp ships (llama/gitRelease.bundle), so the tools match the in-process engine's
# llama.cpp commit exactly. The build is cached per commit: a second run prints the directory
# and returns at once.
#
#   bash scripts/engine/build-llama.sh        # prints the directory holding the two binaries
#
# Environment:
#   CONCORD_CACHE   cache root (default: $HOME/.cache/concord); the build lives in
#                   $CONCORD_CACHE/llama.cpp-<commit>, binaries in its build/bin
#   JOBS            parallel compile jobs (default: number of cores)
# Needs git, cmake and a C++ compiler. Build messages go to stderr; stdout is only the directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

bundle=node_modules/node-llama-cpp/llama/gitRelease.bundle
[[ -f $bundle ]] || { echo "build-llama: $bundle not found (run npm ci first)" >&2; exit 1; }
commit=$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1; exit }')
[[ -n $commit ]] || { echo "build-llama: no HEAD in $bundle" >&2; exit 1; }

cache=${CONCORD_CACHE:-$HOME/.cache/concord}
src=$cache/llama.cpp-$commit
bin=$src/build/bin
targets=(llama-server llama-convert-llama2c-to-ggml)

built() { local t; for t in "${targets[@]}"; do [[ -x $bin/$t ]] || return 1; done; }
if built; then echo "$bin"; exit 0; fi

mkdir -p "$cache"
if [[ ! -d $src/.git ]]; then
  rm -rf "$src"
  echo "build-llama: cloning llama.cpp $commit into $src" >&2
  git -c advice.detachedHead=false clone --quiet "$PWD/$bundle" "$src" >&2
  git -C "$src" -c advice.detachedHead=false checkout --quiet "$commit" >&2
fi

echo "build-llama: building ${targets[*]} (takes minutes on a few cores)" >&2
start=$SECONDS
cmake -S "$src" -B "$src/build" \
  -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_SERVER=ON >&2
cmake --build "$src/build" --config Release -j "${JOBS:-$(nproc)}" --target "${targets[@]}" >&2
built || { echo "build-llama: build finished but binaries are missing in $bin" >&2; exit 1; }
echo "build-llama: built in $((SECONDS - start)) s" >&2
echo "$bin"
