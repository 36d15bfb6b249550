#include "reduce.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "parallel.hpp"

namespace tg::kernels {
namespace {

// out[g] = the sum of x[g * stride, g * stride + n) for g < G, in the steps reduce.hpp gives:
// lane by lane in four vector accumulators per run (independent chains, so the adds overlap),
// then across the lanes by halves, then the last n mod lanes values. A plain loop must add one
// value after another, each add waiting for the last: several times slower. Runs summed side by
// side overlap their folds too.
template <std::size_t G, class T>
void sum_runs_of(const T* x, std::size_t n, std::size_t stride, T* out) {
  using Batch = xsimd::batch<T>;
  constexpr std::size_t lanes = Batch::size;
  Batch acc[G][4];
  for (auto& run : acc) {
    for (auto& a : run) a = Batch(T(0));
  }
  std::size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    for (std::size_t a = 0; a < 4; ++a) {
      for (std::size_t g = 0; g < G; ++g) {
        acc[g][a] += Batch::load_unaligned(x + g * stride + i + a * lanes);
      }
    }
  }
  for (; i + lanes <= n; i += lanes) {
    for (std::size_t g = 0; g < G; ++g) acc[g][0] += Batch::load_unaligned(x + g * stride + i);
  }
  T total[G];
  for (std::size_t g = 0; g < G; ++g) total[g] = fold_run_accumulators(acc[g]);
  for (std::size_t g = 0; g < G; ++g) {
    for (std::size_t j = i; j < n; ++j) total[g] += x[g * stride + j];
    out[g] = total[g];
  }
}

// The sum of x[0, n), as sum_runs sums each run.
template <class T>
T sum_contiguous(const T* x, std::size_t n) {
  T total;
  sum_runs_of<1>(x, n, 0, &total);
  return total;
}

// The shape with neighbouring dims of the same kind (both summed or both kept) merged into one
// and dims of size 1 dropped, which leaves the memory layout as it was: [N, C, H, W] summed over
// {0, 2, 3} (a convolution's bias gradient) becomes [N, C, H*W] summed over {0, 2}, so the
// innermost loop runs over whole planes instead of rows of W values.
struct MergedDims {
  std::vector<std::size_t> shape;
  std::vector<bool> reduce;
};

MergedDims merge_dims(std::span<const std::size_t> shape, std::span<const bool> reduce) {
  MergedDims merged;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!merged.shape.empty() && merged.reduce.back() == reduce[d]) {
      merged.shape.back() *= shape[d];
    } else {
      merged.shape.push_back(shape[d]);
      merged.reduce.push_back(reduce[d]);
    }
  }
  return merged;
}

// out[c] = the sum over a < outer of in[a, c, :] (inner values each), for c < kept: the
// layout [outer, kept, inner] of a sum that keeps one dim (a convolution's bias gradient
// [N, C, H*W] -> [C], a linear layer's [N, C] -> [C]). The kept values are split across the
// parallel seam; each adds its inputs in the order of the serial loop (a = 0, 1, ...), so the
// bits are those of any thread count. On one core it took longer at two threads than at one:
// its input (the gradient of a ReLU) came half from the other core's cache.
template <class T>
void sum_around(const T* in, std::size_t outer, std::size_t kept, std::size_t inner, T* out) {
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 16) / (outer * inner));
  parallel_for(kept, grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t a = 0; a < outer; ++a) {
      const T* row = in + a * kept * inner;
      for (std::size_t c = begin; c < end; ++c) {
        out[c] += inner == 1 ? row[c] : sum_contiguous(row + c * inner, inner);
      }
    }
  });
}

}  // namespace

template <class T>
void sum_runs(const T* x, std::size_t n, std::size_t count, std::size_t stride, T* out) {
  std::size_t g = 0;
  for (; g + 3 <= count; g += 3) sum_runs_of<3>(x + g * stride, n, stride, out + g);
  if (count - g == 2) sum_runs_of<2>(x + g * stride, n, stride, out + g);
  if (count - g == 1) sum_runs_of<1>(x + g * stride, n, stride, out + g);
}

template <class T>
void sum_dims(const T* in, std::span<const std::size_t> full_shape,
              std::span<const bool> full_reduce, T* out) {
  std::size_t in_size = 1;
  std::size_t out_size = 1;
  for (std::size_t d = 0; d < full_shape.size(); ++d) {
    in_size *= full_shape[d];
    if (!full_reduce[d]) out_size *= full_shape[d];
  }
  std::fill(out, out + out_size, T(0));
  if (in_size == 0) return;
  const auto [shape, reduce] = merge_dims(full_shape, full_reduce);
  const std::size_t rank = shape.size();
  if (rank == 0) {  // a single element
    out[0] = in[0];
    return;
  }
  // One kept dim, with the summed ones around it (merged dims alternate): [outer, kept, inner].
  if (std::count(reduce.begin(), reduce.end(), false) == 1) {
    const std::size_t at =
        static_cast<std::size_t>(std::find(reduce.begin(), reduce.end(), false) - reduce.begin());
    const std::size_t outer = at == 1 ? shape[0] : 1;
    const std::size_t inner = at + 1 < rank ? shape[at + 1] : 1;
    sum_around(in, outer, shape[at], inner, out);
    return;
  }
  // Output stride of each input dim; 0 for a reduced dim (its elements meet in one output).
  std::vector<std::size_t> out_stride(rank);
  for (std::size_t d = rank, stride = 1; d-- > 0;) {
    out_stride[d] = reduce[d] ? 0 : stride;
    if (!reduce[d]) stride *= shape[d];
  }

  // The innermost dim runs as a tight loop; the others advance like an odometer.
  const std::size_t inner = shape[rank - 1];
  const bool inner_reduced = reduce[rank - 1];
  std::vector<std::size_t> index(rank, 0);
  std::size_t o = 0;
  for (std::size_t row = 0; row < in_size / inner; ++row) {
    const T* src = in + row * inner;
    if (inner_reduced) {
      out[o] += sum_contiguous(src, inner);
    } else {
      for (std::size_t j = 0; j < inner; ++j) out[o + j] += src[j];
    }
    for (std::size_t d = rank - 1; d-- > 0;) {
      o += out_stride[d];
      if (++index[d] < shape[d]) break;
      o -= out_stride[d] * shape[d];
      index[d] = 0;
    }
  }
}

template <class T>
bool all_finite(const T* values, std::size_t n) {
  using Vec = xsimd::batch<T>;
  // x - x is 0 for a finite x and NaN for an infinite or NaN one; a sum keeps a NaN. Four vector
  // sums, to overlap the adds' latency.
  Vec sums[4] = {Vec(T(0)), Vec(T(0)), Vec(T(0)), Vec(T(0))};
  std::size_t i = 0;
  for (; i + 4 * Vec::size <= n; i += 4 * Vec::size) {
    for (std::size_t k = 0; k < 4; ++k) {
      const Vec v = Vec::load_unaligned(values + i + k * Vec::size);
      sums[k] += v - v;
    }
  }
  T sum = T(0);
  for (; i < n; ++i) sum += values[i] - values[i];
  const Vec all = (sums[0] + sums[1]) + (sums[2] + sums[3]);
  return !std::isnan(sum) && !xsimd::any(xsimd::isnan(all));
}

template void sum_runs<float>(const float*, std::size_t, std::size_t, std::size_t, float*);
template void sum_runs<double>(const double*, std::size_t, std::size_t, std::size_t, double*);
template bool all_finite<float>(const float*, std::size_t);
template bool all_finite<double>(const double*, std::size_t);
template void sum_dims<float>(const float*, std::span<const std::size_t>, std::span<const bool>,
                              float*);
template void sum_dims<double>(const double*, std::span<const std::size_t>, std::span<const bool>,
                               double*);

}  // namespace tg::kernels
