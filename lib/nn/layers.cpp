#include "layers.hpp"

#include "../../ops/activation.hpp"
#include "../../ops/conv.hpp"
#include "../../ops/dropout.hpp"
#include "../../ops/linear.hpp"
#include "../../ops/pool.hpp"
#include "../../ops/shape.hpp"
#include "init.hpp"

namespace tg::nn {
namespace {

std::size_t positive(std::int64_t value, const char* module, const char* what) {
  if (value <= 0) fail("{}: {} must be positive, got {}", module, what, value);
  return static_cast<std::size_t>(value);
}

// A parameter of `shape` drawn from U(-bound, bound).
Tensor uniform_parameter(const Shape& shape, double bound) {
  Tensor t = zeros(shape);
  init::uniform(t, bound);
  return t;
}

}  // namespace

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel,
               Conv2dOptions conv_options, bool with_bias)
    : options(conv_options) {
  const std::size_t in = positive(in_channels, "Conv2d", "in_channels");
  const std::size_t out = positive(out_channels, "Conv2d", "out_channels");
  const std::size_t kh = positive(kernel.h, "Conv2d", "kernel height");
  const std::size_t kw = positive(kernel.w, "Conv2d", "kernel width");
  const double bound = init::default_bound(in * kh * kw);
  weight = register_parameter("weight", uniform_parameter({out, in, kh, kw}, bound));
  if (with_bias) bias = register_parameter("bias", uniform_parameter({out}, bound));
}

Tensor Conv2d::forward(const Tensor& input) { return conv2d(input, weight, bias, options); }

Tensor ConvReLU2d::forward(const Tensor& input) {
  return conv2d_relu(input, weight, bias, options);
}

ConvReLUMaxPool2d::ConvReLUMaxPool2d(std::int64_t in_channels, std::int64_t out_channels,
                                     Size2 kernel, MaxPool2dOptions pool_options,
                                     Conv2dOptions conv_options, bool with_bias)
    : Conv2d(in_channels, out_channels, kernel, conv_options, with_bias), pool(pool_options) {}

Tensor ConvReLUMaxPool2d::forward(const Tensor& input) {
  return conv2d_relu_max_pool2d(input, weight, bias, options, pool);
}

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool with_bias) {
  const std::size_t in = positive(in_features, "Linear", "in_features");
  const std::size_t out = positive(out_features, "Linear", "out_features");
  const double bound = init::default_bound(in);
  weight = register_parameter("weight", uniform_parameter({out, in}, bound));
  if (with_bias) bias = register_parameter("bias", uniform_parameter({out}, bound));
}

Tensor Linear::forward(const Tensor& input) { return linear(input, weight, bias); }

Tensor MaxPool2d::forward(const Tensor& input) { return max_pool2d(input, options); }

Tensor AvgPool2d::forward(const Tensor& input) { return avg_pool2d(input, options); }

Tensor ReLU::forward(const Tensor& input) { return relu(input); }

Tensor Flatten::forward(const Tensor& input) { return flatten(input, start_dim, end_dim); }

Dropout::Dropout(double probability) : p(probability) {
  if (!(p >= 0.0 && p <= 1.0)) fail("Dropout: p must be in [0, 1], got {}", p);
}

Tensor Dropout::forward(const Tensor& input) { return dropout(input, p, is_training()); }

}  // namespace tg::nn
