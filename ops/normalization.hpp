#pragma once
// Normalisation layers' ops.
//
// batch_norm normalises each channel c of x [N,C,*] over its m = N * prod(*) values x_i:
//   mu = (1/m) sum_i x_i,    var = (1/m) sum_i (x_i - mu)^2,    s = (var + eps)^(-1/2)
//   xhat_i = (x_i - mu) s,   y_i = w xhat_i + b                  (w = 1, b = 0 when undefined)
// clang-format off
// Backward, with g_i = dE/dy_i, by the chain rule through every path from x_j to E, as the
// seed derives convolution's:
//   dE/db = sum_i g_i,   dE/dw = sum_i g_i xhat_i
//   Let h_i = dE/dxhat_i = g_i w. x_j reaches every xhat_i: directly, through mu and through s.
//     dmu/dx_j     = 1/m
//     dvar/dx_j    = (2/m) sum_i (x_i - mu)(delta_ij - 1/m) = (2/m)(x_j - mu)
//                    (the deviations sum to 0)
//     ds/dx_j      = -1/2 (var + eps)^(-3/2) dvar/dx_j = -s^2 xhat_j / m
//     dxhat_i/dx_j = s (delta_ij - 1/m) + (x_i - mu) ds/dx_j
//                  = s (delta_ij - 1/m - xhat_i xhat_j / m)
//   dE/dx_j = sum_i h_i dxhat_i/dx_j = s (h_j - mean(h) - xhat_j mean(h xhat))
// clang-format on
// That sum is written with ops, so that it can be differentiated again (create_graph).
// In evaluation mode mu and var are the running estimates, constants: dE/dx = g w s.
//
// In training, the running estimates (when given) are updated in place, as PyTorch's:
//   running_mean <- (1 - momentum) running_mean + momentum mu
//   running_var  <- (1 - momentum) running_var  + momentum var m / (m - 1)   (unbiased)
//
// layer_norm normalises x over its last dims (normalized_shape) by the same formulas, each
// leading index one group of m = prod(normalized_shape) values; w and b have normalized_shape and
// apply elementwise: dE/dw = sum over the groups of g xhat, dE/db = sum over the groups of g.

#include <cstdint>
#include <vector>

#include "../autograd/tensor.hpp"

namespace tg {

struct BatchNormOptions {
  bool training = false;  // batch statistics (and running estimates updated) vs running ones
  double momentum = 0.1;  // weight of the batch in the running estimates
  double eps = 1e-5;      // added to the variance
};

struct LayerNormOptions {
  double eps = 1e-5;
};

// x [N,C,*]; running_mean, running_var, weight, bias [C], each may be undefined (Tensor{}), but
// evaluation needs the running estimates. They never require grad.
[[nodiscard]] Tensor batch_norm(const Tensor& input, const Tensor& running_mean,
                                const Tensor& running_var, const Tensor& weight = Tensor{},
                                const Tensor& bias = Tensor{},
                                const BatchNormOptions& options = {});

// normalized_shape: the last dims of x; weight and bias (each may be undefined) have that shape.
[[nodiscard]] Tensor layer_norm(const Tensor& input,
                                const std::vector<std::int64_t>& normalized_shape,
                                const Tensor& weight = Tensor{}, const Tensor& bias = Tensor{},
                                const LayerNormOptions& options = {});

}  // namespace tg
