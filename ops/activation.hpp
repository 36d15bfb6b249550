#pragma once
// Activations, delta_prev = delta * f'(net) (the seed's eq. 12):
//   relu:       y = max(x, 0);             dx = g * [x > 0]
//   leaky_relu: y = x > 0 ? x : s x;       dx = g * (x > 0 ? 1 : s)
//   sigmoid:    y = 1 / (1 + e^-x);        dx = g * y * (1 - y)
//   tanh:       y = tanh(x);               dx = g * (1 - y^2)
// At 0 relu's derivative is taken as 0 and leaky_relu's as s (as PyTorch).

#include "../autograd/tensor.hpp"

namespace tg {

[[nodiscard]] Tensor relu(const Tensor& x);
[[nodiscard]] Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
[[nodiscard]] Tensor sigmoid(const Tensor& x);
[[nodiscard]] Tensor tanh(const Tensor& x);

// The gradient of leaky_relu (and of relu, negative_slope 0) as an op of its own:
// g * f'(x), differentiable again. f' depends only on the sign of x, and relu keeps that sign
// where it is positive, so for relu x may as well be relu's output (which conv2d_relu keeps).
[[nodiscard]] Tensor leaky_relu_backward(const Tensor& grad_output, const Tensor& x,
                                         double negative_slope);

}  // namespace tg
