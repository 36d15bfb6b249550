#pragma once
// Broadcasting as a pair of differentiable ops, each the other's gradient:
//   expand(x, shape): x repeated along broadcast dimensions;  dx = sum_to(g, x.shape)
//   sum_to(x, shape): x summed down to `shape`;                dx = expand(g, x.shape)

#include <string_view>

#include "../autograd/tensor.hpp"

namespace tg {

// The shape a and b broadcast to; throws tg::Error naming `op` if they do not.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);

[[nodiscard]] Tensor expand(const Tensor& x, const Shape& shape);
[[nodiscard]] Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace tg
