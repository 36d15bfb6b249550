#include "activation.hpp"

#include <cmath>
#include <limits>
#include <numbers>

#include "../autograd/dispatch.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "arithmetic.hpp"
#include "checks.hpp"
#include "comparison.hpp"
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

// phi(x) = e^(-x^2/2) / sqrt(2 pi), composed of ops (so differentiable to any order).
Tensor normal_pdf(const Tensor& x) {
  const double inv_sqrt_2pi = std::numbers::inv_sqrtpi / std::numbers::sqrt2;
  return mul(exp(mul(mul(x, x), -0.5)), inv_sqrt_2pi);
}

// Phi(x), the standard normal CDF; dx = g * phi(x). gelu's derivative reads it.
Tensor normal_cdf(const Tensor& x) {
  Tensor out = dispatch_floating(x.dtype(), "normal_cdf", [&]<class T>() {
    return map_unary<T>(x, [](const T* in, T* o, std::size_t n) { kernels::normal_cdf(in, o, n); });
  });
  return record("normal_cdf", out, {x},
                [x](const Tensor& g) { return std::vector<Tensor>{mul(g, normal_pdf(x))}; });
}

// gelu'(x) = Phi(x) + x phi(x).
Tensor gelu_derivative(const Tensor& x) { return add(normal_cdf(x), mul(x, normal_pdf(x))); }

// The tanh form's derivative: 1/2 (1 + t) + 1/2 x (1 - t^2) u'.
Tensor gelu_tanh_derivative(const Tensor& x) {
  const double sqrt_2_over_pi = std::numbers::sqrt2 * std::numbers::inv_sqrtpi;
  const double kappa = 0.044715;
  const Tensor x2 = mul(x, x);
  const Tensor t = tanh(mul(mul(x, add(mul(x2, kappa), 1.0)), sqrt_2_over_pi));
  const Tensor du = mul(add(mul(x2, 3.0 * kappa), 1.0), sqrt_2_over_pi);
  return mul(add(add(t, 1.0), mul(mul(x, 1.0 - mul(t, t)), du)), 0.5);
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

Tensor gelu(const Tensor& x, GeluApproximate approximate) {
  detail::check_floating("gelu", x, "input");
  if (approximate != GeluApproximate::none && approximate != GeluApproximate::tanh) {
    fail("gelu: approximate must be GeluApproximate::none or ::tanh, got {} (input {})",
         static_cast<int>(approximate), to_string(x.shape()));
  }
  const bool exact = approximate == GeluApproximate::none;
  Tensor out = dispatch_floating(x.dtype(), "gelu", [&]<class T>() {
    return map_unary<T>(x, [exact](const T* in, T* o, std::size_t n) {
      exact ? kernels::gelu(in, o, n) : kernels::gelu_tanh(in, o, n);
    });
  });
  return record("gelu", out, {x}, [x, exact](const Tensor& g) {
    return std::vector<Tensor>{mul(g, exact ? gelu_derivative(x) : gelu_tanh_derivative(x))};
  });
}

Tensor silu(const Tensor& x) {
  detail::check_floating("silu", x, "input");
  Tensor out = dispatch_floating(x.dtype(), "silu", [&]<class T>() {
    return map_unary<T>(x, [](const T* in, T* o, std::size_t n) { kernels::silu(in, o, n); });
  });
  return record("silu", out, {x}, [x](const Tensor& g, const Tensor& y) {
    const Tensor s = sigmoid(x);
    return std::vector<Tensor>{mul(g, add(s, mul(y, 1.0 - s)))};
  });
}

Tensor elu(const Tensor& x, double alpha) {
  detail::check_floating("elu", x, "input");
  if (!std::isfinite(alpha)) {
    fail("elu: alpha must be finite, got {} (input {})", alpha, to_string(x.shape()));
  }
  Tensor out = dispatch_floating(x.dtype(), "elu", [&]<class T>() {
    const auto a = static_cast<T>(alpha);
    return map_unary<T>(x, [a](const T* in, T* o, std::size_t n) { kernels::elu(in, a, o, n); });
  });
  // y + alpha = alpha e^x on the left, read from the output: no exp to recompute, none to
  // overflow on the right, where the branch is not taken.
  return record("elu", out, {x}, [x, alpha](const Tensor& g, const Tensor& y) {
    return std::vector<Tensor>{where(gt(x, 0.0), g, mul(g, add(y, alpha)))};
  });
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  detail::check_floating("softplus", x, "input");
  if (!(std::isfinite(beta) && beta > 0.0)) {
    fail("softplus: beta must be positive and finite, got {} (input {})", beta,
         to_string(x.shape()));
  }
  if (std::isnan(threshold)) {
    fail("softplus: threshold must not be NaN (input {})", to_string(x.shape()));
  }
  Tensor out = dispatch_floating(x.dtype(), "softplus", [&]<class T>() {
    const auto b = static_cast<T>(beta);
    const auto th = static_cast<T>(threshold);
    return map_unary<T>(
        x, [b, th](const T* in, T* o, std::size_t n) { kernels::softplus(in, b, th, o, n); });
  });
  return record("softplus", out, {x}, [x, beta, threshold](const Tensor& g) {
    // b x as the forward computed it (in x's dtype), so the branches switch at the same place.
    const Tensor z = mul(x, beta);
    const Tensor smooth = mul(g, sigmoid(z));
    if (threshold == std::numeric_limits<double>::infinity()) return std::vector<Tensor>{smooth};
    return std::vector<Tensor>{where(gt(z, threshold), g, smooth)};
  });
}

}  // namespace tg
