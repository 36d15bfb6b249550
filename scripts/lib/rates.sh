# shellcheck shell=bash
# Helpers of the benchmark scripts that time the MNIST example (bench/compare_torch.sh,
# bench/scaling.sh). Sourced, not run.

# Mean img_per_s of the epoch lines on stdin.
mean_rate() { awk '$1 == "epoch" { s += $6; n++ } END { if (n) printf "%.0f", s / n; else print 0 }'; }

# The median of a list of numbers, and a / b to two decimals.
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# The ratios a_i / b_i of two lists of the same length, one per round.
paired_ratios() {
  local -n a_list=$1 b_list=$2
  for i in "${!a_list[@]}"; do ratio "${a_list[$i]}" "${b_list[$i]}"; echo; done
}
