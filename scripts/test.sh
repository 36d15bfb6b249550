#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root), builds tapegrad, and runs every test through
# CTest.
#   scripts/test.sh              Release build in build/, all tests
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)
#                                build in build-sanitize/, all tests but the consumer builds and
#                                the kill -9 test
#   scripts/test.sh --portable   generic x86-64 build (no -march=native) in build-portable/, all
#                                tests but the consumer builds: the kernels' paths for machines
#                                without AVX-512 (their #else branches) run whatever CI runs on
#   scripts/test.sh --clang      Release build with Debian 12's clang (14) in build-clang/,
#                                warnings as errors, all tests but the consumer builds
#   scripts/test.sh --tsan       ThreadSanitizer build in build-tsan/ with the std::thread back
#                                end of the parallel seam (TSan cannot see into Debian's TBB), all
#                                tests but the consumer builds and the kill -9 test; any report
#                                fails the test
#   scripts/test.sh --fuzz       the libFuzzer targets of tests/fuzz (clang, ASan + UBSan) in
#                                build-fuzz/, each run for TG_FUZZ_SECONDS (default 60) from its
#                                committed seed corpus
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/packages.sh
source "$root/scripts/lib/packages.sh"

mode=release
for arg in "$@"; do
  case "$arg" in
    --sanitize) mode=sanitize ;;
    --portable) mode=portable ;;
    --clang) mode=clang ;;
    --tsan) mode=tsan ;;
    --fuzz) mode=fuzz ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "usage: scripts/test.sh [--sanitize | --portable | --clang | --tsan | --fuzz]" >&2
       exit 2 ;;
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
  # safety): the Release run covers them. So do the Release, clang and portable runs cover the
  # kill -9 test, whose 24 runs, each evaluating 10,000 test images per epoch, took 3 minutes
  # under ASan (8 under TSan) and exercise the file handling, not new code paths.
  skip=(-E '^(consumer\.|example\.mnist_crash$)')
elif [ "$mode" = clang ]; then
  install_missing_packages clang
  build="$root/build-clang"
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DTG_WARNINGS_AS_ERRORS=ON
  # The consumer tests build a separate project with the default compiler: the Release run
  # covers them.
  skip=(-E '^consumer\.')
elif [ "$mode" = tsan ]; then
  build="$root/build-tsan"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTG_SANITIZE_THREAD=ON -DTG_THREADS=std_thread -DTG_BUILD_BENCH=OFF \
    -DTG_WARNINGS_AS_ERRORS=ON
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  # As under --sanitize: no consumer builds, no kill -9 test.
  skip=(-E '^(consumer\.|example\.mnist_crash$)')
elif [ "$mode" = fuzz ]; then
  install_missing_packages clang libclang-rt-14-dev
  build="$root/build-fuzz"
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTG_FUZZ=ON -DTG_FUZZ_SECONDS="${TG_FUZZ_SECONDS:-60}" -DTG_BUILD_TESTS=OFF \
    -DTG_BUILD_EXAMPLES=OFF -DTG_BUILD_BENCH=OFF -DTG_WARNINGS_AS_ERRORS=ON
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
