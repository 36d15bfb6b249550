#pragma once
// One image's im2col matrix as the column kernels (column_forward.hpp, column_weight_grad.hpp)
// read it: K = C_in*kH*kW rows of P = out_h*out_w columns, each tap's row a contiguous run of P
// values in output-pixel order. With stride_h 1, the rows of taps (c, m, k) for m = 0, 1, ... are
// one run of image rows copied with tap (c, k)'s horizontal offset and padding, each starting
// m * d_h rows later: im2col of a kernel one row high over the zero-padded height, about a kH-th
// of the copying.
//
// Those shared rows start mid-vector (m * d_h * out_w values into a run), so a kernel that reads
// them in whole vectors loads across cache lines. TapRows::aligned gives each such tap its own
// row, copied from the shared run after it is made and starting on a whole vector. On a Zen 5 a
// 512-bit load across two lines issues at about half the rate of one within a line: the 2 x 9
// weight-gradient tile of mnist_cnn's first layer, six of whose nine rows straddled lines, took
// 3.9 ns per vector of pixels from L1 against 3.0 with every row aligned (in a harness).

#include <algorithm>
#include <cstddef>
#include <vector>

#include "im2col.hpp"
#include "sizes.hpp"

namespace tg::kernels {

enum class TapRows {
  shared,   // the rows as im2col lays them out (with stride_h 1, inside runs they share)
  aligned,  // every tap's row starts on a whole vector, copied out of its run if it does not
};

class ImageColumns {
 public:
  // `lanes`: the copied runs start on whole vectors of that many values.
  ImageColumns(const ConvGeometry& g, std::size_t lanes, TapRows tap_rows = TapRows::shared)
      : rows_(g), lanes_(lanes), pixels_(g.col_cols()), own_row_stride_(round_up(pixels_, lanes)) {
    if (g.stride_h == 1) {
      rows_.kernel_h = 1;
      rows_.dilation_h = 1;
      rows_.out_h = g.height + 2 * g.pad_h;
    }
    row_stride_ = round_up(rows_.col_cols(), lanes);
    std::size_t end = rows_.col_rows() * row_stride_;  // after the shared runs
    for (std::size_t c = 0; c < g.channels; ++c) {
      for (std::size_t m = 0; m < g.kernel_h; ++m) {
        for (std::size_t k = 0; k < g.kernel_w; ++k) {
          std::size_t tap = g.stride_h == 1
                                ? (c * g.kernel_w + k) * row_stride_ + m * g.dilation_h * g.out_w
                                : taps_.size() * row_stride_;
          if (tap_rows == TapRows::aligned && tap % lanes != 0) {
            own_rows_.push_back({.from = tap, .to = end});
            tap = end;
            end += own_row_stride_;
          }
          taps_.push_back(tap);
        }
      }
    }
    size_ = end;
  }

  // The values the copy writes (its size, less the gaps that round each run to whole vectors).
  std::size_t copied() const {
    return rows_.col_rows() * rows_.col_cols() + own_rows_.size() * pixels_;
  }
  // The copy's size.
  std::size_t size() const { return size_; }
  // Where each tap's row of P columns starts in the copy.
  const std::vector<std::size_t>& taps() const { return taps_; }
  // The vector width the copy was laid out for.
  std::size_t lanes() const { return lanes_; }
  // How many taps have their own row (TapRows::aligned, for those whose shared row is not).
  std::size_t own_rows() const { return own_rows_.size(); }

  // Copies `image` into cols [size()]; the gaps after each run are left as they were. In
  // im2col.cpp, whose build keeps the machine's AVX-512 where its callers' may not.
  template <class T>
  void copy(const T* image, T* cols) const;

  // Zeroes the gaps after each run, which copy leaves as they were.
  template <class T>
  void zero_gaps(T* cols) const {
    for (std::size_t r = 0; r < rows_.col_rows(); ++r) {
      std::fill(cols + r * row_stride_ + rows_.col_cols(), cols + (r + 1) * row_stride_, T(0));
    }
    for (const OwnRow& row : own_rows_) {
      std::fill(cols + row.to + pixels_, cols + row.to + own_row_stride_, T(0));
    }
  }

 private:
  // A tap's own row at `to`, a copy of the P values at `from` in a shared run.
  struct OwnRow {
    std::size_t from;
    std::size_t to;
  };

  ConvGeometry rows_;  // the geometry im2col copies the image with
  std::size_t lanes_;
  std::size_t pixels_;          // P
  std::size_t own_row_stride_;  // P rounded up to whole vectors
  std::size_t row_stride_ = 0;  // between shared runs
  std::size_t size_ = 0;
  std::vector<std::size_t> taps_;
  std::vector<OwnRow> own_rows_;
};

}  // namespace tg::kernels
