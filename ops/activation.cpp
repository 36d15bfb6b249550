#include "activation.hpp"

#include <cmath>

#include "../autograd/dispatch.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "arithmetic.hpp"
#include "checks.hpp"
#include "kernels/activation.hpp"

namespace tg {
namespace {

// A fresh array of x's shape filled by kernel(x_data, out_data, n).
template <class T, class Kernel>
Tensor map_unary(const Tensor& x, const Kernel& kernel) {
  auto out = detail::new_array<T>(x.shape());
  kernel(x.value<T>().data(), out.data(), out.size());
  return tensor(std::move(out));
}

}  // namespace

// Linear in g, so its gradient w.r.t. g is the same op applied to gg; f' is piecewise constant,
// so its gradient w.r.t. x is zero.
Tensor leaky_relu_backward(const Tensor& grad_output, const Tensor& x, double negative_slope) {
  const Tensor& g = grad_output;
  const double slope = negative_slope;
  const char* op = slope == 0.0 ? "relu_backward" : "leaky_relu_backward";
  detail::check_floating(op, g, "grad_output");
  detail::check_same_dtype(op, g, "grad_output", x, "input");
  if (g.shape() != x.shape()) {
    fail("{}: grad_output {} does not match input {}", op, to_string(g.shape()),
         to_string(x.shape()));
  }
  if (!std::isfinite(slope)) {
    fail("{}: negative_slope must be finite, got {} (input {})", op, slope, to_string(x.shape()));
  }
  Tensor out = dispatch_floating(x.dtype(), op, [&]<class T>() {
    auto result = detail::new_array<T>(x.shape());
    const T* gd = g.value<T>().data();
    const T* xd = x.value<T>().data();
    if (slope == 0.0) {
      kernels::relu_backward(gd, xd, result.data(), result.size());
    } else {
      kernels::leaky_relu_backward(gd, xd, static_cast<T>(slope), result.data(), result.size());
    }
    return tensor(std::move(result));
  });
  return record(op, out, {g, x}, [x, slope](const Tensor& gg) {
    return std::vector<Tensor>{leaky_relu_backward(gg, x, slope), Tensor{}};
  });
}

Tensor relu(const Tensor& x) {
  detail::check_floating("relu", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "relu", [&]<class T>() {
    return map_unary<T>(x, [](const T* in, T* o, std::size_t n) { kernels::relu(in, o, n); });
  });
  return record("relu", out, {x}, [x](const Tensor& g) {
    return std::vector<Tensor>{leaky_relu_backward(g, x, 0.0)};
  });
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  detail::check_floating("leaky_relu", x, "input");
  if (!std::isfinite(negative_slope)) {
    fail("leaky_relu: negative_slope must be finite, got {} (input {})", negative_slope,
         to_string(x.shape()));
  }
  Tensor out = dispatch_floating(x.dtype(), "leaky_relu", [&]<class T>() {
    const auto slope = static_cast<T>(negative_slope);
    return map_unary<T>(
        x, [slope](const T* in, T* o, std::size_t n) { kernels::leaky_relu(in, slope, o, n); });
  });
  // A slope of exactly 0 is relu, and its backward is relu's.
  return record("leaky_relu", out, {x}, [x, negative_slope](const Tensor& g) {
    return std::vector<Tensor>{leaky_relu_backward(g, x, negative_slope)};
  });
}

Tensor sigmoid(const Tensor& x) {
  detail::check_floating("sigmoid", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "sigmoid", [&]<class T>() {
    return map_unary<T>(x, [](const T* in, T* o, std::size_t n) { kernels::sigmoid(in, o, n); });
  });
  return record("sigmoid", out, {x}, [](const Tensor& g, const Tensor& y) {
    return std::vector<Tensor>{mul(g, mul(y, 1.0 - y))};
  });
}

Tensor tanh(const Tensor& x) {
  detail::check_floating("tanh", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "tanh", [&]<class T>() {
    return map_unary<T>(x, [](const T* in, T* o, std::size_t n) { kernels::tanh(in, o, n); });
  });
  return record("tanh", out, {x}, [](const Tensor& g, const Tensor& y) {
    return std::vector<Tensor>{mul(g, 1.0 - mul(y, y))};
  });
}

}  // namespace tg
