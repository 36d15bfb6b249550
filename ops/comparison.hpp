#pragma once
// Comparisons and selection, with PyTorch broadcasting.
//
// A mask is a tensor of the operands' dtype holding 1 where the comparison holds and 0 where it
// does not (tapegrad has no bool dtype). So `x * gt(x, 0.0)` and `sum(eq(a, b))` work as they
// stand, and a mask of i64 labels is i64. A mask never requires grad: comparisons are piecewise
// constant, with zero derivative wherever they have one. NaN compares unequal to everything,
// itself included (IEEE 754): ne is 1 there, every other comparison 0.
//
// where(mask, a, b) = mask != 0 ? a : b, elementwise after broadcasting all three. The mask may
// be of any dtype; any nonzero value (NaN too) counts as true. With g the output gradient:
//   da = sum_to(where(mask, g, 0), a.shape),   db = sum_to(where(mask, 0, g), b.shape)
// and no gradient for the mask. Only the selected branch gets a gradient, so an inf or NaN in
// the gradient of the branch not taken does not leak through (unlike g * mask).

#include "../autograd/tensor.hpp"

namespace tg {

// Tensor with tensor: both of the same dtype (f32, f64 or i64), shapes broadcast.
[[nodiscard]] Tensor eq(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor ne(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor lt(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor le(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor gt(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor ge(const Tensor& a, const Tensor& b);

// Tensor with a number. A floating tensor compares in its own dtype (an f32 tensor holding
// 0.1f equals 0.1, as in PyTorch); an i64 tensor compares exactly (2 < 2.5 holds).
[[nodiscard]] Tensor eq(const Tensor& a, double b);
[[nodiscard]] Tensor ne(const Tensor& a, double b);
[[nodiscard]] Tensor lt(const Tensor& a, double b);
[[nodiscard]] Tensor le(const Tensor& a, double b);
[[nodiscard]] Tensor gt(const Tensor& a, double b);
[[nodiscard]] Tensor ge(const Tensor& a, double b);

// a and b of the same dtype (f32, f64, or i64 without gradient); the output has that dtype and
// the shape mask, a and b broadcast to. A number stands for a 0-D tensor of the other branch's
// dtype (for i64 it must be a whole number).
[[nodiscard]] Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor where(const Tensor& mask, const Tensor& a, double b);
[[nodiscard]] Tensor where(const Tensor& mask, double a, const Tensor& b);

}  // namespace tg
