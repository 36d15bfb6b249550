#pragma once
// One image's im2col matrix as the column kernels (column_forward.hpp, column_weight_grad.hpp)
// read it: K = C_in*kH*kW rows of P = out_h*out_w columns, each tap's row a contiguous run of P
// values in output-pixel order. With stride_h 1, the rows of taps (c, m, k) for m = 0, 1, ... are
// one run of image rows copied with tap (c, k)'s horizontal offset and padding, each starting
// m * d_h rows later: im2col of a kernel one row high over the zero-padded height, about a kH-th
// of the copying.
//
// Those shared rows start mid-vector (m * d_h * out_w values into a run), so a kernel that reads
// them in whole vectors loads across cache lines. On a Zen 5 a 512-bit load across two lines
// issues at about half the rate of one within a line: the 2 x 9 weight-gradient tile of mnist_cnn's
// first layer, six of whose nine rows straddled lines, took 3.9 ns per vector of pixels from L1
// against 3.0 with every row aligned (in a harness). TapRows::aligned gives every tap a row of its
// own starting on a cache line, each vector of it made of two loads of a zero-padded copy of the
// image: with stride_w 1 and output rows of at least a vector, a vector's pixels lie in at most two
// output rows, whose runs in the padded image are a fixed distance apart. For mnist_cnn's first
// layer on a Zen 5 that copy takes 0.23-0.24 us per image (8% of the weight gradient's samples in
// perf, a third of it the image's copy into L1), where copying the shared runs with im2col and then
// the rows out of them took 0.36-0.43 us (11%: misaligned stores of short rows, then loads of what
// they had just stored).
#include <algorithm>
#include <cstddef>
#include <vector>

#include "im2col.hpp"
#include "sizes.hpp"

namespace tg::kernels {

enum class TapRows {
  shared,   // the rows as im2col lays them out (with stride_h 1, inside runs they share)
  aligned,  // every tap its own row, starting on a cache line (where ImageColumns::aligns)
};

class ImageColumns {
 public:
  // Whether TapRows::aligned lays out g: a tap at least, stride_w 1 and output rows of at least a
  // vector of the widest kind (16 values), so that no vector of a tap's row spans more than two
  // output rows.
  static bool aligns(const ConvGeometry& g) {
    return g.col_rows() > 0 && g.stride_w == 1 && g.out_w >= line_values;
  }

  // `lanes`: the vector width of the kernel that reads the copy; every row starts on a whole
  // vector of it. TapRows::aligned where aligns(g), else shared rows (see aligned()).
  ImageColumns(const ConvGeometry& g, std::size_t lanes, TapRows tap_rows = TapRows::shared)
      : rows_(g), lanes_(lanes), aligned_(tap_rows == TapRows::aligned && aligns(g)) {
    if (aligned_) {
      row_stride_ = round_up(g.col_cols(), std::max(lanes, line_values));
      for (std::size_t c = 0; c < g.channels; ++c) {
        for (std::size_t m = 0; m < g.kernel_h; ++m) {
          for (std::size_t k = 0; k < g.kernel_w; ++k) {
            taps_.push_back(taps_.size() * row_stride_);
            source_taps_.push_back(c * g.padded_plane() + m * g.dilation_h * g.padded_row() +
                                   k * g.dilation_w);
          }
        }
      }
      padded_at_ = taps_.size() * row_stride_;
      // The furthest a vector reads: the last tap's second load for the last vector, which starts
      // at most out_w - 1 pixels into output row out_h - 1 and reads the row after.
      const std::size_t reach =
          source_taps_.back() + g.out_h * g.stride_h * g.padded_row() + line_values - 1;
      size_ = padded_at_ + std::max(g.channels * g.padded_plane(), reach);
      return;
    }
    if (g.stride_h == 1) {
      rows_.kernel_h = 1;
      rows_.dilation_h = 1;
      rows_.out_h = g.height + 2 * g.pad_h;
    }
    row_stride_ = round_up(rows_.col_cols(), lanes);
    for (std::size_t c = 0; c < g.channels; ++c) {
      for (std::size_t m = 0; m < g.kernel_h; ++m) {
        for (std::size_t k = 0; k < g.kernel_w; ++k) {
          taps_.push_back(g.stride_h == 1
                              ? (c * g.kernel_w + k) * row_stride_ + m * g.dilation_h * g.out_w
                              : taps_.size() * row_stride_);
        }
      }
    }
    size_ = rows_.col_rows() * row_stride_;
  }

  // The values the copy writes that a kernel reads (its size, less the gaps that round each run
  // to whole vectors and, if aligned, less the padded image).
  std::size_t copied() const { return rows() * rows_.col_cols(); }
  // The copy's size.
  std::size_t size() const { return size_; }
  // Where each tap's row of P columns starts in the copy.
  const std::vector<std::size_t>& taps() const { return taps_; }
  // The vector width the copy was laid out for.
  std::size_t lanes() const { return lanes_; }
  // Whether every tap has its own row (TapRows::aligned).
  bool aligned() const { return aligned_; }

  // Copies `image` into cols [size()], on a 64-byte boundary; the gaps after each run are left as
  // they were (aligned: they get values of the image, which no kernel reads). In im2col.cpp, whose
  // build keeps the machine's AVX-512 where its callers' may not.
  template <class T>
  void copy(const T* image, T* cols) const;

  // Zeroes the gaps after each run, which copy does not.
  template <class T>
  void zero_gaps(T* cols) const {
    for (std::size_t r = 0; r < rows(); ++r) {
      std::fill(cols + r * row_stride_ + rows_.col_cols(), cols + (r + 1) * row_stride_, T(0));
    }
  }

 private:
  // A 64-byte cache line of floats: a whole number of vectors of any width, of floats or doubles,
  // for the kernel reading the copy and for the copy itself (im2col.cpp's, which may be wider).
  static constexpr std::size_t line_values = 16;

  // The runs copied: shared runs, or the taps' own rows.
  std::size_t rows() const { return aligned_ ? taps_.size() : rows_.col_rows(); }

  ConvGeometry rows_;  // the geometry im2col copies the image with (shared), or g (aligned)
  std::size_t lanes_;
  bool aligned_;
  std::size_t row_stride_ = 0;  // between runs
  std::size_t padded_at_ = 0;   // aligned: where the zero-padded image goes, after the rows
  std::size_t size_ = 0;
  std::vector<std::size_t> taps_;
  std::vector<std::size_t> source_taps_;  // aligned: each tap's offset in the padded image
};

}  // namespace tg::kernels
