#include "direct_conv.hpp"

#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "parallel.hpp"
#include "scratch.hpp"
#include "shifted_conv.hpp"

namespace tg::kernels {
namespace {

template <class T>
using Vec = xsimd::batch<T>;

// The widest kernel row, and the most output pixels of a segment, that the register tile holds:
// P accumulators, kernel_w weight vectors and a broadcast (AVX-512: 32 registers; AVX2: 16).
// With AVX-512 a segment of up to pair_max_segment pixels covers two output rows at once: the
// weight vectors serve both, and twice the accumulators hide the FMAs' latency (each takes
// kernel_w FMAs in a row per kernel row): LeNet-5's second layer, 10 pixels wide, 3-5% faster.
constexpr std::size_t max_kernel_w = 7;
#if defined(__AVX512F__)
constexpr std::size_t registers = 32;
constexpr std::size_t max_segment = 16;
constexpr std::size_t pair_max_segment = 12;
#else
constexpr std::size_t registers = 16;
constexpr std::size_t max_segment = 8;
constexpr std::size_t pair_max_segment = 1;
#endif
// Below this many taps the transposes at the end outweigh the saving: mnist_cnn's first layer
// (9 taps) took 2-3.7x oneDNN's time here (with the transposes in scalar code then), against
// 1.1-1.2x on the shifted kernel.
constexpr std::size_t min_taps = 32;

// Whether R rows of P pixels fit the registers: R * P accumulators, KW weights, a broadcast.
constexpr bool fits(std::size_t rows, std::size_t kernel_w, std::size_t pixels) {
  return rows * pixels + kernel_w + 1 <= registers;
}

// sums[r * max_segment + p][lane] = activation(bias[lane] + the sum over c < channels,
// m < kernel_h, k < KW of w[c][m][k][lane] * x[c * plane + (m + r) * row + p + k]): P output
// pixels of R consecutive rows of `lanes` output channels.
template <class T, std::size_t R, std::size_t KW, std::size_t P>
void segment(std::size_t channels, std::size_t kernel_h, const T* __restrict x, std::size_t row,
             std::size_t plane, const T* __restrict w, Vec<T> bias, Activation activation,
             T* __restrict sums) {
  constexpr std::size_t lanes = Vec<T>::size;
  static_assert(fits(R, KW, P), "the tile must fit the registers");
  Vec<T> acc[R][P];
  for (auto& accs : acc) {
    for (auto& a : accs) a = Vec<T>(T(0));
  }
  for (std::size_t c = 0; c < channels; ++c) {
    for (std::size_t m = 0; m < kernel_h; ++m, w += KW * lanes) {
      Vec<T> wk[KW];
      for (std::size_t k = 0; k < KW; ++k) wk[k] = Vec<T>::load_unaligned(w + k * lanes);
      const T* in = x + c * plane + m * row;
      // Input pixel i feeds output pixel i - k through weight k: fully unrolled, so that every
      // index is a constant and the accumulators stay in registers. An accumulator takes an FMA
      // from each of KW pixels in a row, each waiting for the last: the rows take turns pixel by
      // pixel, so that one row's FMAs run while the other's wait (one row after the other, the
      // pass ran at two thirds of the FMAs' throughput on an Intel Xeon).
#pragma GCC unroll 32
      for (std::size_t i = 0; i < P + KW - 1; ++i) {
#pragma GCC unroll 2
        for (std::size_t r = 0; r < R; ++r) {
          const Vec<T> xi(in[r * row + i]);
#pragma GCC unroll 8
          for (std::size_t k = 0; k < KW; ++k) {
            if (i >= k && i - k < P) acc[r][i - k] = xsimd::fma(wk[k], xi, acc[r][i - k]);
          }
        }
      }
    }
  }
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t p = 0; p < P; ++p) {
      activate(activation, acc[r][p] + bias).store_aligned(sums + (r * max_segment + p) * lanes);
    }
  }
}

template <class T>
using Segment = void (*)(std::size_t, std::size_t, const T*, std::size_t, std::size_t, const T*,
                         Vec<T>, Activation, T*);

// segment<T, R, KW, P> at (KW - 1) * Pixels + P - 1, for P up to Pixels.
template <class T, std::size_t R, std::size_t Pixels, std::size_t... I>
constexpr std::array<Segment<T>, max_kernel_w * Pixels> segments(
    std::index_sequence<I...> /*(KW - 1) * Pixels + P - 1*/) {
  return {&segment<T, R, I / Pixels + 1, I % Pixels + 1>...};
}

// The segment of `rows` (1, or 2 if pixels <= pair_max_segment) rows.
template <class T>
Segment<T> segment_for(std::size_t rows, std::size_t kernel_w, std::size_t pixels) {
  static constexpr auto one =
      segments<T, 1, max_segment>(std::make_index_sequence<max_kernel_w * max_segment>{});
  static constexpr auto two =
      segments<T, 2, pair_max_segment>(std::make_index_sequence<max_kernel_w * pair_max_segment>{});
  return rows == 2 ? two[(kernel_w - 1) * pair_max_segment + pixels - 1]
                   : one[(kernel_w - 1) * max_segment + pixels - 1];
}

// to[lane * to_stride + p] = sums[p * lanes + lane] for p < pixels and every lane: a segment's
// sums, one vector of channels per pixel, into the channels' output rows. Float with AVX-512:
// sixteen rows through a 16 x 16 transpose in registers (four rounds of shuffles), then a
// masked store per channel; one scalar load and store per value took a ninth of LeNet-5's
// second-layer forward.
template <class T>
void transpose_segment(const T* sums, std::size_t pixels, T* to, std::size_t to_stride) {
  constexpr std::size_t lanes = Vec<T>::size;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && lanes == 16) {
    // GCC 12 takes the undefined pass-through operand inside these intrinsics for an
    // uninitialised read; none is used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    __m512 r[16];
    for (std::size_t p = 0; p < 16; ++p) {
      r[p] = p < pixels ? _mm512_load_ps(sums + p * lanes) : _mm512_setzero_ps();
    }
    __m512 t[16];
    for (std::size_t i = 0; i < 16; i += 2) {  // pairs of rows, interleaved by element
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (std::size_t i = 0; i < 16; i += 4) {  // then by pairs of elements
      for (std::size_t j = 0; j < 2; ++j) {
        r[i + 2 * j] = _mm512_shuffle_ps(t[i + j], t[i + j + 2], 0x44);
        r[i + 2 * j + 1] = _mm512_shuffle_ps(t[i + j], t[i + j + 2], 0xEE);
      }
    }
    for (std::size_t i = 0; i < 16; i += 8) {  // then by 128-bit lanes, twice
      for (std::size_t j = 0; j < 4; ++j) {
        t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
        t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xDD);
      }
    }
    for (std::size_t j = 0; j < 8; ++j) {
      r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
      r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xDD);
    }
    // Row `lane` now holds channel lane's sixteen pixels.
    const auto mask = static_cast<__mmask16>((1U << pixels) - 1);
    for (std::size_t lane = 0; lane < 16; ++lane) {
      _mm512_mask_storeu_ps(to + lane * to_stride, mask, r[lane]);
    }
#pragma GCC diagnostic pop
    return;
  }
#endif
  for (std::size_t lane = 0; lane < lanes; ++lane) {
    for (std::size_t p = 0; p < pixels; ++p) to[lane * to_stride + p] = sums[p * lanes + lane];
  }
}

}  // namespace

template <class T>
bool direct_forward_applies(const ConvGeometry& g, std::size_t out_channels) {
  return g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 && g.dilation_w == 1 &&
         out_channels > 0 && out_channels % Vec<T>::size == 0 && g.kernel_w <= max_kernel_w &&
         g.col_rows() >= min_taps && g.out_w > 0 && shifted_conv_applies(g);
}

template <class T>
DirectForward<T>::DirectForward(const ConvGeometry& g, std::size_t out_channels, const T* weight)
    : g_(g), out_channels_(out_channels), packed_(out_channels * g.col_rows()) {
  constexpr std::size_t lanes = Vec<T>::size;
  const std::size_t taps = g.col_rows();
  for (std::size_t o = 0; o < out_channels; ++o) {
    for (std::size_t t = 0; t < taps; ++t) {
      packed_[(o / lanes * taps + t) * lanes + o % lanes] = weight[o * taps + t];
    }
  }
}

template <class T>
void DirectForward<T>::run(const T* image, const T* bias, T* out, bool parallel,
                           Activation activation) const {
  constexpr std::size_t lanes = Vec<T>::size;
  const std::size_t row = g_.padded_row();
  const std::size_t plane = g_.padded_plane();
  // Without padding the image is read where it lies (the copy was 5% of LeNet-5's second layer).
  const bool pad = g_.pad_h > 0 || g_.pad_w > 0;
  const std::size_t buffer = pad ? g_.channels * plane : 0;
  Scratch<T> padded(buffer);
  if (pad) pad_image(g_, image, buffer, padded.data());
  const T* x = pad ? padded.data() : image;
  const std::size_t taps = g_.col_rows();
  const std::size_t out_plane = g_.out_h * g_.out_w;
  // Each row in segments of equal size (the last may be smaller), two rows at a time where the
  // registers hold them.
  const std::size_t pieces = (g_.out_w + max_segment - 1) / max_segment;
  const std::size_t width = (g_.out_w + pieces - 1) / pieces;
  const std::size_t pair = width <= pair_max_segment && fits(2, g_.kernel_w, width) ? 2 : 1;
  const std::size_t row_groups = (g_.out_h + pair - 1) / pair;

  // Work item: `pair` output rows (or the last one) of one channel vector.
  auto run_rows = [&](std::size_t begin, std::size_t end) {
    alignas(64) T sums[2 * max_segment * lanes];
    for (std::size_t item = begin; item < end; ++item) {
      const std::size_t vector = item / row_groups;
      const std::size_t y = item % row_groups * pair;
      const std::size_t rows = std::min(pair, g_.out_h - y);
      const T* w = packed_.data() + vector * taps * lanes;
      // Bias and activation on whole vectors as the segment stores its sums (a select per value
      // in the transpose would be a branch, mispredicted on the random signs).
      const Vec<T> b = bias ? Vec<T>::load_unaligned(bias + vector * lanes) : Vec<T>(T(0));
      for (std::size_t x0 = 0; x0 < g_.out_w; x0 += width) {
        const std::size_t pixels = std::min(width, g_.out_w - x0);
        segment_for<T>(rows, g_.kernel_w, pixels)(g_.channels, g_.kernel_h, x + y * row + x0, row,
                                                  plane, w, b, activation, sums);
        for (std::size_t r = 0; r < rows; ++r) {
          transpose_segment(sums + r * max_segment * lanes, pixels,
                            out + vector * lanes * out_plane + (y + r) * g_.out_w + x0, out_plane);
        }
      }
    }
  };
  const std::size_t items = out_channels_ / lanes * row_groups;
  const std::size_t flops = std::max<std::size_t>(1, 2 * lanes * taps * g_.out_w * pair);
  parallel_for_if(parallel, items, std::max<std::size_t>(1, flops_per_task / flops), run_rows);
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, which cannot be parenthesised.
#define TG_INSTANTIATE_DIRECT_CONV(T)                                        \
  template bool direct_forward_applies<T>(const ConvGeometry&, std::size_t); \
  template class DirectForward<T>;
TG_INSTANTIATE_DIRECT_CONV(float)
TG_INSTANTIATE_DIRECT_CONV(double)
// NOLINTEND(bugprone-macro-parentheses)
#undef TG_INSTANTIATE_DIRECT_CONV

}  // namespace tg::kernels
