#!/usr/bin/env bash
# Installs the contracts' Node packages (contracts/package-lock.json, exact versions) with
# `npm ci`, unless node_modules already holds exactly that lockfile. The Tolk compiler, TON's
# emulator (@ton/sandbox) and the devnet server run from there.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node and npm are needed for the TON contracts and the devnet (Node.js 20 or later)" >&2
  exit 1
fi
stamp=node_modules/.cocoon-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "installing the contracts' Node packages (npm ci)..."
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
