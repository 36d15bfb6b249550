#include "column_weight_grad.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "activation.hpp"
#include "in_register.hpp"
#include "parallel.hpp"
#include "reduce.hpp"
#include "scratch.hpp"
#include "sizes.hpp"

namespace tg::kernels {
namespace {

template <class T>
using Vec = xsimd::batch<T>;

// The register tile: `tile_rows` channels x `tile_taps` taps of accumulators, beside a vector of
// delta per channel and one of columns; per vector of pixels it loads rows + taps vectors for
// rows x taps FMAs.
#if defined(__AVX512F__)
constexpr std::size_t tile_rows = 3;  // 27 accumulators + 3 + 1 of 32 registers
constexpr std::size_t tile_taps = 9;  // a 3x3 kernel's taps of one input channel
#else
constexpr std::size_t tile_rows = 2;  // 10 accumulators + 2 + 1 of 16 registers
constexpr std::size_t tile_taps = 5;
#endif

template <class T>
struct TileArgs {
  std::size_t pixels;         // P, and the distance between delta's planes
  xsimd::batch_bool<T> tail;  // the lanes of a plane's last vector (which ends at P and overlaps
                              // the one before) that the whole vectors did not cover
  std::size_t sums_stride;    // between the channels' rows of partial-sum vectors (K vectors)
};

// The partial-sum vectors of channels r < R and taps s < S (at sums + r * sums_stride + s * lanes)
// += the lane-wise products of delta's plane d + r * P with the row of columns cols + taps[s].
template <std::size_t R, std::size_t S, class T>
void tile(const TileArgs<T>& a, const T* __restrict d, const T* __restrict cols,
          const std::size_t* taps, T* __restrict sums) {
  constexpr std::size_t lanes = Vec<T>::size;
  Vec<T> acc[R][S];
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t s = 0; s < S; ++s) {
      acc[r][s] = Vec<T>::load_aligned(sums + r * a.sums_stride + s * lanes);
    }
  }
  const T* rows[S];
  for (std::size_t s = 0; s < S; ++s) rows[s] = cols + taps[s];
  const std::size_t p = a.pixels;
  auto add = [&](auto vector_at) {
    Vec<T> dv[R];
    for (std::size_t r = 0; r < R; ++r) dv[r] = vector_at(d + r * p);
    for (std::size_t s = 0; s < S; ++s) {
      const Vec<T> xv = in_register(vector_at(rows[s]));
      for (std::size_t r = 0; r < R; ++r) acc[r][s] = xsimd::fma(dv[r], xv, acc[r][s]);
    }
  };
  const std::size_t whole = p / lanes * lanes;
  for (std::size_t q = 0; q < whole; q += lanes) {
    // The next tile's planes, a tile's time ahead: the hardware does not prefetch them in time.
    for (std::size_t r = 0; r < R; ++r) __builtin_prefetch(d + (R + r) * p + q);
    add([q](const T* run) { return Vec<T>::load_unaligned(run + q); });
  }
  if (whole < p) {
    add([&](const T* run) {
      return xsimd::select(a.tail, Vec<T>::load_unaligned(run + p - lanes), Vec<T>(T(0)));
    });
  }
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t s = 0; s < S; ++s) {
      acc[r][s].store_aligned(sums + r * a.sums_stride + s * lanes);
    }
  }
}

template <class T>
using Tile = void (*)(const TileArgs<T>&, const T*, const T*, const std::size_t*, T*);

// The tile of `rows` <= tile_rows channels and `taps` <= tile_taps taps.
template <class T>
Tile<T> tile_for(std::size_t rows, std::size_t taps) {
  static constexpr auto tiles = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<Tile<T>, sizeof...(I)>{&tile<I % tile_rows + 1, I / tile_rows + 1, T>...};
  }
  (std::make_index_sequence<tile_rows * tile_taps>{});
  return tiles[(taps - 1) * tile_rows + rows - 1];
}

}  // namespace

template <class T>
bool column_weight_grad_applies(const ConvGeometry& g, std::size_t out_channels) {
  return ImageColumns(g, Vec<T>::size).copied() <= out_channels * g.col_cols() &&
         g.col_cols() >= Vec<T>::size;
}

template <class T>
ColumnWeightGrad<T>::ColumnWeightGrad(const ConvGeometry& g, std::size_t out_channels)
    : g_(g), columns_(g, Vec<T>::size), out_channels_(out_channels) {}

template <class T>
void ColumnWeightGrad<T>::run(std::size_t count, const T* grad, const T* relu_output,
                              const T* images, T* grad_weight, T* plane_sums, bool parallel) const {
  constexpr std::size_t lanes = Vec<T>::size;
  const std::size_t k = g_.col_rows();
  const std::size_t p = g_.col_cols();
  alignas(64) std::array<T, lanes> lane_index{};
  for (std::size_t i = 0; i < lanes; ++i) lane_index[i] = T(i);
  const TileArgs<T> args{
      .pixels = p,
      .tail = Vec<T>::load_aligned(lane_index.data()) >= Vec<T>(T(lanes - p % lanes)),
      .sums_stride = k * lanes};

  auto run_channels = [&](std::size_t begin, std::size_t end) {
    const std::size_t first = begin * tile_rows;
    const std::size_t last = std::min(end * tile_rows, out_channels_);
    Scratch<T, 0> cols(columns_.size());
    Scratch<T, 1> sums((last - first) * args.sums_stride);
    Scratch<T, 2> masked(relu_output != nullptr ? tile_rows * p : 0);
    std::fill_n(sums.data(), (last - first) * args.sums_stride, T(0));
    for (std::size_t n = 0; n < count; ++n) {
      columns_.copy(images + n * g_.image_size(), cols.data());
      for (std::size_t o = first; o < last; o += tile_rows) {
        const std::size_t rows = std::min(tile_rows, last - o);
        T* tile_sums = sums.data() + (o - first) * args.sums_stride;
        // The tile's planes of delta: where they lie, or masked into L1.
        const std::size_t at = (n * out_channels_ + o) * p;
        const T* d = grad + at;
        if (relu_output != nullptr) {
          relu_backward_serial(d, relu_output + at, masked.data(), rows * p);
          d = masked.data();
        }
        // The bias gradient's terms first: the tile then finds these planes in L1.
        if (plane_sums != nullptr) sum_runs(d, p, rows, p, plane_sums + n * out_channels_ + o);
        for (std::size_t t = 0; t < k; t += tile_taps) {
          tile_for<T>(rows, std::min(tile_taps, k - t))(
              args, d, cols.data(), columns_.taps().data() + t, tile_sums + t * lanes);
        }
      }
    }
    // Each vector of partial sums folded across its lanes, in lane order.
    for (std::size_t o = first; o < last; ++o) {
      for (std::size_t t = 0; t < k; ++t) {
        const T* vector = sums.data() + (o - first) * args.sums_stride + t * lanes;
        T total = T(0);
        for (std::size_t i = 0; i < lanes; ++i) total += vector[i];
        grad_weight[o * k + t] = total;
      }
    }
  };
  const std::size_t channel_tiles = (out_channels_ + tile_rows - 1) / tile_rows;
  parallel_for_if(parallel, channel_tiles, 1, run_channels);
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, which cannot be parenthesised.
#define TG_INSTANTIATE_COLUMN_WEIGHT_GRAD(T)                                     \
  template bool column_weight_grad_applies<T>(const ConvGeometry&, std::size_t); \
  template class ColumnWeightGrad<T>;
TG_INSTANTIATE_COLUMN_WEIGHT_GRAD(float)
TG_INSTANTIATE_COLUMN_WEIGHT_GRAD(double)
// NOLINTEND(bugprone-macro-parentheses)
#undef TG_INSTANTIATE_COLUMN_WEIGHT_GRAD

}  // namespace tg::kernels
