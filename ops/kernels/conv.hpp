#pragma once
// 2-D convolution of a batch by im2col + GEMM. `g` describes one input image [C_in,H,W], the
// kernel and the output plane; the batch holds `batch` such images, NCHW and contiguous.
// weight is [C_out, C_in*kH*kW] (the [C_out,C_in,kH,kW] array, flattened), grad_output and
// output [batch, C_out, out_h, out_w]. Every function overwrites its whole output.

#include <cstddef>

#include "epilogue.hpp"
#include "im2col.hpp"
#include "pool.hpp"

namespace tg::kernels {

// output[n] = activation(weight x im2col(input[n]) + bias) (bias may be null).
template <class T>
void conv2d_forward(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                    const T* input, const T* weight, const T* bias, T* output,
                    Activation activation = Activation::none);

// output = max_pool2d_forward(conv2d_forward's output) with `pool`'s windows and argmax rule,
// each image pooled by the task that computed it, while its output is in the cache; Winograd
// pools 2x2 windows of stride 2 in registers as it stores (its tiles are the windows). For a
// stride-one g (the kernels that run one image at a time); returns false, having written
// nothing, for any other: the caller then runs the two.
template <class T>
bool conv2d_forward_max_pool(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                             const T* input, const T* weight, const T* bias, Activation activation,
                             const Pool2dGeometry& pool, const PooledOutput<T>& output);

// grad_input[n] = col2im(weight^T x grad_output[n]).
template <class T>
void conv2d_backward_input(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                           const T* grad_output, const T* weight, T* grad_input);

// grad_weight = sum_n delta[n] x im2col(input[n])^T, summed over fixed chunks of the batch in
// chunk order: the same bits for any thread count. delta = grad_output, or behind a ReLU
// (relu_output not null: the ReLU's output) relu_backward(grad_output, relu_output), masked as
// the kernel reads it where the kernel allows (not written to memory first). grad_bias, if not
// null, = the sum of delta over {0, 2, 3} with sum_dims's bits, taken in the same pass over
// delta where the kernel allows (one read of it instead of two).
template <class T>
void conv2d_backward_weight(const ConvGeometry& g, std::size_t batch, std::size_t out_channels,
                            const T* grad_output, const T* input, T* grad_weight,
                            T* grad_bias = nullptr, const T* relu_output = nullptr);

}  // namespace tg::kernels
