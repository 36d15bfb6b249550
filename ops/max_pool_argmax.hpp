#pragma once
// What the ops that max-pool share inside the library (max_pool2d, and conv2d_relu_max_pool2d,
// which pools as the convolution stores): the window's checks and the backward scatter on the
// int32 argmax (pool.cpp says why int32).

#include <cstdint>
#include <memory>
#include <string_view>

#include <xtensor/xstorage.hpp>

#include "../autograd/tensor.hpp"
#include "kernels/pool.hpp"
#include "options.hpp"

namespace tg::detail {

// Every index is written by the pooling that makes it: xt::uvector leaves the array
// uninitialised, where a std::vector's zeros were a serial pass over it (2.4 MB for mnist_cnn's
// second layer at batch 64, while the other threads waited).
using ArgmaxArray = xt::uvector<std::int32_t>;
using Argmax = std::shared_ptr<const ArgmaxArray>;

// Checks a max-pool window against a 4-D input shape (PyTorch's rules), naming
// `op` in the error, and returns the kernels' geometry.
kernels::Pool2dGeometry max_pool_geometry(std::string_view op, const Shape& input_shape,
                                          const MaxPool2dOptions& options);

// max_pool2d's backward as a differentiable op: grad_output scattered to the argmax positions
// of planes of `input_shape`, everything else 0.
Tensor max_pool_scatter(const Tensor& grad_output, const Argmax& argmax,
                        const kernels::Pool2dGeometry& g, const Shape& input_shape);

}  // namespace tg::detail
