#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root), builds tapegrad, and runs every test through
# CTest.
#   scripts/test.sh              Release build in build/, all tests
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)
#                                build in build-sanitize/, all tests but the consumer builds
#   scripts/test.sh --portable   generic x86-64 build (no -march=native) in build-portable/, all
#                                tests but the consumer builds: the kernels' paths for machines
#                                without AVX-512 (their #else branches) run whatever CI runs on
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/packages.sh
source "$root/scripts/lib/packages.sh"

mode=release
for arg in "$@"; do
  case "$arg" in
    --sanitize) mode=sanitize ;;
    --portable) mode=portable ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "usage: scripts/test.sh [--sanitize | --portable]" >&2; exit 2 ;;
  esac
done

install_missing_packages "${TG_BUILD_PACKAGES[@]}"
# The MNIST example's smoke test trains on the real digits.
"$root/scripts/fetch_data.sh"

jobs=$(nproc)
skip=()
if [ "$mode" = sanitize ]; then
  build="$root/build-sanitize"
  # Warnings are not errors here: GCC 12 reports false -Wmaybe-uninitialized inside libstdc++
  # when sanitizers instrument it (the Release build keeps -Werror).
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTG_SANITIZE=ON \
    -DTG_WARNINGS_AS_ERRORS=OFF
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # The consumer tests build a separate project against the library (packaging, not memory
  # safety): the Release run covers them.
  skip=(-E '^consumer\.')
elif [ "$mode" = portable ]; then
  build="$root/build-portable"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTG_NATIVE=OFF \
    -DTG_WARNINGS_AS_ERRORS=ON
  skip=(-E '^consumer\.')
else
  build="$root/build"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTG_WARNINGS_AS_ERRORS=ON \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
fi
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" -j "$jobs" --output-on-failure "${skip[@]}"
