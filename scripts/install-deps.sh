#!/usr/bin/env bash
# Installs the system packages the build needs: a C/C++ toolchain for the embedded engines
# (llama.cpp and CTranslate2 are built from source by the llama-cpp-2 and ct2rs crates: cmake,
# clang, libclang for bindgen, g++) and espeak-ng, which the transcription tests use to make
# speech, Node.js with npm for the TON contracts and the devnet, and Chromium for the
# explorer's browser test. Does nothing when they are
# already there.
set -euo pipefail
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
# Node.js runs the TON contracts' compiler, their tests and the local chain (cocoon devnet).
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# Debian's Chromium: the explorer's page is tested in it, headless (crates/cocoon/tests/explorer.rs).
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing ${need[*]}..."
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
