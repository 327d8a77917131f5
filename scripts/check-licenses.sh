#!/usr/bin/env bash
# Fails when any dependency is not under a permissive licence (GPL, LGPL, AGPL, SSPL... fail,
# with name, version and licence printed): every crate of the workspace's resolved graph (all
# platforms, all features, build and dev dependencies, from `cargo metadata --locked`) and every
# npm package of contracts/package-lock.json. Rules, allowlist and the reviewed exceptions are in
# scripts/check_licenses.py. Needs only cargo and python3; cargo may download the sources of
# crates for other platforms (metadata reads every locked crate's manifest), nothing is built.
set -euo pipefail
cd "$(dirname "$0")/.."
metadata="$(mktemp)"
trap 'rm -f "$metadata"' EXIT
cargo metadata --format-version 1 --locked --all-features >"$metadata"
python3 scripts/check_licenses.py <"$metadata"
