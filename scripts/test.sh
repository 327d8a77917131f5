#!/usr/bin/env bash
# Runs every test: the licence check of every crate and npm package (scripts/check-licenses.sh,
# fails on copyleft), the TON contracts' sandbox tests (contracts/, `npm test`), then the
# workspace's unit tests, black-box tests that spawn real cocoon processes on loopback (with the
# real models), and the doc tests. First makes sure the system packages, the models and the
# contracts' Node packages are there (each step does nothing when they are).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/fetch-models.sh
./scripts/npm-deps.sh
# The official openai Python SDK, for the compatibility test (into target/python-sdk).
./scripts/python-sdk.sh
# Every dependency (crates and the contracts' npm packages) under a permissive licence.
./scripts/check-licenses.sh
# The TON contracts: committed build files match the sources, then every sandbox test.
(cd contracts && npm test)
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
