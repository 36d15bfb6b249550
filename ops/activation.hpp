#pragma once
// Activations, delta_prev = delta * f'(net) (the seed's eq. 12):
//   relu:       y = max(x, 0);             dx = g * [x > 0]
//   leaky_relu: y = x > 0 ? x : s x;       dx = g * (x > 0 ? 1 : s)
//   sigmoid:    y = 1 / (1 + e^-x);        dx = g * y * (1 - y)
//   tanh:       y = tanh(x);               dx = g * (1 - y^2)
// At 0 relu's derivative is taken as 0 and leaky_relu's as s (as PyTorch).
//
// Smooth activations, with Phi the standard normal CDF, phi = Phi' = e^(-x^2/2) / sqrt(2 pi):
//   gelu:       y = x Phi(x);                 dx = g * (Phi(x) + x phi(x))
//   gelu tanh:  y = x/2 (1 + t), t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3);
//               dx = g * (1/2 (1 + t) + 1/2 x (1 - t^2) u'),  u' = sqrt(2/pi) (1 + 3 0.044715 x^2)
//   silu:       y = x s, s = sigmoid(x);      dx = g * (s + y (1 - s))
//   elu:        y = x > 0 ? x : a (e^x - 1);  dx = g * (x > 0 ? 1 : y + a)     (y + a = a e^x)
//   softplus:   y = b x > th ? x : log(1 + e^(b x)) / b;
//               dx = g * (b x > th ? 1 : sigmoid(b x))
// At 0 elu's derivative is taken from the left, a (as PyTorch; the sides agree for a = 1).
// softplus is linear above the threshold, as PyTorch; the derivative switches there from
// sigmoid(th) to 1. These backward passes are compositions of differentiable ops (the gelu
// derivative through a normal_cdf op whose own gradient is g * phi(x)), so gradients of any
// order are exact away from elu's kink and softplus's threshold.

#include <cstdint>

#include "../autograd/tensor.hpp"

namespace tg {

[[nodiscard]] Tensor relu(const Tensor& x);
[[nodiscard]] Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
[[nodiscard]] Tensor sigmoid(const Tensor& x);
[[nodiscard]] Tensor tanh(const Tensor& x);

// PyTorch's gelu(approximate="none" | "tanh").
enum class GeluApproximate : std::uint8_t { none, tanh };

[[nodiscard]] Tensor gelu(const Tensor& x, GeluApproximate approximate = GeluApproximate::none);
[[nodiscard]] Tensor silu(const Tensor& x);
// alpha: any finite number (PyTorch's default 1).
[[nodiscard]] Tensor elu(const Tensor& x, double alpha = 1.0);
// beta: positive and finite; threshold: any number but NaN (+inf: never linear).
[[nodiscard]] Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);

// The gradient of leaky_relu (and of relu, negative_slope 0) as an op of its own:
// g * f'(x), differentiable again. f' depends only on the sign of x, and relu keeps that sign
// where it is positive, so for relu x may as well be relu's output (which conv2d_relu keeps).
[[nodiscard]] Tensor leaky_relu_backward(const Tensor& grad_output, const Tensor& x,
                                         double negative_slope);

}  // namespace tg
