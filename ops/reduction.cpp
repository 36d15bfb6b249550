#include "reduction.hpp"

#include <algorithm>
#include <cmath>

#include <memory>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "arithmetic.hpp"
#include "broadcast.hpp"
#include "checks.hpp"
#include "kernels/reduce.hpp"
#include "shape.hpp"

namespace tg {
namespace {

// Sorted, distinct, non-negative dims; an empty list means all dims (as torch.sum(x, [])).
std::vector<std::size_t> reduced_dims(std::string_view op, const Tensor& x,
                                      const std::vector<std::int64_t>& dims) {
  std::vector<std::size_t> result;
  if (dims.empty()) {
    for (std::size_t d = 0; d < x.dim(); ++d) result.push_back(d);
    return result;
  }
  for (std::int64_t dim : dims) result.push_back(detail::normalize_dim(op, dim, x.shape()));
  std::sort(result.begin(), result.end());
  if (std::adjacent_find(result.begin(), result.end()) != result.end()) {
    fail("{}: a dim appears twice in the list for input {}", op, to_string(x.shape()));
  }
  return result;
}

// x's shape with the reduced dims kept as size 1.
std::vector<std::int64_t> kept_shape(const Shape& shape, const std::vector<std::size_t>& dims) {
  std::vector<std::int64_t> kept(shape.begin(), shape.end());
  for (std::size_t d : dims) kept[d] = 1;
  return kept;
}

}  // namespace

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  detail::check_floating("sum", x, "input");
  const std::vector<std::size_t> axes = reduced_dims("sum", x, dims);
  const std::vector<std::int64_t> kept = kept_shape(x.shape(), axes);
  auto reduce = std::make_unique<bool[]>(x.dim());
  for (std::size_t d : axes) reduce[d] = true;
  Tensor out = dispatch_floating(x.dtype(), "sum", [&]<class T>() {
    Shape out_shape;
    for (std::size_t d = 0; d < x.dim(); ++d) {
      if (keepdim || !std::binary_search(axes.begin(), axes.end(), d)) {
        out_shape.push_back(static_cast<std::size_t>(kept[d]));
      }
    }
    auto summed = detail::new_array<T>(out_shape);
    kernels::sum_dims(x.value<T>().data(), std::span(x.shape().data(), x.dim()),
                      std::span<const bool>(reduce.get(), x.dim()), summed.data());
    return tensor(std::move(summed));
  });
  // Every input element contributes once: its gradient is the output gradient it fed.
  return record("sum", out, {x}, [kept, input_shape = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{expand(reshape(g, kept), input_shape)};
  });
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  const detail::OpContext op_context("mean");
  detail::check_floating("mean", x, "input");
  std::size_t count = 1;
  for (std::size_t d : reduced_dims("mean", x, dims)) count *= x.shape()[d];
  if (count == 0) fail("mean: the reduced dims of input {} hold no elements", to_string(x.shape()));
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  const detail::OpContext op_context("argmax");
  detail::check_floating("argmax", x, "input");
  const std::size_t d = detail::normalize_dim("argmax", dim, x.shape());
  const Shape& shape = x.shape();
  if (shape[d] == 0) fail("argmax: dim {} of input {} is empty", dim, to_string(shape));
  std::size_t outer = 1;
  std::size_t inner = 1;
  for (std::size_t i = 0; i < d; ++i) outer *= shape[i];
  for (std::size_t i = d + 1; i < shape.size(); ++i) inner *= shape[i];
  const std::size_t length = shape[d];

  Shape out_shape = shape;
  if (keepdim) {
    out_shape[d] = 1;
  } else {
    out_shape.erase(out_shape.begin() + static_cast<std::ptrdiff_t>(d));
  }
  auto indices = detail::new_array<std::int64_t>(out_shape);
  dispatch_floating(x.dtype(), "argmax", [&]<class T>() {
    const T* data = x.value<T>().data();
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t i = 0; i < inner; ++i) {
        const T* line = data + o * length * inner + i;
        std::size_t best = 0;
        // Strictly greater keeps the first maximum; a NaN counts as the maximum (as PyTorch).
        for (std::size_t k = 1; k < length && !std::isnan(line[best * inner]); ++k) {
          if (line[k * inner] > line[best * inner] || std::isnan(line[k * inner])) best = k;
        }
        indices.data()[o * inner + i] = static_cast<std::int64_t>(best);
      }
    }
  });
  return tensor(std::move(indices));
}

}  // namespace tg
