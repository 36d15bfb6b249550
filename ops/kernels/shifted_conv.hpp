#pragma once
// Stride-1 convolution without a column matrix: "shifted rows".
//
// With stride 1, the row of im2col's matrix for kernel tap t = (c, m, k) is the zero-padded
// image read from offset(t) = c*plane + m*d_h*row + k*d_w on, if the output is laid out on a
// grid as wide as the padded image (`row`) instead of out_w: output pixel (y, x) is q = y*row + x
// and tap t reads padded[offset(t) + q]. So every row of the column matrix is a contiguous run of
// the padded image, and the micro-kernels below read it where it lies: no im2col (which was
// most of the time of LeNet-5's small layers), no packing of that operand. The price is the
// row - out_w = (k_w-1)*d_w pixels at the end of each grid row, computed and thrown away (8% of
// mnist_cnn's second layer, 29% of LeNet-5's).
//
// The input gradient of a stride-1 convolution is itself one (the seed's eq. 12), so it runs on
// the forward kernel too (conv.cpp sets that up).
//
// This translation unit keeps the machine's AVX-512 with GCC 12.2 (see
// cmake/tapegrad_options.cmake): its loops are loads, broadcasts, FMAs and stores, and the
// only constant aggregate it builds (a ForwardKernel) is not of the miscompiled kind (a 256-bit
// value whose low half is a splat and whose high half is zero).
//
// Each output element is summed by one thread in an order fixed by the shapes (the forward over
// the taps in order; the weight gradient lane-wise over pixels, then across the lanes, group by
// group of images), so the results do not depend on the thread count.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "epilogue.hpp"
#include "im2col.hpp"

namespace tg::kernels {

// The image [C,H,W] copied into the middle of a zero-filled buffer of `buffer_size` >= C planes of
// (H + 2 pad_h) x (W + 2 pad_w) (the rest zeros too).
template <class T>
void pad_image(const ConvGeometry& g, const T* image, std::size_t buffer_size, T* padded);

// Whether the forward kernel handles g: stride 1, a kernel other than a plain 1x1 (whose column
// matrix is the image itself), and a padded image no larger than the column matrix would be.
bool shifted_conv_applies(const ConvGeometry& g);

// Which pixels of a block of the grid are output pixels (bit i: the block's pixel i; a block is
// at most 64 pixels), and where the first of them goes in an output plane: those of one block
// are consecutive there, since the pixels between them are the ones thrown away.
struct BlockStore {
  std::size_t to = 0;
  std::uint64_t valid = 0;
};

// Whether ShiftedWeightGrad handles g, and beats im2col + GEMM there: it folds each sum across
// the vector lanes once per group of images that fit in a quarter of an L2, which must hold at
// least two of them (LeNet-5's layers and mnist_cnn's first; not mnist_cnn's second).
template <class T>
bool shifted_weight_grad_applies(const ConvGeometry& g, std::size_t out_channels);

// The forward micro-kernel of one register-tile shape and row count (shifted_conv.cpp).
template <class T>
using ForwardTile = void (*)(std::size_t taps, const std::size_t* offsets, const T* weight,
                             const T* image, const BlockStore& block, const T* bias, T* out,
                             std::size_t plane);

// The forward micro-kernels for a layer of `out_channels` output channels: a register tile of
// `rows` channels x `vectors` vectors of grid pixels (`pixels` in all: a block of the grid), and
// the tiles of fewer rows or vectors for the edges, each without and with a ReLU as it stores.
// Winograd's sixteen products (winograd.hpp) run on them too.
template <class T>
struct ForwardKernel {
  std::size_t rows = 0;
  std::size_t vectors = 0;
  std::size_t pixels = 0;
  const ForwardTile<T>* table = nullptr;       // r rows x v vectors at (v - 1) * rows + r - 1
  const ForwardTile<T>* relu_table = nullptr;  // the same tiles with the ReLU

  std::size_t lanes() const { return pixels / vectors; }
  ForwardTile<T> tile(std::size_t r, Activation activation = Activation::none) const {
    return tile(r, vectors, activation);
  }
  ForwardTile<T> tile(std::size_t r, std::size_t v,
                      Activation activation = Activation::none) const {
    return (activation == Activation::relu ? relu_table : table)[(v - 1) * rows + r - 1];
  }
};
template <class T>
ForwardKernel<T> forward_kernel(std::size_t out_channels);

// weight [out_channels, taps] as the forward micro-kernels read it: [channel block][tap][rows],
// zero-filled past the last channel.
template <class T>
std::vector<T> pack_forward_weight(const T* weight, std::size_t out_channels, std::size_t taps,
                                   std::size_t rows);

// out[C_out, out_h, out_w] = activation(weight x im2col(image) + bias), for one image; the weight
// [C_out, C*kH*kW] is repacked once, at construction.
template <class T>
class ShiftedForward {
 public:
  ShiftedForward(const ConvGeometry& g, std::size_t out_channels, const T* weight);
  // `parallel`: split the image's pixels across the parallel seam (for a batch of one).
  void run(const T* image, const T* bias, T* out, bool parallel,
           Activation activation = Activation::none) const;

 private:
  ConvGeometry g_;
  std::size_t out_channels_;
  std::vector<std::size_t> offsets_;
  ForwardKernel<T> kernel_;         // a block of the grid is kernel_.pixels pixels
  std::vector<T> packed_;           // pack_forward_weight's layout
  std::vector<BlockStore> blocks_;  // the grid's pixels, in blocks of the register tile
};

// grad_weight[C_out, C*kH*kW] += the sum over `count` images of delta[n] [C_out, out_h, out_w] x
// im2col(images[n])^T, in a fixed order.
template <class T>
class ShiftedWeightGrad {
 public:
  ShiftedWeightGrad(const ConvGeometry& g, std::size_t out_channels);
  // `parallel`: split the output channels across the parallel seam (for small batches).
  void add(std::size_t count, const T* delta, const T* images, T* grad_weight, bool parallel) const;

 private:
  ConvGeometry g_;
  std::size_t out_channels_;
  std::vector<std::size_t> offsets_;  // padded to whole register tiles with offset 0
};

}  // namespace tg::kernels
