#pragma once
// Reductions. dims may be negative (counted from the end); keepdim keeps them as size 1.
//   sum:  dx = expand(g, x.shape)     (g first reshaped to keep the reduced dims as size 1)
//   mean: dx = expand(g, x.shape) / n  (n: number of elements averaged)
//   max, min over a dim: dx = put_along(g, indices): zeros but g at each selected index
//                        (put_along's own gradient is take_along: gg read at the indices)
//   max, min of all elements: dx = g / k at each of the k elements equal to the result (the
//                        NaNs, if it is NaN), 0 elsewhere: ties share evenly, as PyTorch 1.13
// Summation order is fixed (sequential per output element), so results are reproducible.

#include <cstdint>
#include <vector>

#include "../autograd/tensor.hpp"

namespace tg {

[[nodiscard]] Tensor sum(const Tensor& x);  // all elements, a 0-D tensor
[[nodiscard]] Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims,
                         bool keepdim = false);
[[nodiscard]] Tensor mean(const Tensor& x);
[[nodiscard]] Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims,
                          bool keepdim = false);

// Index of the largest value along dim (first one on ties, the first NaN if there is one), as
// an i64 tensor. No gradient.
[[nodiscard]] Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);

// What max and min along a dim return: `auto [values, indices] = tg::max(x, 1);`.
struct ValuesIndices {
  Tensor values;
  Tensor indices;  // i64, of values' shape: the position along the dim each value came from
};

// The largest (smallest) value along dim and its index: the first on ties, and a NaN counts as
// both the largest and the smallest, so a line holding one gives its first NaN (as PyTorch).
// keepdim keeps the dim as size 1; a 0-D x takes dim 0 or -1. i64 tensors work too (no
// gradient).
[[nodiscard]] ValuesIndices max(const Tensor& x, std::int64_t dim, bool keepdim = false);
[[nodiscard]] ValuesIndices min(const Tensor& x, std::int64_t dim, bool keepdim = false);
// Of all elements, a 0-D tensor; x must not be empty.
[[nodiscard]] Tensor max(const Tensor& x);
[[nodiscard]] Tensor min(const Tensor& x);

namespace detail {
// x's values at `indices` along dim, the indices of max/min(x, dim, keepdim) (their shape, i64,
// each in [0, x.shape[dim])). The gradient of put_along.
[[nodiscard]] Tensor take_along(const Tensor& x, std::int64_t dim, const Tensor& indices,
                                bool keepdim);
// Zeros of input_shape with grad written at `indices` along dim: the gradient of max/min and of
// take_along.
[[nodiscard]] Tensor put_along(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                               const Tensor& indices, bool keepdim);
}  // namespace detail

}  // namespace tg
