#pragma once
// The forward convolution of a layer with few taps per output channel, on a copy of the image's
// columns (image_columns.hpp) with output planes written in whole, aligned vectors:
//   out[o, q] = activation(bias[o] + the sum over taps t of w[o, t] * cols[t, q]).
//
// The shifted kernel (shifted_conv.hpp) reads the padded image where it lies and computes its
// output on a grid as wide as the padded row, so every vector that crosses a row's end holds
// pixels to throw away: compressed in a register, then a masked store that mostly straddles two
// cache lines. For mnist_cnn's first layer (one input channel, nine taps, so as few FMAs per
// stored vector as that) those stores and the discarded pixels cost as much as the arithmetic.
// Here each tap's row of columns is the output's own pixels, so a vector of them is a vector of
// the output plane: no compress, no pixel thrown away, at the price of copying the image's
// columns (kH times less than im2col for stride 1; about 7% of the pass for mnist_cnn).
//
// An NCHW plane of P pixels starts on a cache line only if P is a multiple of a vector (mnist_cnn's
// 26x26 = 676 floats are 16 bytes off for three planes in four), so the channels are taken in
// classes of equal misalignment, every `period`-th channel (4 there), and each class's vectors
// start where its planes' cache lines start: the first and last vectors of a plane are partial
// (masked stores), all the others aligned. mnist_cnn's first layer, batch 64, one thread of an
// Intel Xeon, in a harness: 0.30 ms on the shifted kernel, 0.25 on columns with the vectors
// starting at each plane's first pixel, 0.22 aligned (bench_layers: 0.31 -> 0.23, oneDNN 0.24).
//
// The register tiles are the shifted kernel's (forward_kernel): the sums run over the taps in
// the same order, so both give the same bits.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "epilogue.hpp"
#include "image_columns.hpp"
#include "shifted_conv.hpp"

namespace tg::kernels {

// Whether ColumnForward handles g: a stride-1 layer whose copy of the image's columns is at most
// a quarter of its output, with at least a vector of output pixels. mnist_cnn's first layer
// copies a tenth (3 x 28x26 values for 32 x 26x26); LeNet-5's first, which copies as much as its
// output (5 x 32x28 for 6 x 28x28), took 0.13 ms here against the shifted kernel's 0.11.
template <class T>
bool column_forward_applies(const ConvGeometry& g, std::size_t out_channels);

template <class T>
class ColumnForward {
 public:
  ColumnForward(const ConvGeometry& g, std::size_t out_channels, const T* weight);
  // out[C_out, out_h, out_w] = activation(weight x im2col(image) + bias) for one image.
  // `parallel`: split the channel tiles and pixel blocks across the parallel seam.
  void run(const T* image, const T* bias, T* out, bool parallel,
           Activation activation = Activation::none) const;

 private:
  // A register tile's channels: `rows` channels from `first` on, every period_-th.
  struct ChannelTile {
    std::size_t first;
    std::size_t rows;
  };
  // A block of up to kernel_.vectors vectors of one plane's pixels, from pixel `start` on
  // (negative for a plane's partial first vector), and which of them are the plane's.
  struct Block {
    std::ptrdiff_t start;
    std::size_t vectors;
    BlockStore store;
  };

  ConvGeometry g_;
  ForwardKernel<T> kernel_;
  ImageColumns columns_;
  bool aligned_ = false;            // whether each class's vectors start on its cache lines
  std::size_t period_ = 1;          // channels between two of one alignment class
  std::vector<ChannelTile> tiles_;  // class by class
  std::vector<T> packed_;           // each tile's weight, as pack_forward_weight lays it out
  // At heads_[h], the blocks of a plane whose first h pixels come before a vector boundary.
  std::vector<std::vector<Block>> heads_;
  std::size_t most_blocks_ = 0;  // the most blocks a plane has, over the heads
};

}  // namespace tg::kernels
