#pragma once
// Stride-1 convolution vectorised across output channels ("channel vectors"), for layers whose
// many taps per output make the shifted kernels' thrown-away grid columns expensive: LeNet-5's
// second layer (5x5 on 14x14, 10x10 outputs) computed 14 grid columns per 10 outputs there, and
// took 1.36-1.39x oneDNN's time; 1.06-1.08x on this kernel (bench/compare_layers.sh).
//
// A register holds one output pixel of `lanes` output channels. For each input channel c and
// kernel row m, the input row under a segment of P output pixels of row y is read once, value
// by value: input pixel i, broadcast, is multiplied by the kernel_w weight vectors w[c, m, k]
// (held in registers) into the accumulators of output pixels i - k. So every product is one an
// output needs (none on padding columns), and each broadcast serves kernel_w FMAs. At the end
// the P registers are transposed into the NCHW output rows of the `lanes` channels.
//
// Each output sums its taps in the order (c, m, k), whatever the threads: results do not depend
// on the thread count.
//
// This translation unit keeps the machine's AVX-512 with GCC 12.2 (see
// cmake/tapegrad_options.cmake): broadcasts, FMAs, loads and stores, no constant aggregates.

#include <cstddef>
#include <vector>

#include "epilogue.hpp"
#include "im2col.hpp"

namespace tg::kernels {

// Whether DirectForward handles g with out_channels: stride and dilation 1, whole channel vectors
// of output channels, a kernel at most direct_max_kernel_w wide, and enough taps per output
// (at least 32) for the transposes at the end to cost little.
template <class T>
bool direct_forward_applies(const ConvGeometry& g, std::size_t out_channels);

// out[C_out, out_h, out_w] = activation(weight x im2col(image) + bias) for one image; the weight
// [C_out, C*kH*kW] is repacked once, at construction. Same interface as ShiftedForward.
template <class T>
class DirectForward {
 public:
  DirectForward(const ConvGeometry& g, std::size_t out_channels, const T* weight);
  // `parallel`: split the image's rows across the parallel seam (for a batch of one).
  void run(const T* image, const T* bias, T* out, bool parallel,
           Activation activation = Activation::none) const;

 private:
  ConvGeometry g_;
  std::size_t out_channels_;
  std::vector<T> packed_;  // [channel vector][c][m][k][lanes]
};

}  // namespace tg::kernels
