#include "im2col.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "image_columns.hpp"
#include "lane_numbers.hpp"
#include "shifted_conv.hpp"

namespace tg::kernels {
namespace {

// The outputs o in [begin, end) of a kernel tap whose input position o*stride + offset lies
// inside [0, size); the taps outside it read padding. Computed once per tap so that the inner
// loops carry no bounds checks.
struct Range {
  std::size_t begin;
  std::size_t end;
};

Range valid_outputs(std::ptrdiff_t offset, std::size_t size, std::size_t stride, std::size_t out) {
  const auto s = static_cast<std::ptrdiff_t>(stride);
  const auto n = static_cast<std::ptrdiff_t>(out);
  auto ceil_div = [s](std::ptrdiff_t a) { return a <= 0 ? std::ptrdiff_t{0} : (a + s - 1) / s; };
  const std::ptrdiff_t begin = std::min(n, ceil_div(-offset));
  const std::ptrdiff_t end = std::min(n, ceil_div(static_cast<std::ptrdiff_t>(size) - offset));
  return {static_cast<std::size_t>(begin), static_cast<std::size_t>(std::max(begin, end))};
}

std::ptrdiff_t tap_offset(std::size_t tap, std::size_t dilation, std::size_t pad) {
  return static_cast<std::ptrdiff_t>(tap * dilation) - static_cast<std::ptrdiff_t>(pad);
}

// Calls row_fn(c, row, ys, xs, y_offset, x_offset) for every row of the column matrix, in
// order: channel c, kernel tap (m, k), with its valid output ranges and input offsets.
template <class F>
void for_each_tap(const ConvGeometry& g, F&& row_fn) {
  std::size_t row = 0;
  for (std::size_t c = 0; c < g.channels; ++c) {
    for (std::size_t m = 0; m < g.kernel_h; ++m) {
      const std::ptrdiff_t y_offset = tap_offset(m, g.dilation_h, g.pad_h);
      const Range ys = valid_outputs(y_offset, g.height, g.stride_h, g.out_h);
      for (std::size_t k = 0; k < g.kernel_w; ++k, ++row) {
        const std::ptrdiff_t x_offset = tap_offset(k, g.dilation_w, g.pad_w);
        const Range xs = valid_outputs(x_offset, g.width, g.stride_w, g.out_w);
        row_fn(c, row, ys, xs, y_offset, x_offset);
      }
    }
  }
}

// Index in the channel plane of the input read by output (y, xs.begin), a valid position.
std::size_t first_input(const ConvGeometry& g, std::size_t y, std::ptrdiff_t y_offset, Range xs,
                        std::ptrdiff_t x_offset) {
  const std::ptrdiff_t iy = static_cast<std::ptrdiff_t>(y * g.stride_h) + y_offset;
  const std::ptrdiff_t ix = static_cast<std::ptrdiff_t>(xs.begin * g.stride_w) + x_offset;
  return static_cast<std::size_t>(iy) * g.width + static_cast<std::size_t>(ix);
}

// Short row copies and fills (a row here is 5 to 30 values, where a call to memcpy or memset
// costs more than the work: std::copy and std::fill were a third of im2col's time, and GCC turns a
// plain loop back into those calls). Whole batches, the last one overlapping the one before;
// rows shorter than a batch element by element.
template <class T>
void copy_row(const T* from, std::size_t n, T* to) {
  using Batch = xsimd::batch<T>;
  if (n < Batch::size) {
    for (std::size_t i = 0; i < Batch::size; ++i) {
      if (i < n) to[i] = from[i];
    }
    return;
  }
  for (std::size_t i = 0; i + Batch::size < n; i += Batch::size) {
    Batch::load_unaligned(from + i).store_unaligned(to + i);
  }
  Batch::load_unaligned(from + n - Batch::size).store_unaligned(to + n - Batch::size);
}

template <class T>
void zero_row(T* to, std::size_t n) {
  using Batch = xsimd::batch<T>;
  if (n < Batch::size) {
    for (std::size_t i = 0; i < Batch::size; ++i) {
      if (i < n) to[i] = T(0);
    }
    return;
  }
  const Batch zero(T(0));
  for (std::size_t i = 0; i + Batch::size < n; i += Batch::size) zero.store_unaligned(to + i);
  zero.store_unaligned(to + n - Batch::size);
}

// Rows of an aligned ImageColumns copy for `Taps` taps, in vectors of pixels: a vector within one
// output row is one load, one across two rows a select of two loads a padded row's difference
// apart. The taps go five at a time (a compile-time count, their offsets in registers): with a
// loop over all nine of mnist_cnn's first layer, their offsets and the rows' addresses loaded in
// it, the copy from the image took 0.36-0.42 us per image in a harness on a Zen 5; five then four,
// 0.19-0.21.
template <class T>
struct TapVectors {
  const T* source;          // the zero-padded image, with room for every load
  const std::size_t* from;  // the taps' offsets in it
  T* rows;                  // the first tap's row; the others follow, row_stride apart
  std::size_t row_stride;
  std::size_t pixels;    // P
  std::size_t out_w;     // >= the vector's lanes
  std::size_t next_row;  // from the end of an output row to the next one's start, in the source
};

template <std::size_t Taps, class T>
void copy_tap_vectors(const TapVectors<T>& c) {
  using Vec = xsimd::batch<T>;
  constexpr std::size_t lanes = Vec::size;
  const Vec lane = lane_numbers<T>();
  // Locals: a vector store may alias anything, so c's fields would be loaded again after each.
  const std::size_t row_stride = c.row_stride;
  const std::size_t out_w = c.out_w;
  const std::size_t next_row = c.next_row;
  std::array<std::size_t, Taps> from{};
  std::copy_n(c.from, Taps, from.begin());
  const T* in = c.source;    // the vector's first pixel, for tap 0
  std::size_t x = 0;         // its output column
  Vec room = Vec(T(out_w));  // the vector's lanes in its first pixel's output row
  T* const end = c.rows + c.pixels;
  for (T* out = c.rows; out < end; out += lanes) {
    if (x + lanes <= out_w) {  // 6 of 13 in mnist_cnn's first layer
      for (std::size_t t = 0; t < Taps; ++t) {
        Vec::load_unaligned(in + from[t]).store_aligned(out + t * row_stride);
      }
    } else {
      const auto in_row = lane < room;
      for (std::size_t t = 0; t < Taps; ++t) {
        const T* tap = in + from[t];
        xsimd::select(in_row, Vec::load_unaligned(tap), Vec::load_unaligned(tap + next_row))
            .store_aligned(out + t * row_stride);
      }
    }
    // out_w >= lanes: the next vector starts at most one output row further.
    x += lanes;
    in += lanes;
    room -= Vec(T(lanes));
    if (x >= out_w) {
      x -= out_w;
      in += next_row;
      room += Vec(T(out_w));
    }
  }
}

constexpr std::size_t taps_per_pass = 5;

// copy_tap_vectors for `taps` <= taps_per_pass taps.
template <class T>
void copy_tap_vectors(std::size_t taps, const TapVectors<T>& c) {
  static constexpr auto table = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<void (*)(const TapVectors<T>&), sizeof...(I)>{&copy_tap_vectors<I + 1, T>...};
  }
  (std::make_index_sequence<taps_per_pass>{});
  table[taps - 1](c);
}

}  // namespace

template <class T>
void im2col(const ConvGeometry& g, const T* image, T* cols, std::size_t row_stride) {
  const std::size_t plane = g.height * g.width;
  for_each_tap(g, [&](std::size_t c, std::size_t row, Range ys, Range xs, std::ptrdiff_t y_offset,
                      std::ptrdiff_t x_offset) {
    T* dst = cols + row * row_stride;
    std::fill(dst, dst + ys.begin * g.out_w, T(0));
    std::fill(dst + ys.end * g.out_w, dst + g.col_cols(), T(0));
    if (xs.begin == xs.end) {
      std::fill(dst + ys.begin * g.out_w, dst + ys.end * g.out_w, T(0));
      return;
    }
    // The output rows that read the image: padding on their left and right (often none: the
    // calls are skipped, they were a third of LeNet-5's im2col), and one run of the image row
    // between, which advances by stride_h image rows per output row.
    const std::size_t n = xs.end - xs.begin;
    const std::size_t right = g.out_w - xs.end;
    const T* src = image + c * plane;
    if (ys.begin < ys.end) src += first_input(g, ys.begin, y_offset, xs, x_offset);
    for (std::size_t y = ys.begin; y < ys.end; ++y, src += g.stride_h * g.width) {
      T* out = dst + y * g.out_w;
      if (xs.begin > 0) zero_row(out, xs.begin);
      if (right > 0) zero_row(out + xs.end, right);
      if (g.stride_w == 1) {
        copy_row(src, n, out + xs.begin);
      } else {
        for (std::size_t i = 0; i < n; ++i) out[xs.begin + i] = src[i * g.stride_w];
      }
    }
  });
}

template <class T>
void col2im(const ConvGeometry& g, const T* cols, T* image) {
  std::fill(image, image + g.image_size(), T(0));
  const std::size_t plane = g.height * g.width;
  // Rows are added in a fixed order, so each input position gets the same sum every run.
  for_each_tap(g, [&](std::size_t c, std::size_t row, Range ys, Range xs, std::ptrdiff_t y_offset,
                      std::ptrdiff_t x_offset) {
    const T* src_row = cols + row * g.col_cols();
    T* dst_plane = image + c * plane;
    for (std::size_t y = ys.begin; y < ys.end; ++y) {
      if (xs.begin == xs.end) break;
      const T* in = src_row + y * g.out_w + xs.begin;
      T* dst = dst_plane + first_input(g, y, y_offset, xs, x_offset);
      const std::size_t n = xs.end - xs.begin;
      if (g.stride_w == 1) {
        for (std::size_t i = 0; i < n; ++i) dst[i] += in[i];
      } else {
        for (std::size_t i = 0; i < n; ++i) dst[i * g.stride_w] += in[i];
      }
    }
  });
}

template <class T>
void ImageColumns::copy(const T* image, T* cols) const {
  if (!aligned_) {
    im2col(rows_, image, cols, row_stride_);
    return;
  }
  const ConvGeometry& g = rows_;
  T* padded = cols + padded_at_;
  pad_image(g, image, size_ - padded_at_, padded);
  TapVectors<T> c{.source = padded,
                  .from = source_taps_.data(),
                  .rows = cols,
                  .row_stride = row_stride_,
                  .pixels = g.col_cols(),
                  .out_w = g.out_w,
                  .next_row = g.stride_h * g.padded_row() - g.out_w};
  // Five taps at a time, the last pass taking the rest: 9 = 5 + 4.
  for (std::size_t t = 0; t < taps_.size(); t += taps_per_pass) {
    c.from = source_taps_.data() + t;
    c.rows = cols + taps_[t];
    copy_tap_vectors(std::min(taps_per_pass, taps_.size() - t), c);
  }
}

template void im2col<float>(const ConvGeometry&, const float*, float*, std::size_t);
template void im2col<double>(const ConvGeometry&, const double*, double*, std::size_t);
template void col2im<float>(const ConvGeometry&, const float*, float*);
template void col2im<double>(const ConvGeometry&, const double*, double*);
template void ImageColumns::copy<float>(const float*, float*) const;
template void ImageColumns::copy<double>(const double*, double*) const;

}  // namespace tg::kernels
