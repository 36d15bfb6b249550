#include "column_weight_grad.hpp"

#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "activation.hpp"
#include "in_register.hpp"
#include "lane_numbers.hpp"
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
// rows x taps FMAs. A summing tile also adds each plane of delta into four vector accumulators,
// sum_runs's, on the adders the FMAs leave free (Zen 5 has two of each): a separate pass over the
// planes for the bias gradient, the first to read them from memory, took 20% of mnist_cnn's
// first-layer pass. Its fewer rows cost no FMAs (32 channels are 16 tiles of 2 rows, against
// 11 of 3 whose last has 2) but load the columns more often.
#if defined(__AVX512F__)
constexpr std::size_t tile_rows = 3;          // 27 accumulators + 3 + 1 of 32 registers
constexpr std::size_t tile_taps = 9;          // a 3x3 kernel's taps of one input channel
constexpr std::size_t summing_tile_rows = 2;  // 18 + 2 x 4 sums + 2 + 1
#else
constexpr std::size_t tile_rows = 2;  // 10 accumulators + 2 + 1 of 16 registers
constexpr std::size_t tile_taps = 5;
constexpr std::size_t summing_tile_rows = 0;  // none: the planes are summed apart
#endif

template <class T>
struct TileArgs {
  std::size_t pixels;        // P
  std::size_t planes_apart;  // values between the tile's planes of delta
  std::size_t rows_apart;    // channels between the tile's rows (of partial sums and plane sums)
  std::size_t groups_end;    // where the loop over whole groups of four whole vectors stops
  std::size_t steps;         // how many of the four steps after it add something (1 to 4)
  // The steps after the loop, which add the rest of the plane (one to four vectors): the
  // vector each loads (a whole one, or the plane's last, which ends at P) and the lanes of it
  // that it adds (those no step before added: none once the plane is covered). For the sums, as
  // sum_runs adds them: whether the vector goes into runs[j] (the steps are a whole group)
  // or into runs[0] (a whole vector after the last group; step 0's goes there either way).
  std::array<std::size_t, 4> last_at;
  std::array<xsimd::batch_bool<T>, 4> last_lanes;
  xsimd::batch_bool<T> last_into_own;  // the same for every step
  std::array<xsimd::batch_bool<T>, 4> last_into_first;
  std::size_t sums_stride;  // between the channels' rows of partial-sum vectors (K vectors)
};

// The partial-sum vectors of rows r < R and taps s < S (at sums + r * rows_apart * sums_stride +
// s * lanes) += the lane-wise products of delta's plane d + r * planes_apart with the row of
// columns cols + taps[s]. With Sums, plane_sums[r * rows_apart] = sum_runs of plane r, in its steps
// (reduce.hpp). Groups: the plane has more than four vectors, so that the loop runs at least once.
//
// The plane is whole groups, then Steps steps with masked lanes, those of the four after the groups
// that add something (a step that adds nothing costs a step's FMAs: mnist_cnn's first layer, 676
// pixels, ran 44 steps for 43): with the loop a do-while and no loop or branch after it, GCC 12
// keeps the accumulators in registers. With a loop it might skip, then a loop over the remaining
// whole vectors and a branch to the last one, it kept them on the stack around those loops:
// mnist_cnn's first layer took 13% longer (0.192 against 0.170 ms on one thread, delta in L2, on a
// Zen 5), about what the same tile compiled for its one plane size saved. Flattened: a step it did
// not inline (the steps are lambdas) put the accumulators back on the stack, at twice the time.
template <std::size_t R, std::size_t S, bool Sums, bool Groups, std::size_t Steps, class T>
[[gnu::flatten]] void tile(const TileArgs<T>& a, const T* __restrict d, const T* __restrict cols,
                           const std::size_t* taps, T* __restrict sums, T* __restrict plane_sums) {
  constexpr std::size_t lanes = Vec<T>::size;
  Vec<T> acc[R][S];
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t s = 0; s < S; ++s) {
      acc[r][s] = Vec<T>::load_aligned(sums + r * a.rows_apart * a.sums_stride + s * lanes);
    }
  }
  Vec<T> runs[R][4];
  if constexpr (Sums) {
    for (auto& run : runs) {
      for (auto& v : run) v = Vec<T>(T(0));
    }
  }
  const T* rows[S];
  for (std::size_t s = 0; s < S; ++s) rows[s] = cols + taps[s];
  const std::size_t p = a.pixels;
  // acc[r][s] += dv[r] x the vector vector_at(row) of each tap's row.
  auto multiply = [&](const Vec<T>(&dv)[R], auto vector_at) {
    for (std::size_t s = 0; s < S; ++s) {
      const Vec<T> xv = in_register(vector_at(rows[s]));
      for (std::size_t r = 0; r < R; ++r) acc[r][s] = xsimd::fma(dv[r], xv, acc[r][s]);
    }
  };
  // The whole vectors at q; with Sums, the planes' into runs[.][Run].
  auto add_whole = [&]<std::size_t Run>(std::size_t q, std::integral_constant<std::size_t, Run>) {
    auto vector_at = [q](const T* line) { return Vec<T>::load_unaligned(line + q); };
    Vec<T> dv[R];
    for (std::size_t r = 0; r < R; ++r) dv[r] = vector_at(d + r * a.planes_apart);
    if constexpr (Sums) {
      for (std::size_t r = 0; r < R; ++r) runs[r][Run] += dv[r];
    }
    multiply(dv, vector_at);
  };
  // Last step J, its lanes masked off in both operands; with Sums, a whole vector into the sums
  // (sum_runs adds a plane's last values one by one, below).
  auto add_last = [&]<std::size_t J>(std::integral_constant<std::size_t, J>) {
    auto vector_at = [&, q = a.last_at[J], lanes_added = a.last_lanes[J]](const T* line) {
      return xsimd::select(lanes_added, Vec<T>::load_unaligned(line + q), Vec<T>(T(0)));
    };
    Vec<T> dv[R];
    for (std::size_t r = 0; r < R; ++r) dv[r] = vector_at(d + r * a.planes_apart);
    if constexpr (Sums) {
      for (std::size_t r = 0; r < R; ++r) {
        if constexpr (J > 0) {
          runs[r][J] = xsimd::select(a.last_into_own, runs[r][J] + dv[r], runs[r][J]);
        }
        runs[r][0] = xsimd::select(a.last_into_first[J], runs[r][0] + dv[r], runs[r][0]);
      }
    }
    multiply(dv, vector_at);
  };
  if constexpr (Groups) {
    std::size_t q = 0;
    do {
      add_whole(q, std::integral_constant<std::size_t, 0>{});
      add_whole(q + lanes, std::integral_constant<std::size_t, 1>{});
      add_whole(q + 2 * lanes, std::integral_constant<std::size_t, 2>{});
      add_whole(q + 3 * lanes, std::integral_constant<std::size_t, 3>{});
      q += 4 * lanes;
    } while (q < a.groups_end);
  }
  [&]<std::size_t... J>(std::index_sequence<J...>) {
    (add_last(std::integral_constant<std::size_t, J>{}), ...);
  }
  (std::make_index_sequence<Steps>{});
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t s = 0; s < S; ++s) {
      acc[r][s].store_aligned(sums + r * a.rows_apart * a.sums_stride + s * lanes);
    }
  }
  if constexpr (Sums) {
    for (std::size_t r = 0; r < R; ++r) {
      T total = fold_run_accumulators(runs[r]);
      for (std::size_t j = p / lanes * lanes; j < p; ++j) total += d[r * a.planes_apart + j];
      plane_sums[r * a.rows_apart] = total;
    }
  }
}

// With one row per channel until the tile's rows are set (planes_apart, rows_apart).
template <class T>
TileArgs<T> tile_args(std::size_t pixels, std::size_t sums_stride) {
  constexpr std::size_t lanes = Vec<T>::size;
  constexpr std::size_t group = 4 * lanes;
  // The groups but the last (which may be partial): the steps after them add the one to four
  // vectors left, the last whole group when P is a multiple of the group.
  TileArgs<T> a{.pixels = pixels,
                .planes_apart = pixels,
                .rows_apart = 1,
                .groups_end = (pixels + group - 1) / group * group - group,
                .steps = 0,
                .last_at = {},
                .last_lanes = {},
                .last_into_own = {},
                .last_into_first = {},
                .sums_stride = sums_stride};
  const bool whole_group = a.groups_end + group == pixels;
  a.steps = (pixels - a.groups_end + lanes - 1) / lanes;
  a.last_into_own = xsimd::batch_bool<T>(whole_group);
  const Vec<T> lane = lane_numbers<T>();
  for (std::size_t j = 0; j < 4; ++j) {
    const std::size_t first = a.groups_end + j * lanes;  // the first pixel step j adds
    const std::size_t at = std::min(first, pixels - lanes);
    a.last_at[j] = at;
    a.last_lanes[j] = lane >= Vec<T>(T(std::min(first - at, lanes))) &&
                      lane < Vec<T>(T(std::min(pixels - at, lanes)));
    const bool whole = first + lanes <= pixels;
    a.last_into_first[j] = xsimd::batch_bool<T>(whole && (j == 0 || !whole_group));
  }
  return a;
}

template <class T>
using Tile = void (*)(const TileArgs<T>&, const T*, const T*, const std::size_t*, T*, T*);

// The tile of `rows` channels and `taps` taps, summing planes or not (rows <= tile_rows, or
// <= summing_tile_rows if summing), for planes of more than four vectors (with the loop over
// groups) or of four or fewer, with `steps` masked steps after the groups.
template <class T>
Tile<T> tile_for(std::size_t rows, std::size_t taps, bool summing, bool groups, std::size_t steps) {
  static constexpr auto table = []<bool Sums, bool Groups>(std::integral_constant<bool, Sums>,
                                                           std::integral_constant<bool, Groups>) {
    constexpr std::size_t max_rows = Sums ? summing_tile_rows : tile_rows;
    constexpr std::size_t shapes = max_rows * tile_taps;
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<Tile<T>, sizeof...(I)>{
          &tile<I % shapes % max_rows + 1, I % shapes / max_rows + 1, Sums, Groups, I / shapes + 1,
                T>...};
    }
    (std::make_index_sequence<shapes * 4>{});
  };
  using Yes = std::true_type;
  using No = std::false_type;
  static constexpr auto plain = table(No{}, Yes{});
  static constexpr auto plain_small = table(No{}, No{});
  if constexpr (summing_tile_rows > 0) {
    static constexpr auto summing_tiles = table(Yes{}, Yes{});
    static constexpr auto summing_small = table(Yes{}, No{});
    if (summing) {
      return (
          groups
              ? summing_tiles
              : summing_small)[((steps - 1) * tile_taps + taps - 1) * summing_tile_rows + rows - 1];
    }
  }
  return (groups ? plain
                 : plain_small)[((steps - 1) * tile_taps + taps - 1) * tile_rows + rows - 1];
}

// Each tap its own aligned row where the whole copy then stays within 32 KB, a budget set between
// the two layers measured on a Zen 5 (48 KB L1) at batch 64: mnist_cnn's first (9 taps, 16 tiles
// of two channels read each row per image; 28 KB in floats) went from 1.33-1.40x oneDNN's time to
// 1.18-1.24x with them; LeNet-5's first (25 taps of 28x28 pixels: 83 KB, read by three tiles;
// 65 KB in the layout of 68da0f6) went from 0.13 to 0.21 ms.
template <class T>
TapRows tap_rows_for(const ConvGeometry& g) {
  constexpr std::size_t budget = std::size_t{32} * 1024;  // bytes
  const ImageColumns aligned(g, Vec<T>::size, TapRows::aligned);
  return aligned.aligned() && aligned.size() * sizeof(T) <= budget ? TapRows::aligned
                                                                   : TapRows::shared;
}

}  // namespace

template <class T>
bool column_weight_grad_applies(const ConvGeometry& g, std::size_t out_channels) {
  return ImageColumns(g, Vec<T>::size).copied() <= out_channels * g.col_cols() &&
         g.col_cols() >= Vec<T>::size;
}

template <class T>
ColumnWeightGrad<T>::ColumnWeightGrad(const ConvGeometry& g, std::size_t out_channels)
    : g_(g), columns_(g, Vec<T>::size, tap_rows_for<T>(g)), out_channels_(out_channels) {}

template <class T>
void ColumnWeightGrad<T>::run(std::size_t count, const T* grad, const T* relu_output,
                              const T* images, T* grad_weight, T* plane_sums, bool parallel) const {
  constexpr std::size_t lanes = Vec<T>::size;
  const std::size_t k = g_.col_rows();
  const std::size_t p = g_.col_cols();
  const TileArgs<T> args = tile_args<T>(p, k * lanes);
  const bool groups = args.groups_end > 0;

  // Summing tiles take the bias gradient's sums; with no tap (no input channel) there is no tile.
  const bool summing = plane_sums != nullptr && summing_tile_rows > 0 && k > 0;
  const std::size_t rows_per_tile = summing ? summing_tile_rows : tile_rows;
  auto run_channels = [&](std::size_t begin, std::size_t end) {
    const std::size_t first = begin * rows_per_tile;
    const std::size_t last = std::min(end * rows_per_tile, out_channels_);
    Scratch<T, 0> cols(columns_.size());
    Scratch<T, 1> sums((last - first) * args.sums_stride);
    Scratch<T, 2> masked(relu_output != nullptr ? rows_per_tile * p : 0);
    std::fill_n(sums.data(), (last - first) * args.sums_stride, T(0));
    // Tile i takes channels first + i + r * tiles: each of its planes of delta starts where the
    // previous tile's plane of that row ended, so the hardware's streams of delta run on from
    // tile to tile, where a tile of neighbouring channels started a stream each time (mnist_cnn's
    // first layer: 3% less time in a harness on a Zen 5).
    const std::size_t tiles = (last - first + rows_per_tile - 1) / rows_per_tile;
    TileArgs<T> in_place = args;
    in_place.planes_apart = tiles * p;
    in_place.rows_apart = tiles;
    TileArgs<T> in_masked = args;  // planes side by side
    in_masked.rows_apart = tiles;
    for (std::size_t n = 0; n < count; ++n) {
      columns_.copy(images + n * g_.image_size(), cols.data());
      for (std::size_t i = 0; i < tiles; ++i) {
        const std::size_t o = first + i;
        const std::size_t rows = (last - o + tiles - 1) / tiles;
        // The tile's planes of delta: where they lie, or masked into L1.
        const std::size_t at = (n * out_channels_ + o) * p;
        const T* d = grad + at;
        const TileArgs<T>* a = &in_place;
        if (relu_output != nullptr) {
          for (std::size_t r = 0; r < rows; ++r) {
            const std::size_t plane = r * in_place.planes_apart;
            relu_backward_serial(d + plane, relu_output + at + plane, masked.data() + r * p, p);
          }
          d = masked.data();
          a = &in_masked;
        }
        T* sums_here = plane_sums != nullptr ? plane_sums + n * out_channels_ + o : nullptr;
        // Without summing tiles, the bias gradient's terms first: the tile then finds these
        // planes in L1.
        if (sums_here != nullptr && !summing) {
          for (std::size_t r = 0; r < rows; ++r) {
            sum_runs(d + r * a->planes_apart, p, 1, p, sums_here + r * tiles);
          }
        }
        T* tile_sums = sums.data() + i * args.sums_stride;
        for (std::size_t t = 0; t < k; t += tile_taps) {
          tile_for<T>(rows, std::min(tile_taps, k - t), summing && t == 0, groups, args.steps)(
              *a, d, cols.data(), columns_.taps().data() + t, tile_sums + t * lanes, sums_here);
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
  const std::size_t channel_tiles = (out_channels_ + rows_per_tile - 1) / rows_per_tile;
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
