#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, black-box tests that spawn real cocoon
# processes on loopback, and the doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
