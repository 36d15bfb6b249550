#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root), builds tapegrad in Release, fetches the data
# once, and trains the MNIST example: by default LeNet-5 on the real digits of data/mnist.
# Any flags are passed to the example, e.g.
#   scripts/mnist.sh --epochs 5
#   scripts/mnist.sh --data data/fashion-mnist --optimizer sgd --epochs 10
#   scripts/mnist.sh --model mnist_cnn --save mnist_cnn.safetensors
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/packages.sh
source "$root/scripts/lib/packages.sh"

install_missing_packages "${TG_BUILD_PACKAGES[@]}"
"$root/scripts/fetch_data.sh"

build="$root/build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target mnist

cd "$root"
exec "$build/examples/mnist/mnist" "$@"
