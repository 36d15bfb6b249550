#pragma once
// Shape ops. The data is copied into the new layout (tensors are always contiguous).
//   reshape:   dx = reshape(g, x.shape)
//   flatten:   dx = reshape(g, x.shape)
//   transpose: dx = transpose(g, dim0, dim1)

#include <cstdint>
#include <vector>

#include "../autograd/tensor.hpp"

namespace tg {

// One entry may be -1: inferred from the number of elements.
[[nodiscard]] Tensor reshape(const Tensor& x, const std::vector<std::int64_t>& shape);
// Merges dims start_dim..end_dim into one (as torch.flatten).
[[nodiscard]] Tensor flatten(const Tensor& x, std::int64_t start_dim = 0,
                             std::int64_t end_dim = -1);
[[nodiscard]] Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);

namespace detail {
// A Shape as the dims reshape takes.
std::vector<std::int64_t> as_dims(const Shape& shape);
}  // namespace detail

}  // namespace tg
