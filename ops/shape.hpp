#pragma once
// Shape ops. The data is copied into the new layout (tensors are always contiguous).
//   reshape:   dx = reshape(g, x.shape)
//   flatten:   dx = reshape(g, x.shape)
//   transpose: dx = transpose(g, dim0, dim1)
//   squeeze:   dx = reshape(g, x.shape)
//   unsqueeze: dx = reshape(g, x.shape)
//   permute:   dx = permute(g, inverse of dims)   (inverse[dims[i]] = i)

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "../autograd/tensor.hpp"

namespace tg {

// One entry may be -1: inferred from the number of elements.
[[nodiscard]] Tensor reshape(const Tensor& x, const std::vector<std::int64_t>& shape);
// Merges dims start_dim..end_dim into one (as torch.flatten).
[[nodiscard]] Tensor flatten(const Tensor& x, std::int64_t start_dim = 0,
                             std::int64_t end_dim = -1);
[[nodiscard]] Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);

// Without a dim, removes every dim of size 1; with one, removes that dim if it has size 1 and
// otherwise returns x unchanged (as PyTorch). A 0-D tensor takes dim 0 or -1.
[[nodiscard]] Tensor squeeze(const Tensor& x);
[[nodiscard]] Tensor squeeze(const Tensor& x, std::int64_t dim);
// Inserts a dim of size 1 at `dim`, in [-(x.dim() + 1), x.dim()]: -1 appends it.
[[nodiscard]] Tensor unsqueeze(const Tensor& x, std::int64_t dim);
// Output dim i is input dim dims[i]; dims holds each of x's dims once (negative ones allowed).
[[nodiscard]] Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims);

namespace detail {
// A Shape as the dims reshape takes.
std::vector<std::int64_t> as_dims(const Shape& shape);
// The position of a dim inserted into a tensor of `shape` (unsqueeze, stack): `dim` in
// [-(rank + 1), rank], returned in [0, rank].
std::size_t normalize_new_dim(std::string_view op, std::int64_t dim, const Shape& shape);
}  // namespace detail

}  // namespace tg
