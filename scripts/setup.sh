#!/usr/bin/env bash
# Prepares a fresh machine to run the cocoon network: checks the Rust toolchain and builds
# the release binary. (Later issues add model downloads here.)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from https://rustup.rs first" >&2
  exit 1
fi
echo "building cocoon (release; a first build takes a few minutes)..."
cargo build --release -p cocoon
echo "ready: target/release/cocoon"
