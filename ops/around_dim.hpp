#pragma once
// A row-major tensor seen around one of its dims as [outer, length, inner]: the product of the
// dims before it, the dim, and the product of the dims after it. The ops that work along one
// dim (softmax, cat, narrow, max) loop over this view.

#include <cstddef>

#include "../autograd/tensor.hpp"

namespace tg::detail {

struct AroundDim {
  std::size_t outer = 1;
  std::size_t length = 1;
  std::size_t inner = 1;
};

// dim must be in [0, shape.size()).
inline AroundDim around_dim(const Shape& shape, std::size_t dim) {
  AroundDim a;
  for (std::size_t d = 0; d < dim; ++d) a.outer *= shape[d];
  a.length = shape[dim];
  for (std::size_t d = dim + 1; d < shape.size(); ++d) a.inner *= shape[d];
  return a;
}

}  // namespace tg::detail
