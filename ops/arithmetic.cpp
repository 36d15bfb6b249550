#include "arithmetic.hpp"

#include <cmath>
#include <limits>

#include <xtensor/xmath.hpp>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "broadcast.hpp"
#include "checks.hpp"
#include "comparison.hpp"

namespace tg {
namespace {

enum class BinaryOp { add, sub, mul, div };

constexpr const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
      return "add";
    case BinaryOp::sub:
      return "sub";
    case BinaryOp::mul:
      return "mul";
    case BinaryOp::div:
      return "div";
  }
  return "?";
}

// Checks the operands and computes op(a, b) with broadcasting (no recording).
Tensor binary_values(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  detail::check_floating(name, a, "first operand");
  detail::check_floating(name, b, "second operand");
  detail::check_same_dtype(name, a, "first operand", b, "second operand");
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  return dispatch_floating(a.dtype(), name, [&]<class T>() {
    const auto& x = a.value<T>();
    const auto& y = b.value<T>();
    switch (op) {
      case BinaryOp::add:
        return tensor(detail::new_array<T>(shape, x + y));
      case BinaryOp::sub:
        return tensor(detail::new_array<T>(shape, x - y));
      case BinaryOp::mul:
        return tensor(detail::new_array<T>(shape, x * y));
      case BinaryOp::div:
        return tensor(detail::new_array<T>(shape, x / y));
    }
    return Tensor{};
  });
}

// A double operand as a 0-D tensor of the other operand's dtype.
Tensor scalar_like(const Tensor& like, double value) {
  const DType dtype = like.defined() && is_floating(like.dtype()) ? like.dtype() : DType::f32;
  return full({}, value, {.dtype = dtype});
}

// sign(x) in x's dtype: -1, 0 or 1, and 0 for NaN (as torch.sign). A constant: abs's gradient
// g * sign(x) has zero derivative in x wherever it has one.
Tensor sign_of(const Tensor& x) {
  return dispatch_floating(x.dtype(), "abs", [&]<class T>() {
    auto result = detail::new_array<T>(x.shape());
    const T* in = x.value<T>().data();
    T* out = result.data();
    for (std::size_t i = 0; i < result.size(); ++i) {
      out[i] = static_cast<T>((T(0) < in[i]) - (in[i] < T(0)));
    }
    return tensor(std::move(result));
  });
}

// 1 where lo <= x <= hi, else 0 (NaN included), in x's dtype: where clamp passes x through.
// The bounds are compared in x's dtype, as the forward clamps in it.
Tensor inside(const Tensor& x, double lo, double hi) {
  return dispatch_floating(x.dtype(), "clamp", [&]<class T>() {
    auto result = detail::new_array<T>(x.shape());
    const T* in = x.value<T>().data();
    T* out = result.data();
    const auto low = static_cast<T>(lo);
    const auto high = static_cast<T>(hi);
    for (std::size_t i = 0; i < result.size(); ++i) {
      out[i] = in[i] >= low && in[i] <= high ? T(1) : T(0);
    }
    return tensor(std::move(result));
  });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(BinaryOp::add, a, b);
  return record("add", out, {a, b},
                [sa = a.shape(), sb = b.shape(), need_a = needs_input_grad(a),
                 need_b = needs_input_grad(b)](const Tensor& g) {
                  return std::vector<Tensor>{need_a ? sum_to(g, sa) : Tensor{},
                                             need_b ? sum_to(g, sb) : Tensor{}};
                });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(BinaryOp::sub, a, b);
  return record("sub", out, {a, b},
                [sa = a.shape(), sb = b.shape(), need_a = needs_input_grad(a),
                 need_b = needs_input_grad(b)](const Tensor& g) {
                  return std::vector<Tensor>{need_a ? sum_to(g, sa) : Tensor{},
                                             need_b ? sum_to(neg(g), sb) : Tensor{}};
                });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(BinaryOp::mul, a, b);
  const bool need_a = needs_input_grad(a);
  const bool need_b = needs_input_grad(b);
  return record("mul", out, {a, b},
                [a_kept = keep_if(need_b, a), b_kept = keep_if(need_a, b), need_a, need_b,
                 sa = a.shape(), sb = b.shape()](const Tensor& g) {
                  return std::vector<Tensor>{need_a ? sum_to(mul(g, b_kept), sa) : Tensor{},
                                             need_b ? sum_to(mul(g, a_kept), sb) : Tensor{}};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(BinaryOp::div, a, b);
  const bool need_a = needs_input_grad(a);
  const bool need_b = needs_input_grad(b);
  return record("div", out, {a, b},
                [a_kept = keep_if(need_b, a), b, need_a, need_b, sa = a.shape()](const Tensor& g) {
                  return std::vector<Tensor>{
                      need_a ? sum_to(div(g, b), sa) : Tensor{},
                      need_b ? sum_to(neg(div(mul(g, a_kept), mul(b, b))), b.shape()) : Tensor{}};
                });
}

Tensor add(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }

Tensor neg(const Tensor& x) {
  detail::check_floating("neg", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "neg", [&]<class T>() {
    return tensor(detail::new_array<T>(x.shape(), -x.value<T>()));
  });
  return record("neg", out, {x}, [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
}

Tensor exp(const Tensor& x) {
  detail::check_floating("exp", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "exp", [&]<class T>() {
    return tensor(detail::new_array<T>(x.shape(), xt::exp(x.value<T>())));
  });
  return record("exp", out, {x},
                [](const Tensor& g, const Tensor& y) { return std::vector<Tensor>{mul(g, y)}; });
}

Tensor log(const Tensor& x) {
  detail::check_floating("log", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "log", [&]<class T>() {
    return tensor(detail::new_array<T>(x.shape(), xt::log(x.value<T>())));
  });
  return record("log", out, {x}, [x](const Tensor& g) { return std::vector<Tensor>{div(g, x)}; });
}

Tensor pow(const Tensor& x, double exponent) {
  detail::check_floating("pow", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "pow", [&]<class T>() {
    return tensor(detail::new_array<T>(x.shape(), xt::pow(x.value<T>(), static_cast<T>(exponent))));
  });
  return record("pow", out, {x}, [x, exponent](const Tensor& g) {
    if (exponent == 0.0) return std::vector<Tensor>{mul(g, 0.0)};
    return std::vector<Tensor>{mul(g, mul(pow(x, exponent - 1.0), exponent))};
  });
}

Tensor abs(const Tensor& x) {
  detail::check_floating("abs", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "abs", [&]<class T>() {
    return tensor(detail::new_array<T>(x.shape(), xt::abs(x.value<T>())));
  });
  return record("abs", out, {x},
                [x](const Tensor& g) { return std::vector<Tensor>{mul(g, sign_of(x))}; });
}

Tensor sqrt(const Tensor& x) {
  detail::check_floating("sqrt", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "sqrt", [&]<class T>() {
    return tensor(detail::new_array<T>(x.shape(), xt::sqrt(x.value<T>())));
  });
  // Written with the output, so that the second derivative -g / (4 x^(3/2)) follows from div's.
  return record("sqrt", out, {x}, [](const Tensor& g, const Tensor& y) {
    return std::vector<Tensor>{div(g, mul(y, 2.0))};
  });
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  detail::check_floating("clamp", x, "input");
  if (!lo && !hi) {
    fail("clamp: at least one of lo and hi must be given (input {})", to_string(x.shape()));
  }
  if ((lo && std::isnan(*lo)) || (hi && std::isnan(*hi))) {
    fail("clamp: the bounds must not be NaN, got lo {} and hi {} (input {})",
         lo ? fmt::format("{}", *lo) : "none", hi ? fmt::format("{}", *hi) : "none",
         to_string(x.shape()));
  }
  constexpr double infinity = std::numeric_limits<double>::infinity();
  const double low = lo.value_or(-infinity);
  const double high = hi.value_or(infinity);
  if (low > high) {
    fail("clamp: lo {} is greater than hi {} (input {}); PyTorch would return hi everywhere", low,
         high, to_string(x.shape()));
  }
  Tensor out = dispatch_floating(x.dtype(), "clamp", [&]<class T>() {
    auto result = detail::new_array<T>(x.shape());
    const T* in = x.value<T>().data();
    T* o = result.data();
    const auto l = static_cast<T>(low);
    const auto h = static_cast<T>(high);
    // Comparisons with NaN are false, so a NaN passes through (as PyTorch).
    for (std::size_t i = 0; i < result.size(); ++i) o[i] = in[i] < l ? l : (in[i] > h ? h : in[i]);
    return tensor(std::move(result));
  });
  // where, not g * mask: an infinite or NaN g outside [lo, hi] gives 0 there, as PyTorch.
  return record("clamp", out, {x}, [x, low, high](const Tensor& g) {
    return std::vector<Tensor>{where(inside(x, low, high), g, 0.0)};
  });
}

Tensor clamp_min(const Tensor& x, double lo) {
  const detail::OpContext op_context("clamp_min");
  return clamp(x, lo, std::nullopt);
}

Tensor clamp_max(const Tensor& x, double hi) {
  const detail::OpContext op_context("clamp_max");
  return clamp(x, std::nullopt, hi);
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }
Tensor operator-(const Tensor& x) { return neg(x); }

}  // namespace tg
