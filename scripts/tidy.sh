#!/usr/bin/env bash
# Runs clang-tidy with the committed .clang-tidy (bugprone-*, performance-*; every finding is an
# error) over the library, the examples and the benchmarks, using the compile commands of the
# Release build in build/ (configured here if needed; nothing is compiled). The tests are left
# out: their precompiled header is GCC's, which clang cannot read.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/packages.sh
source "$root/scripts/lib/packages.sh"
install_missing_packages "${TG_BUILD_PACKAGES[@]}" clang-tidy

build="$root/build"
if [ ! -f "$build/compile_commands.json" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
fi
# The compile commands without the GCC-only flags that clang rejects (-mmove-max, -mstore-max:
# cmake/tapegrad_options.cmake adds them for GCC 12.2).
commands=$(mktemp -d)
trap 'rm -rf "$commands"' EXIT
sed -E 's/ -m(move|store)-max=[0-9]+//g' "$build/compile_commands.json" \
  > "$commands/compile_commands.json"
# The repository's path, escaped for the regular expressions below.
root_re=$(printf '%s' "$root" | sed 's/[][\.*^$+?(){}|]/\\&/g')
run-clang-tidy -p "$commands" -quiet -j "$(nproc)" \
  -header-filter="^$root_re/(autograd|ops|lib|examples|bench)/" \
  "^$root_re/(autograd|ops|lib|examples|bench)/.*\.cpp$"
echo "clang-tidy: clean"
