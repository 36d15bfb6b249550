#pragma once
// One image's im2col matrix as the column kernels (column_forward.hpp, column_weight_grad.hpp)
// read it: K = C_in*kH*kW rows of P = out_h*out_w columns, each tap's row a contiguous run of P
// values in output-pixel order. With stride_h 1, the rows of taps (c, m, k) for m = 0, 1, ... are
// one run of image rows copied with tap (c, k)'s horizontal offset and padding, each starting
// m * d_h rows later: im2col of a kernel one row high over the zero-padded height, about a kH-th
// of the copying.

#include <algorithm>
#include <cstddef>
#include <vector>

#include "im2col.hpp"
#include "sizes.hpp"

namespace tg::kernels {

class ImageColumns {
 public:
  // `lanes`: the copied runs start on whole vectors of that many values.
  ImageColumns(const ConvGeometry& g, std::size_t lanes) : rows_(g) {
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
  }

  // The values the copy writes (its size, less the gaps that round each run to whole vectors).
  std::size_t copied() const { return rows_.col_rows() * rows_.col_cols(); }
  // The copy's size, and the end of its last run.
  std::size_t size() const { return rows_.col_rows() * row_stride_; }
  // Where each tap's row of P columns starts in the copy.
  const std::vector<std::size_t>& taps() const { return taps_; }

  // Copies `image` into cols [size()]; the gaps after each run are left as they were.
  template <class T>
  void copy(const T* image, T* cols) const {
    im2col(rows_, image, cols, row_stride_);
  }

  // Zeroes the gaps after each run, which copy leaves as they were.
  template <class T>
  void zero_gaps(T* cols) const {
    for (std::size_t r = 0; r < rows_.col_rows(); ++r) {
      std::fill(cols + r * row_stride_ + rows_.col_cols(), cols + (r + 1) * row_stride_, T(0));
    }
  }

 private:
  ConvGeometry rows_;  // the geometry im2col copies the image with
  std::size_t row_stride_ = 0;
  std::vector<std::size_t> taps_;
};

}  // namespace tg::kernels
