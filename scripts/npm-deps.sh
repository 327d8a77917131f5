#!/usr/bin/env bash
# Installs the Node packages of the contracts (contracts/package-lock.json: the Tolk compiler,
# TON's emulator @ton/sandbox, the devnet server) and of the explorer's browser test
# (crates/cocoon/tests/browser/package-lock.json: playwright-core), exact versions, with
# `npm ci`, unless node_modules already holds exactly that lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node and npm are needed for the TON contracts and the devnet (Node.js 20 or later)" >&2
  exit 1
fi
for dir in contracts crates/cocoon/tests/browser; do
  stamp="$dir/node_modules/.cocoon-lock.sha256"
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    continue
  fi
  echo "installing the Node packages of $dir (npm ci)..."
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
done
