#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root), builds tapegrad, and runs every test through
# CTest.
#   scripts/test.sh              Release build with GCC in build/, all tests
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)
#                                build with clang for generic x86-64 (no -march=native) in
#                                build-sanitize/, so the kernels' paths for machines without
#                                AVX-512 (their #else branches) run too, whatever CI runs on; all
#                                tests but the consumer builds, the kill -9 test and the ResNet
#                                example's, plus the libFuzzer targets of tests/fuzz, each run for
#                                TG_FUZZ_SECONDS (default 60) from its committed seed corpus
#   scripts/test.sh --tsan       ThreadSanitizer build with clang, for the build machine's CPU, in
#                                build-tsan/, with the std::thread back end of the parallel seam
#                                (TSan cannot see into Debian's TBB), all tests but those
#                                --sanitize leaves out; any report fails the test
# The sanitizer builds are clang's, with warnings as errors: so every change is compiled by both
# compilers, and the one sanitizer build links the fuzz targets (libFuzzer is clang's).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/packages.sh
source "$root/scripts/lib/packages.sh"

mode=release
for arg in "$@"; do
  case "$arg" in
    --sanitize) mode=sanitize ;;
    --tsan) mode=tsan ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "usage: scripts/test.sh [--sanitize | --tsan]" >&2
       exit 2 ;;
  esac
done

install_missing_packages "${TG_BUILD_PACKAGES[@]}"
# The MNIST example's smoke test trains on the real digits.
"$root/scripts/fetch_data.sh"

jobs=$(nproc)
skip=()
# The sanitizer builds: clang, optimised, with line tables only (enough for the reports' stack
# traces; full debug information made these builds a third slower).
sanitizer_build=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
  -DTG_BUILD_BENCH=OFF -DTG_WARNINGS_AS_ERRORS=ON)
# Left out under the sanitizers, covered by the Release run: the consumer tests build a separate
# project against the library (packaging, not memory safety); the kill -9 test's 24 runs, each
# evaluating 10,000 test images per epoch, took 3 minutes under GCC's ASan (8 under its TSan) and
# the ResNet example's training 3 minutes under ASan, both on code paths the unit tests run.
sanitizer_skip=(-E '^(consumer\.|example\.mnist_crash$|example\.resnet_)')
# Configures a sanitizer build in $build with clang (and its sanitizer runtimes), given the
# sanitizer's own options.
configure_sanitizer_build() {
  install_missing_packages clang libclang-rt-14-dev
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja "${sanitizer_build[@]}" "$@"
  skip=("${sanitizer_skip[@]}")
}
if [ "$mode" = sanitize ]; then
  build="$root/build-sanitize"
  configure_sanitizer_build -DTG_SANITIZE=ON -DTG_NATIVE=OFF -DTG_FUZZ=ON \
    -DTG_FUZZ_SECONDS="${TG_FUZZ_SECONDS:-60}"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
elif [ "$mode" = tsan ]; then
  build="$root/build-tsan"
  configure_sanitizer_build -DTG_SANITIZE_THREAD=ON -DTG_THREADS=std_thread
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
else
  build="$root/build"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTG_WARNINGS_AS_ERRORS=ON \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
fi
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" -j "$jobs" --output-on-failure "${skip[@]}"
