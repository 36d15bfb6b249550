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

}  // namespace tg
