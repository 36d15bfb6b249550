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
