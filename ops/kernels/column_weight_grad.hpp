#pragma once
// The weight gradient of a convolution with few taps per output channel, as dot products along
// the pixels:
//   dW[o, t] = sum over images n and pixels q of delta[n, o, q] * cols_n[t, q],
// cols_n = im2col(image n): K = C_in*kH*kW rows of P = out_h*out_w pixels. delta is read where
// it lies (each channel's plane is a contiguous run of P values); only the image is copied, into
// its K rows (with stride 1, kH rows share one copy). That suits layers where that copy is smaller
// than delta: mnist_cnn's first (9 taps, 32 channels; three 28x26 copies against 32 planes of
// 26x26) and LeNet-5's first (25 taps, 6 channels; five 32x28 copies against six planes of
// 28x28, 0.22 -> 0.18 ms). The shifted kernel copies delta's C_out planes onto its grid
// instead, and the GEMM must transpose delta to pack it. Where delta is the smaller (LeNet-5's
// second layer: 150 taps, 16 channels of 10x10) the shifted kernel was 1.7x faster: its groups
// of images keep their sums in registers, where a plane of 100 pixels here loads and stores its
// tile's partial sums for every 7 vectors of FMAs (6.25 vectors of pixels).
// Where the copy stays within 32 KB with every tap's row starting on a whole vector
// (TapRows::aligned: stride_w 1 and output rows of 16 or more), every tap gets a row of its own,
// so that the tile's loads of whole vectors of the columns never straddle two cache lines (a
// plane's last vector, which overlaps the one before, still may).
//
// A register tile holds rows x taps vectors of partial sums (lane i of one sums the pixels
// q = i mod lanes, but for a plane's partial last vector, which ends at P: there pixel
// P - lanes + i); they wait in a buffer between images and are folded across the lanes once,
// at the end. Each output is summed by one thread in an order fixed by the shapes, so the bits do
// not depend on the thread count. Zeros pad nothing (the last vector of a plane overlaps the one
// before, its repeated lanes masked off in both operands): the products are the GEMM's, and an
// infinity in the operands gives the GEMM's infinities and NaNs.
//
// It also takes the sums of delta's planes, the terms of the bias gradient, in sum_dims's order
// (reduce.hpp): with AVX-512, the tile adds each vector of a plane it loads into four vector
// accumulators beside its FMAs, on two rows of channels instead of three to leave the registers
// for them (mnist_cnn's first layer, batch 64, on a Zen 5: 0.28 -> 0.27 ms; LeNet-5's first,
// 0.166 -> 0.134); otherwise sum_runs sums a tile's planes just before the tile reads them (from
// L1, then). The pass streams delta from memory (5.5 MB for mnist_cnn's first layer at batch
// 64); software prefetches of later planes, at any distance tried, gained nothing on a Zen 5 once
// the tile kept its accumulators in registers, and three tiles ahead cost 5%.
//
// Behind a ReLU (conv2d_relu's backward, when its input needs no gradient), delta is the masked
// relu_backward(g, y): each tile masks its planes of g into a buffer in L1 as it comes to them,
// so the masked delta is never written to memory (mnist_cnn's first layer: the relu_backward pass
// over 5.5 MB was 4.6% of a one-thread training step).
//
// This translation unit keeps the machine's AVX-512 with GCC 12.2 (see
// cmake/tapegrad_options.cmake): its loops are loads, selects, FMAs and stores.

#include <cstddef>

#include "image_columns.hpp"

namespace tg::kernels {

// Whether ColumnWeightGrad handles g: its copy of an image with shared rows (TapRows::shared) no
// larger than delta of one image, and at least a vector of output pixels.
template <class T>
bool column_weight_grad_applies(const ConvGeometry& g, std::size_t out_channels);

template <class T>
class ColumnWeightGrad {
 public:
  ColumnWeightGrad(const ConvGeometry& g, std::size_t out_channels);
  // grad_weight [C_out, K] = the sum over `count` images of delta[n] [C_out, P] x cols_n^T
  // (overwritten), where delta = grad, or relu_backward(grad, relu_output) if relu_output is
  // not null. plane_sums, if not null: plane_sums[n * C_out + o] = sum_runs of delta[n, o]'s P
  // values. `parallel`: split the channels across the parallel seam.
  void run(std::size_t count, const T* grad, const T* relu_output, const T* images, T* grad_weight,
           T* plane_sums, bool parallel) const;
  // Its copy of an image's columns.
  const ImageColumns& columns() const { return columns_; }

 private:
  ConvGeometry g_;
  ImageColumns columns_;
  std::size_t out_channels_;
};

}  // namespace tg::kernels
