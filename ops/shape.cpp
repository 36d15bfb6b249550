#include "shape.hpp"

#include <algorithm>
#include <numeric>
#include <optional>

#include <fmt/ranges.h>
#include <xtensor/xmanipulation.hpp>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "checks.hpp"
#include "kernels/copy.hpp"

namespace tg {
namespace {

// The concrete shape for `requested` (one entry may be -1) holding `numel` elements.
Shape resolve_shape(const Tensor& x, const std::vector<std::int64_t>& requested) {
  Shape shape(requested.size());
  std::size_t known = 1;
  std::optional<std::size_t> inferred;
  for (std::size_t i = 0; i < requested.size(); ++i) {
    if (requested[i] == -1 && !inferred) {
      inferred = i;
    } else if (requested[i] < 0) {
      fail(
          "reshape: invalid target shape [{}] for input {} (only one -1, no other negative "
          "sizes)",
          fmt::join(requested, ","), to_string(x.shape()));
    } else {
      shape[i] = static_cast<std::size_t>(requested[i]);
      if (__builtin_mul_overflow(known, shape[i], &known)) {
        fail("reshape: target shape [{}] has more elements than can be counted",
             fmt::join(requested, ","));
      }
    }
  }
  if (inferred) {
    if (known == 0 || x.numel() % known != 0) {
      fail("reshape: cannot infer the -1 in [{}] for input {} of {} elements",
           fmt::join(requested, ","), to_string(x.shape()), x.numel());
    }
    shape[*inferred] = x.numel() / known;
  } else if (known != x.numel()) {
    fail("reshape: target shape [{}] has {} elements but input {} has {}",
         fmt::join(requested, ","), known, to_string(x.shape()), x.numel());
  }
  return shape;
}

}  // namespace

Tensor reshape(const Tensor& x, const std::vector<std::int64_t>& shape) {
  const detail::OpContext op_context("reshape");
  detail::check_defined("reshape", x, "input");
  const Shape target = resolve_shape(x, shape);
  if (target == x.shape()) return x;
  Tensor out = dispatch_any(x.dtype(), [&]<class T>() {
    xt::xarray<T> copy = detail::new_array<T>(target);
    kernels::copy(x.value<T>().data(), x.numel(), copy.data());
    return tensor(std::move(copy));
  });
  return record("reshape", out, {x},
                [input_shape = detail::as_dims(x.shape())](const Tensor& grad) {
                  return std::vector<Tensor>{reshape(grad, input_shape)};
                });
}

Tensor flatten(const Tensor& x, std::int64_t start_dim, std::int64_t end_dim) {
  const detail::OpContext op_context("flatten");
  detail::check_defined("flatten", x, "input");
  if (x.dim() == 0) return reshape(x, {1});
  const std::size_t start = detail::normalize_dim("flatten", start_dim, x.shape());
  const std::size_t end = detail::normalize_dim("flatten", end_dim, x.shape());
  if (start > end) {
    fail("flatten: start_dim {} comes after end_dim {} for input {}", start_dim, end_dim,
         to_string(x.shape()));
  }
  std::vector<std::int64_t> target;
  for (std::size_t d = 0; d < start; ++d) target.push_back(static_cast<std::int64_t>(x.shape()[d]));
  const std::size_t merged = std::accumulate(x.shape().begin() + start, x.shape().begin() + end + 1,
                                             std::size_t{1}, std::multiplies<>());
  target.push_back(static_cast<std::int64_t>(merged));
  for (std::size_t d = end + 1; d < x.dim(); ++d) {
    target.push_back(static_cast<std::int64_t>(x.shape()[d]));
  }
  return reshape(x, target);
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  const detail::OpContext op_context("transpose");
  detail::check_defined("transpose", x, "input");
  const std::size_t a = detail::normalize_dim("transpose", dim0, x.shape());
  const std::size_t b = detail::normalize_dim("transpose", dim1, x.shape());
  if (a == b) return x;
  std::vector<std::size_t> permutation(x.dim());
  std::iota(permutation.begin(), permutation.end(), std::size_t{0});
  std::swap(permutation[a], permutation[b]);
  Shape shape = x.shape();
  std::swap(shape[a], shape[b]);
  Tensor out = dispatch_any(x.dtype(), [&]<class T>() {
    return tensor(detail::new_array<T>(shape, xt::transpose(x.value<T>(), permutation)));
  });
  return record("transpose", out, {x}, [dim0, dim1](const Tensor& grad) {
    return std::vector<Tensor>{transpose(grad, dim0, dim1)};
  });
}

Tensor squeeze(const Tensor& x) {
  const detail::OpContext op_context("squeeze");
  detail::check_defined("squeeze", x, "input");
  std::vector<std::int64_t> kept;
  for (const std::size_t size : x.shape()) {
    if (size != 1) kept.push_back(static_cast<std::int64_t>(size));
  }
  return reshape(x, kept);
}

Tensor squeeze(const Tensor& x, std::int64_t dim) {
  const detail::OpContext op_context("squeeze");
  detail::check_defined("squeeze", x, "input");
  // PyTorch lets a 0-D tensor name dim 0 or -1 here, as if it had one dim of size 1.
  if (x.dim() == 0) {
    if (dim != 0 && dim != -1) {
      fail("squeeze: dim {} is out of range for input [] (expected -1 or 0)", dim);
    }
    return x;
  }
  const std::size_t d = detail::normalize_dim("squeeze", dim, x.shape());
  if (x.shape()[d] != 1) return x;
  std::vector<std::int64_t> kept = detail::as_dims(x.shape());
  kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(d));
  return reshape(x, kept);
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
  const detail::OpContext op_context("unsqueeze");
  detail::check_defined("unsqueeze", x, "input");
  const std::size_t d = detail::normalize_new_dim("unsqueeze", dim, x.shape());
  std::vector<std::int64_t> target = detail::as_dims(x.shape());
  target.insert(target.begin() + static_cast<std::ptrdiff_t>(d), 1);
  return reshape(x, target);
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims) {
  const detail::OpContext op_context("permute");
  detail::check_defined("permute", x, "input");
  if (dims.size() != x.dim()) {
    fail("permute: dims [{}] name {} dims but input {} has {}", fmt::join(dims, ","), dims.size(),
         to_string(x.shape()), x.dim());
  }
  std::vector<std::size_t> order(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    order[i] = detail::normalize_dim("permute", dims[i], x.shape());
    if (seen[order[i]]) {
      fail("permute: dim {} appears twice in [{}] for input {}", order[i], fmt::join(dims, ","),
           to_string(x.shape()));
    }
    seen[order[i]] = true;
  }
  if (std::is_sorted(order.begin(), order.end())) return x;  // the identity
  Shape shape(order.size());
  std::vector<std::int64_t> inverse(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    shape[i] = x.shape()[order[i]];
    inverse[order[i]] = static_cast<std::int64_t>(i);
  }
  Tensor out = dispatch_any(x.dtype(), [&]<class T>() {
    return tensor(detail::new_array<T>(shape, xt::transpose(x.value<T>(), order)));
  });
  return record("permute", out, {x}, [inverse](const Tensor& grad) {
    return std::vector<Tensor>{permute(grad, inverse)};
  });
}

namespace detail {

std::vector<std::int64_t> as_dims(const Shape& shape) {
  return std::vector<std::int64_t>(shape.begin(), shape.end());
}

std::size_t normalize_new_dim(std::string_view op, std::int64_t dim, const Shape& shape) {
  const auto rank = static_cast<std::int64_t>(shape.size());
  if (dim < -(rank + 1) || dim > rank) {
    fail("{}: dim {} is out of range for a new dim of input {} (expected {} to {})", op, dim,
         to_string(shape), -(rank + 1), rank);
  }
  return static_cast<std::size_t>(dim < 0 ? dim + rank + 1 : dim);
}

}  // namespace detail
}  // namespace tg
