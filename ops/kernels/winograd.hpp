#pragma once
// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2015).
//
// Each 2x2 block of output pixels ("tile") is Y = A^T [ sum_c (G w_c G^T) . (B^T d_c B) ] A,
// where d_c is the 4x4 patch of input channel c under the tile, w_c the 3x3 kernel and . the
// elementwise product. With the kernel transformed once (U = G w G^T) and each patch once
// (V = B^T d B), the sum over channels is sixteen independent products U[xi] [C_out, C] x
// V[xi] [C, tiles], one per position xi of the 4x4 transformed tile: 16 multiplications per
// channel pair and tile instead of 36, a 2.25x cut in the arithmetic of the layer.
//
// The products run on the shifted kernels' forward micro-kernel (shifted_conv.hpp). The tiles
// of an image lie on a grid one tile wider than a tile row, and the padded image is kept as its
// four polyphase components (even/odd rows x even/odd columns): then the patch value (r, j) of
// every tile q is one contiguous run, component (r%2, j%2) read from q + (r/2)*grid_row + j/2, so
// the input transform is whole-vector loads and adds. The spare tile of each grid row is
// computed and not stored.
//
// Rounding: the transforms add and subtract the values of a tile before and after the products,
// but each product sums only C terms instead of 9C. On mnist_cnn's second layer in float the
// result is within 3.3e-7 of the largest output from the f64 direct sum, against 8.0e-7 for the
// shifted kernel (tests/test_conv.cpp bounds it). Each output element is computed by one thread
// in an order fixed by the shapes.

#include <cstddef>
#include <vector>

#include "epilogue.hpp"
#include "im2col.hpp"
#include "shifted_conv.hpp"

namespace tg::kernels {

// Whether the Winograd kernels (all three passes) handle g (a 3x3 kernel, stride 1, no
// dilation) and pay there: with few channels on either side the transforms, not the products,
// would be the work (mnist_cnn's first layer has one input channel), so both sides need at
// least 16.
bool winograd_applies(const ConvGeometry& g, std::size_t out_channels);

// out[C_out, out_h, out_w] = activation(weight x im2col(image) + bias) for one image, by F(2x2,
// 3x3). The weight [C_out, C, 3, 3] is transformed once, at construction. The interface of
// ShiftedForward, except that run returns whether the result holds.
//
// The transforms mix the values of a tile, so an infinity or NaN in the image or the weight
// would spread to pixels that the direct sum keeps finite (inf - inf), and finite values near
// the type's largest can overflow in them. Either leaves some pixel of the tiles infinite or NaN
// before the bias and activation (every value of a patch reaches a transformed value, every
// transformed value a product, every product a pixel, and no sum turns an infinity or NaN
// finite), and those pixels are checked in registers as they are stored. So run returns false,
// its output unfinished, whenever the image must be computed by a direct kernel instead (and
// also when the direct result is not finite either, or the check's own sum of four pixels
// overflows: the direct kernel then computes what it would have anyway). That costs less than
// scanning the operands before (2.4% of mnist_cnn's training step), and catches the overflow.
template <class T>
class WinogradForward {
 public:
  WinogradForward(const ConvGeometry& g, std::size_t out_channels, const T* weight);
  // `parallel`: split the image's tiles across the parallel seam (for a batch of one).
  [[nodiscard]] bool run(const T* image, const T* bias, T* out, bool parallel,
                         Activation activation = Activation::none) const;
  // The same output pooled as it is stored (see PooledOutput): its tiles are the 2x2 windows.
  [[nodiscard]] bool run_pooled(const T* image, const T* bias, const PooledOutput<T>& out,
                                bool parallel, Activation activation) const;

 private:
  // Transforms the image and runs the sixteen products block by block, handing each output
  // channel's products of a block to store(m, m_stride, tiles, channel, first tile).
  template <class Store>
  void run_tiles(const T* image, bool parallel, Store store) const;

  ConvGeometry g_;
  std::size_t out_channels_;
  ForwardKernel<T> kernel_;           // a block of the grid is kernel_.pixels tiles
  std::size_t grid_row_ = 0;          // tiles per grid row: one more than a row of tiles
  std::size_t grid_tiles_ = 0;        // tile rows x grid_row_
  std::size_t blocks_ = 0;            // blocks of kernel_.pixels tiles covering the grid
  std::size_t component_ = 0;         // values in one polyphase component of one channel
  std::vector<std::size_t> offsets_;  // row c of a transformed block, for the micro-kernel
  std::vector<T> packed_;             // U [16][pack_forward_weight's layout of C_out x C]
};

// grad_weight[C_out, C, 3, 3] += the sum over `count` images of delta[n] [C_out, out_h, out_w]
// correlated with images[n], by F(2x2, 3x3) run backwards: with D = A delta_tile A^T the
// gradient of M, the gradient of U[xi] is the sum over tiles of V[xi] D[xi]^T, sixteen products
// [C, tiles] x [tiles, C_out] whose depth is the tiles of all `count` images; then
// grad_weight += G^T dU G. D is transformed in vectors of output channels, from delta
// transposed to [pixel][C_out], so that the products read both operands as they lie. An
// infinity or NaN in an image or delta, or an overflow in the transforms, leaves a gradient
// infinite or NaN (as in the forward): the caller computes the images again by a direct kernel
// when grad_weight is not all finite.
template <class T>
class WinogradWeightGrad {
 public:
  WinogradWeightGrad(const ConvGeometry& g, std::size_t out_channels);
  // `parallel`: split the sixteen products across the parallel seam (for small batches).
  // plane_sums, if not null: plane_sums[n * C_out + o] = sum_runs of delta[n, o]'s plane, each
  // image's summed just before its transpose reads it (from L2, then: summing a chunk of images
  // first left its delta in memory for the transposes: 6% of mnist_cnn's second layer).
  void add(std::size_t count, const T* delta, const T* images, T* grad_weight, T* plane_sums,
           bool parallel) const;

 private:
  ConvGeometry g_;
  std::size_t out_channels_;
  std::size_t grid_row_ = 0;   // as in WinogradForward
  std::size_t length_ = 0;     // tiles of one image's grid, in whole vectors
  std::size_t component_ = 0;  // values in one polyphase component of the image
  std::size_t delta_row_ = 0;  // C_out in whole vectors: a row of D^T
};

}  // namespace tg::kernels
