#pragma once
// Elementwise arithmetic with PyTorch broadcasting (shapes are aligned from the right; a
// dimension of size 1, or a missing one, is repeated). Both operands must have the same dtype;
// a double operand takes the tensor's dtype.
//
// Gradients, with g the output gradient and sum_to(t, s) summing t over the broadcast
// dimensions back to shape s:
//   add:  da = sum_to(g, a),           db = sum_to(g, b)
//   sub:  da = sum_to(g, a),           db = sum_to(-g, b)
//   mul:  da = sum_to(g * b, a),       db = sum_to(g * a, b)
//   div:  da = sum_to(g / b, a),       db = sum_to(-g * a / b^2, b)
//   neg:  dx = -g
//   exp:  dx = g * exp(x)
//   log:  dx = g / x
//   pow:  dx = g * p * x^(p-1)          (p a constant)
//   abs:  dx = g * sign(x)               (sign(0) = 0, so abs'(0) = 0, as PyTorch)
//   sqrt: dx = g / (2 sqrt(x))           (inf at x = 0 for g > 0, as PyTorch)
//   clamp(x, lo, hi) = min(max(x, lo), hi):
//         dx = g * [lo <= x <= hi]       (1 at the bounds themselves, 0 outside, as PyTorch)

#include <optional>

#include "../autograd/tensor.hpp"

namespace tg {

[[nodiscard]] Tensor add(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor sub(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor mul(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor div(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor add(const Tensor& a, double b);
[[nodiscard]] Tensor sub(const Tensor& a, double b);
[[nodiscard]] Tensor mul(const Tensor& a, double b);
[[nodiscard]] Tensor div(const Tensor& a, double b);

[[nodiscard]] Tensor neg(const Tensor& x);
[[nodiscard]] Tensor exp(const Tensor& x);
[[nodiscard]] Tensor log(const Tensor& x);
[[nodiscard]] Tensor pow(const Tensor& x, double exponent);
[[nodiscard]] Tensor abs(const Tensor& x);
[[nodiscard]] Tensor sqrt(const Tensor& x);  // NaN for x < 0, as std::sqrt

// Either bound may be left out (std::nullopt), not both. A NaN in x stays NaN. lo > hi is a
// tg::Error, where PyTorch silently returns hi everywhere with a zero gradient: swapped bounds
// are a bug, and a training run would stall on them without a word. NaN bounds are errors too.
[[nodiscard]] Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
[[nodiscard]] Tensor clamp_min(const Tensor& x, double lo);
[[nodiscard]] Tensor clamp_max(const Tensor& x, double hi);

[[nodiscard]] Tensor operator+(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor operator-(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor operator*(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor operator/(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor operator+(const Tensor& a, double b);
[[nodiscard]] Tensor operator-(const Tensor& a, double b);
[[nodiscard]] Tensor operator*(const Tensor& a, double b);
[[nodiscard]] Tensor operator/(const Tensor& a, double b);
[[nodiscard]] Tensor operator+(double a, const Tensor& b);
[[nodiscard]] Tensor operator-(double a, const Tensor& b);
[[nodiscard]] Tensor operator*(double a, const Tensor& b);
[[nodiscard]] Tensor operator/(double a, const Tensor& b);
[[nodiscard]] Tensor operator-(const Tensor& x);

}  // namespace tg
