#include "broadcast.hpp"

#include <memory>

#include "../autograd/dispatch.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "checks.hpp"
#include "kernels/copy.hpp"
#include "kernels/reduce.hpp"

namespace tg {
namespace {

// True if `from` broadcasts to exactly `to`.
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const std::size_t offset = to.size() - from.size();
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (from[i] != 1 && from[i] != to[offset + i]) return false;
  }
  return true;
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    // Aligned from the right; a missing dimension counts as 1.
    const std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      fail("{}: shapes {} and {} do not broadcast (dimension {} from the right: {} vs {})", op,
           to_string(a), to_string(b), rank - i, da, db);
    }
    result[i] = da == 1 ? db : da;
  }
  return result;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  detail::check_floating("expand", x, "input");
  checked_numel(shape, "expand");
  if (!broadcasts_to(x.shape(), shape)) {
    fail("expand: a tensor of shape {} cannot be expanded to {}", to_string(x.shape()),
         to_string(shape));
  }
  if (x.shape() == shape) return x;
  // x's shape with leading 1s up to shape's rank: the same array, seen at the output's rank.
  Shape from(shape.size() - x.dim(), 1);
  from.insert(from.end(), x.shape().begin(), x.shape().end());
  Tensor out = dispatch_floating(x.dtype(), "expand", [&]<class T>() {
    auto values = detail::new_array<T>(shape);
    if (values.size() != 0) {
      kernels::broadcast_copy(x.value<T>().data(), from.data(), shape.data(), shape.size(),
                              values.data());
    }
    return tensor(std::move(values));
  });
  const Shape input_shape = x.shape();
  return record("expand", out, {x}, [input_shape](const Tensor& grad) {
    return std::vector<Tensor>{sum_to(grad, input_shape)};
  });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  detail::check_floating("sum_to", x, "input");
  if (!broadcasts_to(shape, x.shape())) {
    fail(
        "sum_to: a tensor of shape {} cannot be summed to {} (that shape does not broadcast "
        "to it)",
        to_string(x.shape()), to_string(shape));
  }
  if (x.shape() == shape) return x;
  // Leading dimensions that `shape` lacks, and dimensions where it has 1, are summed.
  const std::size_t leading = x.dim() - shape.size();
  auto reduce = std::make_unique<bool[]>(x.dim());
  for (std::size_t d = 0; d < x.dim(); ++d) {
    reduce[d] = d < leading || (shape[d - leading] == 1 && x.shape()[d] != 1);
  }
  Tensor out = dispatch_floating(x.dtype(), "sum_to", [&]<class T>() {
    auto summed = detail::new_array<T>(shape);
    kernels::sum_dims(x.value<T>().data(), std::span(x.shape().data(), x.dim()),
                      std::span<const bool>(reduce.get(), x.dim()), summed.data());
    return tensor(std::move(summed));
  });
  const Shape input_shape = x.shape();
  return record("sum_to", out, {x}, [input_shape](const Tensor& grad) {
    return std::vector<Tensor>{expand(grad, input_shape)};
  });
}

}  // namespace tg
