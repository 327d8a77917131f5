#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, black-box tests that spawn real cocoon
# processes on loopback (with the real models), and the doc tests. First makes sure the system
# packages and the models are there (both steps do nothing when they are).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/fetch-models.sh
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
