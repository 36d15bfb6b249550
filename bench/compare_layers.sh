#!/usr/bin/env bash
# Per-layer yardsticks, all on one thread: tapegrad's convolution kernels against oneDNN (Debian's
# libdnnl-dev) on every convolution layer of the MNIST examples at batch 64 (forward; forward with
# the ReLU fused, oneDNN's as an eltwise post-op; backward-data; backward-weights with the bias
# gradient; each timed apart; oneDNN both in its own layouts and with the reorders from and to
# NCHW that a framework keeping NCHW tensors pays), and tapegrad's GEMM against OpenBLAS's sgemm on
# square sizes and on the products the examples run through it. Installs the two libraries if
# missing (as root), builds bench/bench_layers.cpp in the Release build, runs it (which first
# checks that both sides agree) and prints the machine and library context, then Markdown tables
# of the medians over the repetitions (interleaved in random order).
#   bench/compare_layers.sh [--repetitions N] [--min-time SECONDS] [--build DIR]
#                           [--openblas-core CORE]
# OpenBLAS picks its kernels for this CPU: an OPENBLAS_CORETYPE in the environment (some set
# Haswell, which takes AVX-512 away) is ignored unless --openblas-core names a core.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repetitions=3 min_time="" build="$root/build" openblas_core=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repetitions) repetitions=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --openblas-core) openblas_core=$2; shift 2 ;;
    *) echo "usage: $0 [--repetitions N] [--min-time SECONDS] [--build DIR]" \
         "[--openblas-core CORE]" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/lib/packages.sh
source "$root/scripts/lib/packages.sh"
install_missing_packages libdnnl-dev libopenblas-dev
# Configured anew each time, so that libraries installed since the last run are found.
if [ -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" >/dev/null
else
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if [ ! -d "$build/bench/CMakeFiles/bench_layers.dir" ]; then
  echo "bench_layers is not configured in $build: oneDNN 2.x, OpenBLAS or OpenMP not found" \
    "(see bench/CMakeLists.txt)" >&2
  exit 1
fi
cmake --build "$build" --target bench_layers >/dev/null

core_note="its own choice for this CPU"
if [ -n "$openblas_core" ]; then
  export OPENBLAS_CORETYPE=$openblas_core
  core_note="forced by --openblas-core"
elif [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  core_note="its own choice for this CPU; OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE ignored"
  unset OPENBLAS_CORETYPE
fi

json=$(mktemp) checks=$(mktemp)
trap 'rm -f "$json" "$checks"' EXIT
# Repetitions of all benchmarks interleaved in random order, so that tapegrad and its yardstick
# see the same drift of this shared machine (run in sequence, a layer's two sides were timed
# minutes apart and moved by up to 25%).
args=(--benchmark_repetitions="$repetitions" --benchmark_enable_random_interleaving=true
  --benchmark_format=json)
[ -z "$min_time" ] || args+=(--benchmark_min_time="$min_time")
# stdout is the JSON; the agreement checks come on stderr, shown only if they fail.
if ! "$build/bench/bench_layers" "${args[@]}" >"$json" 2>"$checks"; then
  cat "$checks" >&2
  exit 1
fi

echo "machine: $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -n 1) (family" \
  "$(sed -n 's/^cpu family\t*: //p' /proc/cpuinfo | head -n 1)), $(nproc) cores," \
  "$(grep -o -w -m1 avx512f /proc/cpuinfo || echo 'no AVX-512'); tapegrad" \
  "$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo '+changes')," \
  "$("$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")" --version | head -n 1)" \
  "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")"
echo "checks: $(grep -c ' ok$' "$checks") results agree with tapegrad's (max |diff| / max |tapegrad|" \
  "<= 1e-3; worst $(sed -n 's/.* = \([^ ]*\) ok$/\1/p' "$checks" | sort -g | tail -n 1))"
OPENBLAS_CORE_NOTE=$core_note python3 - "$json" "$repetitions" <<'EOF'
import json
import os
import sys

with open(sys.argv[1]) as f:
    report = json.load(f)
repetitions = int(sys.argv[2])
of_runs = f"median of {repetitions} repetitions" if repetitions > 1 else "one repetition"
context = report["context"]


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


# name without its side -> side -> the per-repetition (ms, GFLOP/s).
to_ms = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
runs = {}
for b in report["benchmarks"]:
    if b.get("run_type", "iteration") != "iteration":
        continue  # Google Benchmark's own aggregates: we take medians ourselves
    name = b["run_name"].removesuffix("/real_time")
    pair, side = name.rsplit("/", 1)
    runs.setdefault(pair, {}).setdefault(side, []).append(
        (b["real_time"] * to_ms[b["time_unit"]], b["GFLOP/s"] / 1e9))


# The pairs of one kind in a fixed order (the JSON lists them in the interleaved run's order):
# layers by name, passes as a step runs them; square GEMMs by size, then the layers' shapes.
PASSES = ["forward", "forward_relu", "backward_data", "backward_weights"]


def ordered(kind):
    def key(pair):
        rest = pair.split("/")[1:]
        if kind == "conv":
            return (rest[0], PASSES.index(rest[1]))
        return (not rest[0].isdigit(), int(rest[0]) if rest[0].isdigit() else 0, rest[0])
    return sorted((p for p in runs if p.split("/")[0] == kind), key=key)


def medians(pair, side):
    samples = runs[pair][side]
    return median([ms for ms, _ in samples]), median([g for _, g in samples])


print(f"threads: {context['threads']}")
print(f"oneDNN {context['onednn_version']}, CPU runtime {context['onednn_cpu_runtime']}")
print(f"OpenBLAS config: {context['openblas_config']}; core {context['openblas_core']}"
      f" ({os.environ['OPENBLAS_CORE_NOTE']})")
print()
print(f"Convolutions, batch 64, float, one thread ({of_runs}),")
print("oneDNN: in its own blocked layouts, reordered outside the timed loop; from NCHW: with the")
print("reorders of the pass's inputs from NCHW/OIHW and of its output back timed, as an NCHW")
print("framework (PyTorch) runs it.")
print()
print("| layer | pass | tapegrad ms | oneDNN ms | tapegrad / oneDNN time | oneDNN from NCHW ms |"
      " tapegrad / oneDNN from NCHW time | oneDNN implementation |")
print("|---|---|---|---|---|---|---|---|")
for pair in ordered("conv"):
    layer, pass_ = pair.split("/")[1:]
    tg_ms, _ = medians(pair, "tapegrad")
    dnnl_ms, _ = medians(pair, "onednn")
    nchw_ms, _ = medians(pair, "onednn_nchw")
    impl = context.get(f"onednn_impl.{layer}.{pass_}", "?")
    print(f"| {layer} | {pass_} | {tg_ms:.3f} | {dnnl_ms:.3f} | {tg_ms / dnnl_ms:.2f} | "
          f"{nchw_ms:.3f} | {tg_ms / nchw_ms:.2f} | {impl} |")
print()
print(f"GEMM, row-major, one thread ({of_runs}); NN, NT, TN: which of A and B are transposed.")
print()
print("| product: M x N x K | tapegrad GFLOP/s | OpenBLAS GFLOP/s | tapegrad / OpenBLAS GFLOP/s |")
print("|---|---|---|---|")
for pair in ordered("gemm"):
    shape = pair.split("/", 1)[1]
    if shape.isdigit():
        shape = f"{shape}x{shape}x{shape}"
    _, tg_rate = medians(pair, "tapegrad")
    _, blas_rate = medians(pair, "openblas")
    print(f"| {shape} | {tg_rate:.1f} | {blas_rate:.1f} | {tg_rate / blas_rate:.2f} |")
EOF
