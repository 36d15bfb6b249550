#include "comparison.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

#include <xtensor/xoperation.hpp>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/profiler.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "broadcast.hpp"
#include "checks.hpp"

namespace tg {
namespace {

enum class Comparison { eq, ne, lt, le, gt, ge };

constexpr const char* op_name(Comparison comparison) {
  switch (comparison) {
    case Comparison::eq:
      return "eq";
    case Comparison::ne:
      return "ne";
    case Comparison::lt:
      return "lt";
    case Comparison::le:
      return "le";
    case Comparison::gt:
      return "gt";
    case Comparison::ge:
      return "ge";
  }
  return "?";
}

// The mask of `comparison` between two xtensor operands (arrays, or an array and a number),
// broadcast to `shape`, as 1 and 0 of type T.
template <class T, class A, class B>
xt::xarray<T> mask_of(Comparison comparison, const Shape& shape, const A& a, const B& b) {
  switch (comparison) {
    case Comparison::eq:
      return detail::new_array<T>(shape, xt::cast<T>(xt::equal(a, b)));
    case Comparison::ne:
      return detail::new_array<T>(shape, xt::cast<T>(xt::not_equal(a, b)));
    case Comparison::lt:
      return detail::new_array<T>(shape, xt::cast<T>(xt::less(a, b)));
    case Comparison::le:
      return detail::new_array<T>(shape, xt::cast<T>(xt::less_equal(a, b)));
    case Comparison::gt:
      return detail::new_array<T>(shape, xt::cast<T>(xt::greater(a, b)));
    case Comparison::ge:
      return detail::new_array<T>(shape, xt::cast<T>(xt::greater_equal(a, b)));
  }
  return {};
}

Tensor compare(Comparison comparison, const Tensor& a, const Tensor& b) {
  const char* op = op_name(comparison);
  const detail::OpContext op_context(op);
  const profiler::Scope timed(op);
  detail::check_defined(op, a, "first operand");
  detail::check_defined(op, b, "second operand");
  detail::check_same_dtype(op, a, "first operand", b, "second operand");
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  return dispatch_any(a.dtype(), [&]<class T>() {
    return tensor(mask_of<T>(comparison, shape, a.value<T>(), b.value<T>()));
  });
}

Tensor compare(Comparison comparison, const Tensor& a, double b) {
  const char* op = op_name(comparison);
  const detail::OpContext op_context(op);
  const profiler::Scope timed(op);
  detail::check_defined(op, a, "first operand");
  return dispatch_any(a.dtype(), [&]<class T>() {
    if constexpr (std::is_floating_point_v<T>) {
      return tensor(mask_of<T>(comparison, a.shape(), a.value<T>(), static_cast<T>(b)));
    } else {
      // In double: exact for labels and indices (below 2^53), and 2 < 2.5 holds.
      return tensor(mask_of<T>(comparison, a.shape(), xt::cast<double>(a.value<T>()), b));
    }
  });
}

// `value` as a 0-D tensor of `like`'s dtype: the number operand of where.
Tensor scalar_like(const Tensor& like, double value, const char* which) {
  detail::check_defined("where", like, which);
  // 2^63 itself is out of range: the bound is exclusive. NaN fails the comparison too.
  constexpr double i64_limit = 9223372036854775808.0;
  if (like.dtype() == DType::i64 && !(std::abs(value) < i64_limit && value == std::floor(value))) {
    fail("where: {} is i64 {} but the other branch is {}, not a whole number in i64's range", which,
         to_string(like.shape()), value);
  }
  return full({}, value, {.dtype = like.dtype()});
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(Comparison::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(Comparison::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(Comparison::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(Comparison::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(Comparison::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(Comparison::ge, a, b); }
Tensor eq(const Tensor& a, double b) { return compare(Comparison::eq, a, b); }
Tensor ne(const Tensor& a, double b) { return compare(Comparison::ne, a, b); }
Tensor lt(const Tensor& a, double b) { return compare(Comparison::lt, a, b); }
Tensor le(const Tensor& a, double b) { return compare(Comparison::le, a, b); }
Tensor gt(const Tensor& a, double b) { return compare(Comparison::gt, a, b); }
Tensor ge(const Tensor& a, double b) { return compare(Comparison::ge, a, b); }

Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
  const detail::OpContext op_context("where");
  const profiler::Scope timed("where");
  detail::check_defined("where", mask, "mask");
  detail::check_defined("where", a, "first branch");
  detail::check_defined("where", b, "second branch");
  detail::check_same_dtype("where", a, "first branch", b, "second branch");
  const Shape shape =
      broadcast_shapes(mask.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = dispatch_any(a.dtype(), [&]<class T>() {
    return dispatch_any(mask.dtype(), [&]<class M>() {
      // != 0 rather than a cast to bool: the same test, spelled as the documentation says.
      return tensor(detail::new_array<T>(
          shape, xt::where(xt::not_equal(mask.value<M>(), M(0)), a.value<T>(), b.value<T>())));
    });
  });
  // i64 branches carry no gradient, whatever the mask.
  if (!is_floating(out.dtype())) return out;
  // The mask is an input only so that changing it in place before backward is caught (the
  // engine's version check); it gets no gradient.
  const bool need_a = needs_input_grad(a);
  const bool need_b = needs_input_grad(b);
  return record("where", out, {mask, a, b},
                [mask, need_a, need_b, sa = a.shape(), sb = b.shape()](const Tensor& g) {
                  return std::vector<Tensor>{Tensor{},
                                             need_a ? sum_to(where(mask, g, 0.0), sa) : Tensor{},
                                             need_b ? sum_to(where(mask, 0.0, g), sb) : Tensor{}};
                });
}

Tensor where(const Tensor& mask, const Tensor& a, double b) {
  return where(mask, a, scalar_like(a, b, "the first branch"));
}

Tensor where(const Tensor& mask, double a, const Tensor& b) {
  return where(mask, scalar_like(b, a, "the second branch"), b);
}

}  // namespace tg
