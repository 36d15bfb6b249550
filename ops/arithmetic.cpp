#include "arithmetic.hpp"

#include <xtensor/xmath.hpp>

#include "../autograd/dispatch.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "broadcast.hpp"
#include "checks.hpp"

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
