#include "direct_conv.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "parallel.hpp"
#include "scratch.hpp"
#include "shifted_conv.hpp"

namespace tg::kernels {
namespace {

template <class T>
using Vec = xsimd::batch<T>;

// The widest kernel row, and the most output pixels of a segment, that the register tile holds:
// P accumulators, kernel_w weight vectors and a broadcast (AVX-512: 32 registers; AVX2: 16).
constexpr std::size_t max_kernel_w = 7;
#if defined(__AVX512F__)
constexpr std::size_t max_segment = 16;
#else
constexpr std::size_t max_segment = 8;
#endif
// Below this many taps the transposes at the end outweigh the saving: mnist_cnn's first layer
// (9 taps) took 2-3.7x oneDNN's time here, against 1.1-1.2x on the shifted kernel.
constexpr std::size_t min_taps = 32;

// sums[p][lane] = the sum over c < channels, m < kernel_h, k < KW of w[c][m][k][lane] *
// x[c * plane + m * row + p + k]: P output pixels of one row of `lanes` output channels.
template <class T, std::size_t KW, std::size_t P>
void segment(std::size_t channels, std::size_t kernel_h, const T* __restrict x, std::size_t row,
             std::size_t plane, const T* __restrict w, T* __restrict sums) {
  constexpr std::size_t lanes = Vec<T>::size;
  Vec<T> acc[P];
  for (auto& a : acc) a = Vec<T>(T(0));
  for (std::size_t c = 0; c < channels; ++c) {
    for (std::size_t m = 0; m < kernel_h; ++m, w += KW * lanes) {
      const T* in = x + c * plane + m * row;
      Vec<T> wk[KW];
      for (std::size_t k = 0; k < KW; ++k) wk[k] = Vec<T>::load_unaligned(w + k * lanes);
        // Input pixel i feeds output pixel i - k through weight k: fully unrolled, so that every
        // index is a constant and the accumulators stay in registers.
#pragma GCC unroll 32
      for (std::size_t i = 0; i < P + KW - 1; ++i) {
        const Vec<T> xi(in[i]);
#pragma GCC unroll 8
        for (std::size_t k = 0; k < KW; ++k) {
          if (i >= k && i - k < P) acc[i - k] = xsimd::fma(wk[k], xi, acc[i - k]);
        }
      }
    }
  }
  for (std::size_t p = 0; p < P; ++p) acc[p].store_aligned(sums + p * lanes);
}

template <class T>
using Segment = void (*)(std::size_t, std::size_t, const T*, std::size_t, std::size_t, const T*,
                         T*);

// segment<T, KW, P> at (KW - 1) * max_segment + P - 1.
template <class T, std::size_t... I>
constexpr std::array<Segment<T>, max_kernel_w * max_segment> segments(
    std::index_sequence<I...> /*(KW - 1) * max_segment + P - 1*/) {
  return {&segment<T, I / max_segment + 1, I % max_segment + 1>...};
}

template <class T>
Segment<T> segment_for(std::size_t kernel_w, std::size_t pixels) {
  static constexpr auto table = segments<T>(std::make_index_sequence<max_kernel_w * max_segment>{});
  return table[(kernel_w - 1) * max_segment + pixels - 1];
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
  // Each row in segments of equal size (the last may be smaller).
  const std::size_t pieces = (g_.out_w + max_segment - 1) / max_segment;
  const std::size_t width = (g_.out_w + pieces - 1) / pieces;

  // Work item: one output row of one channel vector.
  auto run_rows = [&](std::size_t begin, std::size_t end) {
    alignas(64) T sums[max_segment * lanes];
    for (std::size_t item = begin; item < end; ++item) {
      const std::size_t vector = item / g_.out_h;
      const std::size_t y = item % g_.out_h;
      const T* w = packed_.data() + vector * taps * lanes;
      for (std::size_t x0 = 0; x0 < g_.out_w; x0 += width) {
        const std::size_t pixels = std::min(width, g_.out_w - x0);
        segment_for<T>(g_.kernel_w, pixels)(g_.channels, g_.kernel_h, x + y * row + x0, row, plane,
                                            w, sums);
        // Bias and activation on whole vectors (a select per value in the transpose would be
        // a branch, mispredicted on the random signs), then the transpose into the channels'
        // output rows.
        const Vec<T> b = bias ? Vec<T>::load_unaligned(bias + vector * lanes) : Vec<T>(T(0));
        for (std::size_t p = 0; p < pixels; ++p) {
          T* sum = sums + p * lanes;
          activate(activation, Vec<T>::load_aligned(sum) + b).store_aligned(sum);
        }
        for (std::size_t lane = 0; lane < lanes; ++lane) {
          T* to = out + (vector * lanes + lane) * out_plane + y * g_.out_w + x0;
          for (std::size_t p = 0; p < pixels; ++p) to[p] = sums[p * lanes + lane];
        }
      }
    }
  };
  const std::size_t items = out_channels_ / lanes * g_.out_h;
  if (parallel) {
    const std::size_t flops = std::max<std::size_t>(1, 2 * lanes * taps * g_.out_w);
    parallel_for(items, std::max<std::size_t>(1, flops_per_task / flops), run_rows);
  } else {
    run_rows(0, items);
  }
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
