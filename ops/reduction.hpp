#pragma once
// Reductions. dims may be negative (counted from the end); keepdim keeps them as size 1.
//   sum:  dx = expand(g, x.shape)     (g first reshaped to keep the reduced dims as size 1)
//   mean: dx = expand(g, x.shape) / n  (n: number of elements averaged)
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

// Index of the largest value along dim (first one on ties), as an i64 tensor. No gradient.
[[nodiscard]] Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);

}  // namespace tg
