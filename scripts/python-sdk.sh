#!/usr/bin/env bash
# Installs the official `openai` Python SDK (Apache-2.0), pinned, into target/python-sdk: the
# client the compatibility test (crates/cocoon/tests/sdk.rs) drives `cocoon up` with, unchanged;
# and the Prometheus project's Python client (Apache-2.0), pinned, whose text-format parser the
# metrics test (crates/cocoon/tests/metrics.rs) reads every role's /metrics with.
# Nothing outside target/ is touched. Does nothing when it is there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="3.63.0"
PROMETHEUS="0.26.0"
DIR="target/python-sdk"
if [ -f "$DIR/.openai-$VERSION-prometheus-$PROMETHEUS" ]; then
  exit 0
fi
PIP="pip"
command -v pip >/dev/null 2>&1 || PIP="python3 -m pip"
echo "installing the openai Python SDK $VERSION and prometheus_client $PROMETHEUS into $DIR..."
rm -rf "$DIR"
$PIP install --quiet --disable-pip-version-check --target "$DIR" "openai==$VERSION" "prometheus_client==$PROMETHEUS"
touch "$DIR/.openai-$VERSION-prometheus-$PROMETHEUS"
