#include "shifted_conv.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "copy_row.hpp"
#include "in_register.hpp"
#include "parallel.hpp"
#include "scratch.hpp"
#include "sizes.hpp"

namespace tg::kernels {
namespace {

template <class T>
using Vec = xsimd::batch<T>;

// A forward register tile: `rows` output channels x `vectors` vectors of pixels, the GEMM's
// shape (rows * vectors accumulators beside the pixel vectors and one broadcast weight).
template <class T, std::size_t Rows, std::size_t Vectors>
struct TileShape {
  static constexpr std::size_t rows = Rows;
  static constexpr std::size_t vectors = Vectors;
  static constexpr std::size_t pixels = Vectors * Vec<T>::size;
  static_assert(pixels <= 64, "BlockStore's mask holds 64 pixels");
};

// Forward register tiles: `wide` in general, `narrow` for layers of at most narrow::rows output
// channels (LeNet-5's 6: on the wide tile of 8 they left a quarter of the accumulators idle; the
// input gradient of its second layer, 6 channels of 400 taps, took 11% less time on the narrow
// tile; its first layer's forward, 25 taps, the same within the noise).
template <class T>
struct Tiles {
  static constexpr std::size_t lanes = Vec<T>::size;
#if defined(__AVX512F__)
  using wide = TileShape<T, 8, 3>;
  using narrow = TileShape<T, 6, 4>;
#else
  using wide = TileShape<T, 6, 2>;
  using narrow = wide;
#endif
};

// Weight-gradient register tiles: `rows` channels x `taps` taps, each accumulator a vector of
// partial sums over pixels; its loads are rows + taps per rows * taps FMAs. Each layer takes the
// one that pads its channels and taps least (grad_shape_for): LeNet-5's first layer, 6 channels
// of 25 taps, fills 3 x 9 tiles with 27 taps where 4 x 4 ones padded it to 8 x 28; mnist_cnn's
// first, 32 channels of 9 taps, fills 2 x 9 ones exactly, where 4 x 4 ones padded it to 12 taps;
// LeNet-5's second, 16 channels of 150 taps, fills 4 x 6 ones exactly (0.49 -> 0.46 ms on an
// Intel Xeon, oneDNN 0.48: 4 x 4 padded the taps to 152 and loaded 8 vectors per 16 FMAs, 4 x 6
// loads 10 per 24).
struct GradShape {
  std::size_t rows;
  std::size_t taps;
};
#if defined(__AVX512F__)
constexpr std::array grad_shapes{GradShape{4, 4}, GradShape{6, 4}, GradShape{2, 9}, GradShape{4, 6},
                                 GradShape{3, 9}};
#else
constexpr std::array grad_shapes{GradShape{2, 4}};
#endif
constexpr std::size_t max_grad_tile = [] {
  std::size_t most = 0;
  for (const GradShape t : grad_shapes) most = std::max(most, t.rows * t.taps);
  return most;
}();

// Output pixels on the grid of padded rows.
std::size_t grid_pixels(const ConvGeometry& g) { return g.out_h * g.padded_row(); }
std::size_t taps(const ConvGeometry& g) { return g.col_rows(); }

// Offset of each tap's run in the padded image.
std::vector<std::size_t> tap_offsets(const ConvGeometry& g) {
  std::vector<std::size_t> offsets;
  offsets.reserve(taps(g));
  for (std::size_t c = 0; c < g.channels; ++c)
    for (std::size_t m = 0; m < g.kernel_h; ++m)
      for (std::size_t k = 0; k < g.kernel_w; ++k)
        offsets.push_back(c * g.padded_plane() + m * g.dilation_h * g.padded_row() +
                          k * g.dilation_w);
  return offsets;
}

// Size of the padded image buffer when the grid is read up to `grid_end` >= grid_pixels(g):
// the last tap reads (k_w-1)*d_w + grid_end - grid_pixels(g) past the padded image.
std::size_t padded_buffer(const ConvGeometry& g, std::size_t grid_end) {
  return g.channels * g.padded_plane() + (g.kernel_w - 1) * g.dilation_w + grid_end -
         grid_pixels(g);
}

// Where a block's V vectors go in an output plane: its output pixels, in order, from block.to
// on, are the lanes of each vector whose bit is set in block.valid. Worked out once per block
// for all its channels, and each vector stored as it leaves its register: per channel, and from
// an array of the tile's sums (which went through memory), the stores took 1.5x oneDNN's time
// for mnist_cnn's first layer (9 taps: as few FMAs per output vector as that), 1.1-1.3x now.
template <class T, std::size_t V>
class BlockStores {
 public:
  explicit BlockStores(const BlockStore& block) : to_(block.to) {
    constexpr std::size_t lanes = Vec<T>::size;
    constexpr std::uint64_t all_valid =
        V * lanes == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << (V * lanes)) - 1;
    whole_ = block.valid == all_valid;
    std::size_t at = 0;
    for (std::size_t v = 0; v < V; ++v) {
      valid_[v] = static_cast<std::uint32_t>((block.valid >> (v * lanes)) & ((1U << lanes) - 1));
      at_[v] = at;
      at += static_cast<std::size_t>(std::popcount(valid_[v]));
      first_[v] = static_cast<std::uint32_t>((std::uint64_t{1} << (at - at_[v])) - 1);
    }
  }

  // Whether all the block's pixels are output pixels (Winograd's products): then store_whole
  // writes each vector with a plain store (`store` handles any block).
  bool whole() const { return whole_; }

  // Writes values, the block's vector v, into the plane `out`, for a whole block.
  void store_whole(std::size_t v, Vec<T> values, T* out) const {
    values.store_unaligned(out + to_ + v * Vec<T>::size);
  }

  // Writes the output pixels among `values`, the block's vector v, into the plane `out`.
  void store(std::size_t v, Vec<T> values, T* out) const {
    out += to_;
#if defined(__AVX512F__)
    // A vector of output pixels only is a plain store (the same branch for every channel row
    // of the tile); else it is compressed in a register and written with one masked store.
    if (valid_[v] == (1U << Vec<T>::size) - 1) {
      values.store_unaligned(out + at_[v]);
      return;
    }
    if constexpr (std::is_same_v<T, float>) {
      const __m512 packed = _mm512_maskz_compress_ps(static_cast<__mmask16>(valid_[v]), values);
      _mm512_mask_storeu_ps(out + at_[v], static_cast<__mmask16>(first_[v]), packed);
    } else {
      const __m512d packed = _mm512_maskz_compress_pd(static_cast<__mmask8>(valid_[v]), values);
      _mm512_mask_storeu_pd(out + at_[v], static_cast<__mmask8>(first_[v]), packed);
    }
#else
    constexpr std::size_t lanes = Vec<T>::size;
    alignas(64) T all[lanes];
    values.store_aligned(all);
    T* to = out + at_[v];
    for (std::size_t i = 0; i < lanes; ++i) {
      if ((valid_[v] >> i) & 1U) *to++ = all[i];
    }
#endif
  }

 private:
  std::size_t to_;
  bool whole_;
  std::uint32_t valid_[V];  // the vector's lanes that are output pixels
  std::uint32_t first_[V];  // as many lanes, from the first
  std::size_t at_[V];       // output pixels before the vector's, from block.to
};

// out[r] at the block's output pixels = activation(bias[r] + the sum over taps t of w[t][r] *
// x[offsets[t] + q]) for the block's grid pixels q: R channels of a block of V vectors of the grid,
// with the weight packed for tiles of S::rows channels. The activation is a template argument, so
// that the plain convolution's tiles stay the code they were without one (a run-time argument
// is one more on the stack, and a test per store unless the compiler hoists it).
template <class S, std::size_t R, std::size_t V, Activation A, class T>
void forward_tile(std::size_t tap_count, const std::size_t* __restrict offsets,
                  const T* __restrict w, const T* __restrict x, const BlockStore& block,
                  const T* bias, T* __restrict out, std::size_t plane) {
  constexpr std::size_t lanes = Vec<T>::size;
  Vec<T> acc[R][V];
  for (auto& row : acc) {
    for (auto& v : row) v = Vec<T>(T(0));
  }
  for (std::size_t t = 0; t < tap_count; ++t, w += S::rows) {
    const T* run = x + offsets[t];
    Vec<T> xv[V];
    for (std::size_t v = 0; v < V; ++v) xv[v] = Vec<T>::load_unaligned(run + v * lanes);
    for (std::size_t r = 0; r < R; ++r) {
      const Vec<T> wr(w[r]);
      for (std::size_t v = 0; v < V; ++v) acc[r][v] = xsimd::fma(wr, xv[v], acc[r][v]);
    }
  }
  // The kind of block tested once, not per store, and the stores fully unrolled: otherwise GCC
  // kept the accumulators on the stack for the stores, writing and reading all of them once
  // more (mnist_cnn's first layer: nine taps, so as many FMAs as that per stored vector).
  const BlockStores<T, V> stores(block);
  auto store_all = [&](auto store_vector) {
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r) {
      const Vec<T> b(bias ? bias[r] : T(0));
#pragma GCC unroll 4
      for (std::size_t v = 0; v < V; ++v) store_vector(v, activate(A, acc[r][v] + b), r);
    }
  };
  if (stores.whole()) {
    store_all([&](std::size_t v, Vec<T> values, std::size_t r) {
      stores.store_whole(v, values, out + r * plane);
    });
  } else {
    store_all([&](std::size_t v, Vec<T> values, std::size_t r) {
      stores.store(v, values, out + r * plane);
    });
  }
}

// forward_tile<S, r, v> for r = 1 .. S::rows and v = 1 .. S::vectors, at (v - 1) * S::rows +
// r - 1: an edge block of channels or of pixels costs only its own rows and vectors.
template <class S, Activation A, class T, std::size_t... I>
constexpr std::array<ForwardTile<T>, S::rows * S::vectors> forward_tiles(
    std::index_sequence<I...> /*(v - 1) * rows + r - 1*/) {
  return {&forward_tile<S, I % S::rows + 1, I / S::rows + 1, A, T>...};
}

template <class S, class T>
ForwardKernel<T> forward_kernel() {
  constexpr auto all = std::make_index_sequence<S::rows * S::vectors>{};
  static constexpr auto tiles = forward_tiles<S, Activation::none, T>(all);
  static constexpr auto relu_tiles = forward_tiles<S, Activation::relu, T>(all);
  return {.rows = S::rows,
          .vectors = S::vectors,
          .pixels = S::pixels,
          .table = tiles.data(),
          .relu_table = relu_tiles.data()};
}

// sums[r * Taps + s] = the sum over images n < count and q in [0, length) of
// d[n * d_image + r * length + q] * x[n * x_image + offsets[s] + q]: Rows channels of delta
// against Taps runs of the padded images, folded across the lanes once for them all.
template <std::size_t Rows, std::size_t Taps, class T>
void weight_grad_tile(std::size_t count, std::size_t length, const T* __restrict d,
                      std::size_t d_image, const T* __restrict x, std::size_t x_image,
                      const std::size_t* __restrict offsets, T* __restrict sums) {
  constexpr std::size_t lanes = Vec<T>::size;
  Vec<T> acc[Rows * Taps];
  for (auto& v : acc) v = Vec<T>(T(0));
  for (std::size_t n = 0; n < count; ++n, d += d_image, x += x_image) {
    const T* runs[Taps];
    for (std::size_t s = 0; s < Taps; ++s) runs[s] = x + offsets[s];
    for (std::size_t q = 0; q < length; q += lanes) {
      Vec<T> dv[Rows];
      for (std::size_t r = 0; r < Rows; ++r) dv[r] = Vec<T>::load_aligned(d + r * length + q);
      for (std::size_t s = 0; s < Taps; ++s) {
        const Vec<T> xv = in_register(Vec<T>::load_unaligned(runs[s] + q));
        for (std::size_t r = 0; r < Rows; ++r) {
          acc[r * Taps + s] = xsimd::fma(dv[r], xv, acc[r * Taps + s]);
        }
      }
    }
  }
  // One reduction per accumulator: xsimd 8.1's AVX-512 haddp, which would fold sixteen at once,
  // returns some of its sums in the wrong lanes.
  // GCC 12 takes the undefined upper half of an AVX-512 extraction inside hadd for an
  // uninitialised read; it is never used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  for (std::size_t i = 0; i < Rows * Taps; ++i) sums[i] = xsimd::hadd(acc[i]);
#pragma GCC diagnostic pop
}

template <class T>
using GradTile = void (*)(std::size_t, std::size_t, const T*, std::size_t, const T*, std::size_t,
                          const std::size_t*, T*);

// weight_grad_tile for grad_shapes[i].
template <class T>
GradTile<T> grad_tile(std::size_t i) {
  static constexpr auto tiles = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<GradTile<T>, sizeof...(I)>{
        &weight_grad_tile<grad_shapes[I].rows, grad_shapes[I].taps, T>...};
  }
  (std::make_index_sequence<grad_shapes.size()>{});
  return tiles[i];
}

// The weight-gradient tile for a layer, as an index into grad_shapes: the least work with
// channels and taps padded to whole tiles; the larger tile on a tie (fewer loads per FMA).
std::size_t grad_shape_for(std::size_t out_channels, std::size_t taps) {
  auto work = [&](GradShape t) { return round_up(out_channels, t.rows) * round_up(taps, t.taps); };
  auto size = [](GradShape t) { return t.rows * t.taps; };
  std::size_t best = 0;
  for (std::size_t i = 1; i < grad_shapes.size(); ++i) {
    const GradShape t = grad_shapes[i];
    const GradShape b = grad_shapes[best];
    if (work(t) < work(b) || (work(t) == work(b) && size(t) > size(b))) best = i;
  }
  return best;
}

// The weight gradient's buffers for one image: the padded image and delta on the grid, in
// whole vectors, so that every image's start is aligned; and how many images a group holds.
template <class T>
struct GradLayout {
  GradLayout(const ConvGeometry& g, std::size_t out_channels)
      : length(round_up(grid_pixels(g), Vec<T>::size)),
        padded(round_up(padded_buffer(g, length), Vec<T>::size)),
        shape(grad_shape_for(out_channels, g.col_rows())),
        tile_rows(grad_shapes[shape].rows),
        tile_taps(grad_shapes[shape].taps),
        channel_rows(round_up(out_channels, tile_rows)),
        grid(channel_rows * length),
        group(std::max<std::size_t>(1, group_bytes / ((padded + grid) * sizeof(T)))) {}

  // Images are taken in groups whose padded copies and grids fit in 256 KB (a Zen 3 L2 holds
  // 512): each sum is folded across the lanes once per group, not once per image. That fold was
  // 45% of the work on LeNet-5's second layer (10x10 outputs: 9 vectors per image); where a
  // group holds one image (mnist_cnn's second layer: 32 channels of 28x28 and 64 of delta),
  // im2col + GEMM was faster (10 against 15 ms).
  static constexpr std::size_t group_bytes = std::size_t{256} << 10;

  std::size_t length;        // grid pixels, in whole vectors
  std::size_t padded;        // a padded image
  std::size_t shape;         // the register tile, grad_shapes[shape]
  std::size_t tile_rows;     // its channels
  std::size_t tile_taps;     // its taps
  std::size_t channel_rows;  // delta's channels, in whole register tiles
  std::size_t grid;          // delta of one image on the grid
  std::size_t group;         // images per group
};

}  // namespace

template <class T>
void pad_image(const ConvGeometry& g, const T* image, std::size_t buffer_size, T* padded) {
  if (g.pad_h == 0 && g.pad_w == 0) {  // the image is its padded planes: one run
    std::copy_n(image, g.image_size(), padded);
    std::fill(padded + g.image_size(), padded + buffer_size, T(0));
    return;
  }
  std::fill_n(padded, buffer_size, T(0));
  const std::size_t row = g.padded_row();
  for (std::size_t c = 0; c < g.channels; ++c) {
    T* plane = padded + c * g.padded_plane() + g.pad_h * row + g.pad_w;
    for (std::size_t y = 0; y < g.height; ++y) {
      copy_row(image + (c * g.height + y) * g.width, g.width, plane + y * row, g.width);
    }
  }
}

bool shifted_conv_applies(const ConvGeometry& g) {
  if (g.stride_h != 1 || g.stride_w != 1 || g.cols_are_image()) return false;
  std::size_t columns = 0;  // the column matrix's size, which the padded image must not exceed
  if (__builtin_mul_overflow(g.col_rows(), g.col_cols(), &columns) || columns == 0) return false;
  const std::size_t row = g.padded_row();
  const std::size_t height = g.height + 2 * g.pad_h;
  return row <= columns / height && g.channels <= columns / (row * height);
}

template <class T>
bool shifted_weight_grad_applies(const ConvGeometry& g, std::size_t out_channels) {
  return shifted_conv_applies(g) && GradLayout<T>(g, out_channels).group >= 2;
}

template <class T>
ForwardKernel<T> forward_kernel(std::size_t out_channels) {
  using Narrow = typename Tiles<T>::narrow;
  using Wide = typename Tiles<T>::wide;
  return out_channels <= Narrow::rows ? forward_kernel<Narrow, T>() : forward_kernel<Wide, T>();
}

template <class T>
std::vector<T> pack_forward_weight(const T* weight, std::size_t out_channels, std::size_t taps,
                                   std::size_t rows) {
  std::vector<T> packed(round_up(out_channels, rows) * taps, T(0));
  for (std::size_t o = 0; o < out_channels; ++o) {
    T* block = packed.data() + o / rows * rows * taps + o % rows;
    for (std::size_t t = 0; t < taps; ++t) block[t * rows] = weight[o * taps + t];
  }
  return packed;
}

template <class T>
ShiftedForward<T>::ShiftedForward(const ConvGeometry& g, std::size_t out_channels, const T* weight)
    : g_(g),
      out_channels_(out_channels),
      offsets_(tap_offsets(g)),
      kernel_(forward_kernel<T>(out_channels)),
      packed_(pack_forward_weight(weight, out_channels, taps(g), kernel_.rows)) {
  // Which grid pixels of each block are output pixels: x < out_w, and inside the grid.
  const std::size_t pixels = kernel_.pixels;
  const std::size_t row = g.padded_row();
  std::size_t to = 0;
  for (std::size_t first = 0; first < grid_pixels(g); first += pixels) {
    BlockStore block;
    block.to = to;
    for (std::size_t i = 0; i < pixels; ++i) {
      const std::size_t q = first + i;
      if (q < grid_pixels(g) && q % row < g.out_w) {
        block.valid |= std::uint64_t{1} << i;
        ++to;
      }
    }
    blocks_.push_back(block);
  }
}

template <class T>
void ShiftedForward<T>::run(const T* image, const T* bias, T* out, bool parallel,
                            Activation activation) const {
  const std::size_t blocks = blocks_.size();
  const std::size_t pixels = kernel_.pixels;
  const std::size_t rows_per_tile = kernel_.rows;
  const std::size_t buffer = padded_buffer(g_, blocks * pixels);
  Scratch<T> padded(buffer);
  pad_image(g_, image, buffer, padded.data());
  const std::size_t k = taps(g_);
  const std::size_t plane = g_.out_h * g_.out_w;

  auto run_blocks = [&](std::size_t begin, std::size_t end) {
    for (std::size_t b = begin; b < end; ++b) {
      const T* x = padded.data() + b * pixels;
      for (std::size_t o = 0; o < out_channels_; o += rows_per_tile) {
        const std::size_t rows = std::min(rows_per_tile, out_channels_ - o);
        kernel_.tile(rows, activation)(k, offsets_.data(), packed_.data() + o * k, x, blocks_[b],
                                       bias ? bias + o : nullptr, out + o * plane, plane);
      }
    }
  };
  const std::size_t flops = std::max<std::size_t>(1, 2 * out_channels_ * k * pixels);
  parallel_for_if(parallel, blocks, std::max<std::size_t>(1, flops_per_task / flops), run_blocks);
}

template <class T>
ShiftedWeightGrad<T>::ShiftedWeightGrad(const ConvGeometry& g, std::size_t out_channels)
    : g_(g), out_channels_(out_channels), offsets_(tap_offsets(g)) {
  offsets_.resize(round_up(offsets_.size(), GradLayout<T>(g, out_channels).tile_taps), 0);
}

template <class T>
void ShiftedWeightGrad<T>::add(std::size_t count, const T* delta, const T* images, T* grad_weight,
                               bool parallel) const {
  const std::size_t row = g_.padded_row();
  const GradLayout<T> layout(g_, out_channels_);
  const std::size_t length = layout.length;
  const std::size_t buffer = layout.padded;
  const std::size_t channel_rows = layout.channel_rows;
  const std::size_t grid_size = layout.grid;
  const std::size_t group = std::min(layout.group, count);
  Scratch<T, 0> padded(group * buffer);
  Scratch<T, 1> grid(group * grid_size);
  const std::size_t k = taps(g_);
  const std::size_t delta_size = out_channels_ * g_.out_h * g_.out_w;

  for (std::size_t first = 0; first < count; first += group) {
    const std::size_t images_here = std::min(group, count - first);
    for (std::size_t n = 0; n < images_here; ++n) {
      pad_image(g_, images + (first + n) * g_.image_size(), buffer, padded.data() + n * buffer);
      // delta on the grid, zero where the grid has no output pixel (so the image values read
      // there add nothing), in whole tiles of channels. Each value written once: zeroing the
      // whole grid first was a tenth of mnist_cnn's first-layer weight gradient.
      T* to = grid.data() + n * grid_size;
      const T* from = delta + (first + n) * delta_size;
      for (std::size_t o = 0; o < out_channels_; ++o, to += length) {
        // The last row's zeros run on to the end of the channel's whole vectors.
        for (std::size_t y = 0; y < g_.out_h; ++y) {
          const std::size_t width = y + 1 < g_.out_h ? row : length - y * row;
          copy_row(from + (o * g_.out_h + y) * g_.out_w, g_.out_w, to + y * row, width);
        }
      }
      std::fill(to, grid.data() + (n + 1) * grid_size, T(0));
    }
    const std::size_t tile_rows = layout.tile_rows;
    const std::size_t tile_taps = layout.tile_taps;
    const GradTile<T> weight_grad = grad_tile<T>(layout.shape);
    auto run_channels = [&](std::size_t begin, std::size_t end) {
      alignas(64) T sums[max_grad_tile];
      for (std::size_t tile = begin; tile < end; ++tile) {
        const std::size_t o = tile * tile_rows;
        const std::size_t rows = std::min(tile_rows, out_channels_ - o);
        for (std::size_t t = 0; t < k; t += tile_taps) {
          weight_grad(images_here, length, grid.data() + o * length, grid_size, padded.data(),
                      buffer, offsets_.data() + t, sums);
          const std::size_t cols = std::min(tile_taps, k - t);
          for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t s = 0; s < cols; ++s) {
              grad_weight[(o + r) * k + t + s] += sums[r * tile_taps + s];
            }
          }
        }
      }
    };
    const std::size_t channel_tiles = channel_rows / tile_rows;
    parallel_for_if(parallel, channel_tiles, 1, run_channels);
  }
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, which cannot be parenthesised.
#define TG_INSTANTIATE_SHIFTED_CONV(T)                                                             \
  template bool shifted_weight_grad_applies<T>(const ConvGeometry&, std::size_t);                  \
  template void pad_image<T>(const ConvGeometry&, const T*, std::size_t, T*);                      \
  template ForwardKernel<T> forward_kernel<T>(std::size_t);                                        \
  template std::vector<T> pack_forward_weight<T>(const T*, std::size_t, std::size_t, std::size_t); \
  template class ShiftedForward<T>;                                                                \
  template class ShiftedWeightGrad<T>;
TG_INSTANTIATE_SHIFTED_CONV(float)
TG_INSTANTIATE_SHIFTED_CONV(double)
// NOLINTEND(bugprone-macro-parentheses)
#undef TG_INSTANTIATE_SHIFTED_CONV

}  // namespace tg::kernels
