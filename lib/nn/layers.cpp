#include "layers.hpp"

#include <fmt/format.h>

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

// Conv2d's line, as PyTorch's: options shown only where they differ from the defaults.
std::string conv_description(const std::string& name, const Conv2d& conv) {
  const Shape& w = conv.weight.shape();
  const Conv2dOptions& o = conv.options;
  std::string text = fmt::format("{}({}, {}, kernel_size=({}, {}), stride={}", name,
                                 w[1] * o.groups, w[0], w[2], w[3], to_string(o.stride));
  if (o.padding != Size2(0)) text += fmt::format(", padding={}", to_string(o.padding));
  if (o.dilation != Size2(1)) text += fmt::format(", dilation={}", to_string(o.dilation));
  if (o.groups != 1) text += fmt::format(", groups={}", o.groups);
  if (!conv.bias.defined()) text += ", bias=False";
  return text + ")";
}

}  // namespace

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel,
               Conv2dOptions conv_options, bool with_bias)
    : options(conv_options) {
  const std::size_t in = positive(in_channels, "Conv2d", "in_channels");
  const std::size_t out = positive(out_channels, "Conv2d", "out_channels");
  const std::size_t kh = positive(kernel.h, "Conv2d", "kernel height");
  const std::size_t kw = positive(kernel.w, "Conv2d", "kernel width");
  if (options.groups < 1 || in % static_cast<std::size_t>(options.groups) != 0 ||
      out % static_cast<std::size_t>(options.groups) != 0) {
    fail("Conv2d: groups must be >= 1 and divide in_channels {} and out_channels {}, got {}", in,
         out, options.groups);
  }
  const std::size_t in_per_group = in / static_cast<std::size_t>(options.groups);
  const double bound = init::default_bound(in_per_group * kh * kw);
  weight = register_parameter("weight", uniform_parameter({out, in_per_group, kh, kw}, bound));
  if (with_bias) bias = register_parameter("bias", uniform_parameter({out}, bound));
}

Tensor Conv2d::forward(const Tensor& input) { return conv2d(input, weight, bias, options); }

std::string Conv2d::describe() const { return conv_description("Conv2d", *this); }

Tensor ConvReLU2d::forward(const Tensor& input) {
  return conv2d_relu(input, weight, bias, options);
}

std::string ConvReLU2d::describe() const { return conv_description("ConvReLU2d", *this); }

ConvReLUMaxPool2d::ConvReLUMaxPool2d(std::int64_t in_channels, std::int64_t out_channels,
                                     Size2 kernel, MaxPool2dOptions pool_options,
                                     Conv2dOptions conv_options, bool with_bias)
    : Conv2d(in_channels, out_channels, kernel, conv_options, with_bias), pool(pool_options) {}

Tensor ConvReLUMaxPool2d::forward(const Tensor& input) {
  return conv2d_relu_max_pool2d(input, weight, bias, options, pool);
}

std::string ConvReLUMaxPool2d::describe() const {
  return conv_description("ConvReLUMaxPool2d", *this) +
         fmt::format(" + MaxPool2d(kernel_size={})", to_string(pool.kernel));
}

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool with_bias) {
  const std::size_t in = positive(in_features, "Linear", "in_features");
  const std::size_t out = positive(out_features, "Linear", "out_features");
  const double bound = init::default_bound(in);
  weight = register_parameter("weight", uniform_parameter({out, in}, bound));
  if (with_bias) bias = register_parameter("bias", uniform_parameter({out}, bound));
}

Tensor Linear::forward(const Tensor& input) { return linear(input, weight, bias); }

std::string Linear::describe() const {
  return fmt::format("Linear(in_features={}, out_features={}, bias={})", weight.shape()[1],
                     weight.shape()[0], bias.defined() ? "True" : "False");
}

Tensor MaxPool2d::forward(const Tensor& input) { return max_pool2d(input, options); }

std::string MaxPool2d::describe() const {
  return fmt::format("MaxPool2d(kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={})",
                     to_string(options.kernel), to_string(options.stride.value_or(options.kernel)),
                     to_string(options.padding), to_string(options.dilation),
                     options.ceil_mode ? "True" : "False");
}

Tensor AvgPool2d::forward(const Tensor& input) { return avg_pool2d(input, options); }

std::string AvgPool2d::describe() const {
  return fmt::format("AvgPool2d(kernel_size={}, stride={}, padding={})", to_string(options.kernel),
                     to_string(options.stride.value_or(options.kernel)),
                     to_string(options.padding));
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) {
  return adaptive_avg_pool2d(input, output_size);
}

std::string AdaptiveAvgPool2d::describe() const {
  return fmt::format("AdaptiveAvgPool2d(output_size={})", to_string(output_size));
}

Tensor Flatten::forward(const Tensor& input) { return flatten(input, start_dim, end_dim); }

std::string Flatten::describe() const {
  return fmt::format("Flatten(start_dim={}, end_dim={})", start_dim, end_dim);
}

Dropout::Dropout(double probability) : p(probability) {
  if (!(p >= 0.0 && p <= 1.0)) fail("Dropout: p must be in [0, 1], got {}", p);
}

Tensor Dropout::forward(const Tensor& input) { return dropout(input, p, is_training()); }

std::string Dropout::describe() const { return fmt::format("Dropout(p={})", p); }

}  // namespace tg::nn
