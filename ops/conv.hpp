#pragma once
// 2-D convolution (cross-correlation, as every DL framework), NCHW, weight [C_out,C_in,kH,kW]:
//   net_o[n,o,y,x] = b[o] + sum_{c,m,k} w[o,c,m,k] * in[n,c, y*s - p + m*d, x*s - p + k*d]
// The seed's backward (eq. 11-15), with delta = dE/dnet_o:
//   dE/din: full correlation of delta, zero-padded by k-1, with the kernel rotated 180 degrees
//           (for stride s, delta first dilated by s; for padding p, p cropped off each border).
//           Computed as W^T delta followed by col2im: the same sums, in GEMM form.
//   dE/dw[o,c,m,k] = sum_{n,y,x} delta[n,o,y,x] * in[n,c, y*s - p + m*d, x*s - p + k*d]
//           (the seed's eq. 13-14 with its misprint corrected: the layer input, not out_o).
//   dE/db[o] = sum_{n,y,x} delta[n,o,y,x]                                     (eq. 15)
//
// conv2d_input_grad and conv2d_weight_grad are those two gradients as differentiable ops. All
// three are bilinear and are each other's adjoints, so their gradients are written in terms of
// one another (higher-order gradients come for free):
//   conv2d(x, w):               dx = input_grad(g, w),      dw = weight_grad(g, x)
//   conv2d_input_grad(g, w):    dg = conv2d(gg, w),         dw = weight_grad(g, gg)
//   conv2d_weight_grad(g, x):   dg = conv2d(x, gw),         dx = input_grad(g, gw)

//
// With groups > 1, channel group i of the input (C_in / groups channels) is convolved with
// weight rows [i C_out / groups, (i + 1) C_out / groups) into the same group of the output: each
// group is an ordinary convolution, computed as one on narrowed tensors and concatenated, so the
// gradients are those above, group by group (narrow's and cat's gradients route them).

#include "../autograd/tensor.hpp"
#include "options.hpp"

namespace tg {

// bias may be an undefined Tensor{}.
[[nodiscard]] Tensor conv2d(const Tensor& input, const Tensor& weight,
                            const Tensor& bias = Tensor{}, const Conv2dOptions& options = {});

// relu(conv2d(input, weight, bias, options)) with the same bits and gradients, in one op: the
// relu is applied as the kernels store each output value (after each image's product on the
// im2col + GEMM path), where a separate relu reads and writes the whole batch's output once
// more. Backward: delta = g * [y > 0] from the output y (relu keeps the sign where it is
// positive), then conv2d's gradients of delta.
[[nodiscard]] Tensor conv2d_relu(const Tensor& input, const Tensor& weight,
                                 const Tensor& bias = Tensor{}, const Conv2dOptions& options = {});

// max_pool2d(conv2d_relu(input, weight, bias, conv_options), pool_options), with the same bits
// and gradients, in one op. With stride 1, each image is pooled by the task that convolved it,
// from the cache (Winograd's 3x3 layers pool 2x2 windows of stride 2 in registers: its output
// tiles are the windows), so the unpooled batch is never written nor read again, and the pool
// needs no pass of its own. Backward: delta = the pool's scatter of g * [y > 0], the mask taken
// on the pooled output y (where the scatter puts a value, the unpooled output is y), then
// conv2d's gradients of delta: relu's backward runs on the pooled values only.
[[nodiscard]] Tensor conv2d_relu_max_pool2d(const Tensor& input, const Tensor& weight,
                                            const Tensor& bias, const Conv2dOptions& conv_options,
                                            const MaxPool2dOptions& pool_options);

// dE/dinput of conv2d for an input of `input_shape` [N,C_in,H,W], given delta [N,C_out,Ho,Wo].
[[nodiscard]] Tensor conv2d_input_grad(const Tensor& grad_output, const Tensor& weight,
                                       const Shape& input_shape, const Conv2dOptions& options = {});
// dE/dweight of conv2d for a weight of `weight_shape` [C_out,C_in,kH,kW].
[[nodiscard]] Tensor conv2d_weight_grad(const Tensor& grad_output, const Tensor& input,
                                        const Shape& weight_shape,
                                        const Conv2dOptions& options = {});

}  // namespace tg
