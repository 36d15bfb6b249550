#include "softmax.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "parallel.hpp"

namespace tg::kernels {
namespace {

// Positions along `inner` handled together: the loops over them are contiguous (they
// vectorise) and their running max and sum fit in a stack buffer.
constexpr std::size_t inner_block = 256;
// Elements per task.
constexpr std::size_t task_elements = std::size_t{1} << 14;

// One block: positions [i0, i1) of row o, all `dim` entries of each.
template <class T, bool Log>
void softmax_block(const T* x, T* out, std::size_t dim, std::size_t inner, std::size_t i0,
                   std::size_t i1) {
  const std::size_t width = i1 - i0;
  std::array<T, inner_block> max;
  std::array<T, inner_block> sum;
  std::fill_n(max.begin(), width, -std::numeric_limits<T>::infinity());
  std::fill_n(sum.begin(), width, T(0));
  for (std::size_t k = 0; k < dim; ++k) {
    const T* row = x + k * inner + i0;
    for (std::size_t j = 0; j < width; ++j) max[j] = std::max(max[j], row[j]);
  }
  for (std::size_t k = 0; k < dim; ++k) {
    const T* row = x + k * inner + i0;
    T* dst = out + k * inner + i0;
    for (std::size_t j = 0; j < width; ++j) {
      const T shifted = row[j] - max[j];
      const T e = std::exp(shifted);
      sum[j] += e;
      // log_softmax keeps the shifted input (exact) rather than the log of a rounded e.
      dst[j] = Log ? shifted : e;
    }
  }
  if constexpr (Log) {
    for (std::size_t j = 0; j < width; ++j) sum[j] = std::log(sum[j]);
    for (std::size_t k = 0; k < dim; ++k) {
      T* dst = out + k * inner + i0;
      for (std::size_t j = 0; j < width; ++j) dst[j] -= sum[j];
    }
  } else {
    for (std::size_t j = 0; j < width; ++j) sum[j] = T(1) / sum[j];
    for (std::size_t k = 0; k < dim; ++k) {
      T* dst = out + k * inner + i0;
      for (std::size_t j = 0; j < width; ++j) dst[j] *= sum[j];
    }
  }
}

template <class T, bool Log>
void softmax_any(const T* x, T* out, std::size_t outer, std::size_t dim, std::size_t inner) {
  if (outer == 0 || dim == 0 || inner == 0) return;
  // Work items are (row, block of inner positions), so that both a long outer and a long
  // inner dim spread across threads.
  const std::size_t blocks = (inner + inner_block - 1) / inner_block;
  const std::size_t width = std::min(inner, inner_block);
  const std::size_t items = outer * blocks;
  const std::size_t grain = std::max<std::size_t>(1, task_elements / (dim * width));
  auto run = [=](std::size_t begin, std::size_t end) {
    for (std::size_t item = begin; item < end; ++item) {
      const std::size_t o = item / blocks;
      const std::size_t i0 = (item % blocks) * inner_block;
      const std::size_t i1 = std::min(inner, i0 + inner_block);
      softmax_block<T, Log>(x + o * dim * inner, out + o * dim * inner, dim, inner, i0, i1);
    }
  };
  if (items <= grain) {
    run(0, items);
  } else {
    parallel_for(items, grain, run);
  }
}

}  // namespace

template <class T>
void softmax(const T* x, T* out, std::size_t outer, std::size_t dim, std::size_t inner) {
  softmax_any<T, false>(x, out, outer, dim, inner);
}

template <class T>
void log_softmax(const T* x, T* out, std::size_t outer, std::size_t dim, std::size_t inner) {
  softmax_any<T, true>(x, out, outer, dim, inner);
}

template void softmax<float>(const float*, float*, std::size_t, std::size_t, std::size_t);
template void softmax<double>(const double*, double*, std::size_t, std::size_t, std::size_t);
template void log_softmax<float>(const float*, float*, std::size_t, std::size_t, std::size_t);
template void log_softmax<double>(const double*, double*, std::size_t, std::size_t, std::size_t);

}  // namespace tg::kernels
