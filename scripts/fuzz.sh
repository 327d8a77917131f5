#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets, one per decoder of untrusted bytes) for N
# minutes each (default 10), on its committed corpus (fuzz/corpus/<target>, which grows with
# what the fuzzer finds). A crash stops the script and leaves its input in
# fuzz/artifacts/<target>/. Usage: scripts/fuzz.sh [minutes] [target...]
# cargo-fuzz needs nightly-only compiler flags (the sanitizer and coverage instrumentation);
# this uses the machine's stable toolchain with RUSTC_BOOTSTRAP=1 instead of another one.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz 0.13.2..."
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
fi
for t in "${targets[@]}"; do
  echo "=== $t: ${minutes} min"
  mkdir -p "fuzz/corpus/$t"
  # Inputs up to 64 KiB (certificates, quotes and configs are a few KiB); 2 GiB of memory.
  cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
    -max_total_time=$((minutes * 60)) -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1
done
echo "all ${#targets[@]} targets ran ${minutes} min each without a crash"
