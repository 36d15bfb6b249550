# Installs the given Debian packages that are not installed yet (apt-get, as root).
# Sourced by the scripts in scripts/.
install_missing_packages() {
  local missing=()
  local package
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages: ${missing[*]}; run as root, or install them with apt-get" >&2
    return 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# What building and testing tapegrad needs.
TG_BUILD_PACKAGES=(
  g++ cmake ninja-build clang-format
  libxtensor-dev libxsimd-dev libtbb-dev libfmt-dev catch2
  zlib1g-dev nlohmann-json3-dev libcli11-dev
  libbenchmark-dev python3-numpy
  libopenmpi-dev openmpi-bin  # tg::distributed and its tests of 2 ranks (mpirun)
  python3-matplotlib  # example.resnet_plot draws the ResNet smoke test's curves
)
