#include "conv.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "../autograd/dispatch.hpp"
#include "../autograd/grad_mode.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "activation.hpp"
#include "checks.hpp"
#include "indexing.hpp"
#include "kernels/conv.hpp"
#include "kernels/pool.hpp"
#include "max_pool_argmax.hpp"
#include "pool.hpp"
#include "reduction.hpp"

namespace tg {
namespace {

using kernels::ConvGeometry;

// Checks the options and how the input [N,C_in,H,W] and weight [C_out,C_in,kH,kW] shapes fit
// together, and returns the geometry of one image. `context` lists the shapes for the message.
ConvGeometry geometry(std::string_view op, const Shape& input, const Shape& weight,
                      const Conv2dOptions& o, DType dtype, const std::string& context) {
  if (o.stride.h < 1 || o.stride.w < 1) {
    fail("{}: stride must be >= 1, got {} {}", op, to_string(o.stride), context);
  }
  if (o.dilation.h < 1 || o.dilation.w < 1) {
    fail("{}: dilation must be >= 1, got {} {}", op, to_string(o.dilation), context);
  }
  if (o.padding.h < 0 || o.padding.w < 0) {
    fail("{}: padding must be >= 0, got {} {}", op, to_string(o.padding), context);
  }
  if (input[1] != weight[1]) {
    fail("{}: input has {} channels but weight expects {} {}", op, input[1], weight[1], context);
  }
  if (weight[2] == 0 || weight[3] == 0) {
    fail("{}: the kernel must be at least 1x1, got {}x{} {}", op, weight[2], weight[3], context);
  }
  // Options are bounded, and the arithmetic below runs in 128 bits, so no size can wrap.
  constexpr std::int64_t option_limit = std::int64_t{1} << 30;
  for (const auto& [what, value] : {std::pair{"stride", o.stride}, std::pair{"padding", o.padding},
                                    std::pair{"dilation", o.dilation}}) {
    if (value.h > option_limit || value.w > option_limit) {
      fail("{}: {} must be at most 2^30, got {} {}", op, what, to_string(value), context);
    }
  }
  __extension__ typedef __int128 Wide;  // GCC/Clang: 128-bit intermediate sizes
  const auto k_h = static_cast<std::int64_t>(weight[2]);
  const auto k_w = static_cast<std::int64_t>(weight[3]);
  const Wide span_h = Wide{o.dilation.h} * (k_h - 1) + 1;
  const Wide span_w = Wide{o.dilation.w} * (k_w - 1) + 1;
  const Wide padded_h = Wide{static_cast<std::int64_t>(input[2])} + 2 * Wide{o.padding.h};
  const Wide padded_w = Wide{static_cast<std::int64_t>(input[3])} + 2 * Wide{o.padding.w};
  if (span_h > padded_h || span_w > padded_w) {
    fail(
        "{}: the kernel {}x{} with dilation {} spans {}x{}, larger than the padded input {}x{} "
        "(padding {}): the output would be empty {}",
        op, k_h, k_w, to_string(o.dilation), static_cast<std::int64_t>(span_h),
        static_cast<std::int64_t>(span_w), static_cast<std::int64_t>(padded_h),
        static_cast<std::int64_t>(padded_w), to_string(o.padding), context);
  }
  const auto out_h = static_cast<std::int64_t>((padded_h - span_h) / o.stride.h + 1);
  const auto out_w = static_cast<std::int64_t>((padded_w - span_w) / o.stride.w + 1);
  // The output and the column matrix of one image must have a size that fits. The kernels that
  // copy an image's columns (im2col + GEMM) take that matrix from scratch memory, not from
  // new_array: the memory guard is asked here, whichever kernel will run.
  checked_numel(
      {input[0], weight[0], static_cast<std::size_t>(out_h), static_cast<std::size_t>(out_w)}, op);
  const Shape columns{input[1] * weight[2] * weight[3],
                      static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w)};
  checked_numel({input[1], weight[2], weight[3], static_cast<std::size_t>(out_h),
                 static_cast<std::size_t>(out_w)},
                op);
  detail::check_memory(columns, dtype == DType::f64 ? 8 : 4, "a column buffer");
  return ConvGeometry{.channels = input[1],
                      .height = input[2],
                      .width = input[3],
                      .kernel_h = weight[2],
                      .kernel_w = weight[3],
                      .stride_h = static_cast<std::size_t>(o.stride.h),
                      .stride_w = static_cast<std::size_t>(o.stride.w),
                      .pad_h = static_cast<std::size_t>(o.padding.h),
                      .pad_w = static_cast<std::size_t>(o.padding.w),
                      .dilation_h = static_cast<std::size_t>(o.dilation.h),
                      .dilation_w = static_cast<std::size_t>(o.dilation.w),
                      .out_h = static_cast<std::size_t>(out_h),
                      .out_w = static_cast<std::size_t>(out_w)};
}

// The backward ops take delta as an argument: it must have the shape conv2d gives.
void check_grad_output(std::string_view op, const Tensor& grad_output, std::size_t batch,
                       std::size_t out_channels, const ConvGeometry& g,
                       const std::string& context) {
  const Shape expected{batch, out_channels, g.out_h, g.out_w};
  if (grad_output.shape() != expected) {
    fail("{}: grad_output must be {} for these shapes and options, got {} {}", op,
         to_string(expected), to_string(grad_output.shape()), context);
  }
}

template <class T>
const T* data(const Tensor& t) {
  return t.value<T>().data();
}

template <class T>
xt::xarray<T> uninitialized(const Shape& shape) {
  return detail::new_array<T>(shape);
}

Tensor forward(std::string_view op, const Tensor& input, const Tensor& weight, const Tensor& bias,
               const ConvGeometry& g, kernels::Activation activation) {
  const std::size_t batch = input.shape()[0];
  const std::size_t out_channels = weight.shape()[0];
  return dispatch_floating(input.dtype(), op, [&]<class T>() {
    auto out = uninitialized<T>({batch, out_channels, g.out_h, g.out_w});
    kernels::conv2d_forward<T>(g, batch, out_channels, data<T>(input), data<T>(weight),
                               bias.defined() ? data<T>(bias) : nullptr, out.data(), activation);
    return tensor(std::move(out));
  });
}

Tensor input_grad(const Tensor& grad_output, const Tensor& weight, const Shape& input_shape,
                  const ConvGeometry& g) {
  return dispatch_floating(weight.dtype(), "conv2d_input_grad", [&]<class T>() {
    auto out = uninitialized<T>(input_shape);
    kernels::conv2d_backward_input<T>(g, input_shape[0], weight.shape()[0], data<T>(grad_output),
                                      data<T>(weight), out.data());
    return tensor(std::move(out));
  });
}

// dE/dw, and dE/db into *bias_grad if it is given (with the bits of sum(delta, {0, 2, 3})),
// from one pass over delta; delta = grad_output, or relu_backward(grad_output, *relu_output)
// behind a ReLU.
Tensor weight_grad(const Tensor& grad_output, const Tensor& input, const Shape& weight_shape,
                   const ConvGeometry& g, Tensor* bias_grad = nullptr,
                   const Tensor* relu_output = nullptr) {
  return dispatch_floating(input.dtype(), "conv2d_weight_grad", [&]<class T>() {
    auto out = uninitialized<T>(weight_shape);
    xt::xarray<T> bias = uninitialized<T>({bias_grad != nullptr ? weight_shape[0] : 0});
    kernels::conv2d_backward_weight<T>(g, input.shape()[0], weight_shape[0], data<T>(grad_output),
                                       data<T>(input), out.data(),
                                       bias_grad != nullptr ? bias.data() : nullptr,
                                       relu_output != nullptr ? data<T>(*relu_output) : nullptr);
    if (bias_grad != nullptr) *bias_grad = tensor(std::move(bias));
    return tensor(std::move(out));
  });
}

// The checks of the forward convolutions (conv2d, conv2d_relu, conv2d_relu_max_pool2d); returns
// the geometry.
ConvGeometry check_convolution(std::string_view op, const Tensor& input, const Tensor& weight,
                               const Tensor& bias, const Conv2dOptions& options) {
  detail::check_floating_rank(op, input, "input", 4, "[N,C_in,H,W]");
  detail::check_floating_rank(op, weight, "weight", 4, "[C_out,C_in,kH,kW]");
  detail::check_same_dtype(op, input, "input", weight, "weight");
  const std::string context =
      fmt::format("(input {}, weight {})", to_string(input.shape()), to_string(weight.shape()));
  detail::check_bias(op, bias, weight, "[C_out]", context);
  return geometry(op, input.shape(), weight.shape(), options, input.dtype(), context);
}

// The checks of conv2d_weight_grad; returns the geometry.
ConvGeometry check_weight_grad(const Tensor& grad_output, const Tensor& input,
                               const Shape& weight_shape, const Conv2dOptions& options) {
  constexpr std::string_view op = "conv2d_weight_grad";
  detail::check_floating_rank(op, grad_output, "grad_output", 4, "[N,C_out,H_out,W_out]");
  detail::check_floating_rank(op, input, "input", 4, "[N,C_in,H,W]");
  detail::check_same_dtype(op, grad_output, "grad_output", input, "input");
  detail::check_shape_rank(op, weight_shape, "weight_shape", 4, "[C_out,C_in,kH,kW]");
  checked_numel(weight_shape, op);
  const std::string context =
      fmt::format("(grad_output {}, input {}, weight_shape {})", to_string(grad_output.shape()),
                  to_string(input.shape()), to_string(weight_shape));
  const ConvGeometry g = geometry(op, input.shape(), weight_shape, options, input.dtype(), context);
  check_grad_output(op, grad_output, input.shape()[0], weight_shape[0], g, context);
  return g;
}

// conv2d_weight_grad and, if bias_grad is given, sum(delta, {0, 2, 3}) into it, unrecorded, from
// one pass over delta = grad_output, or relu_backward(grad_output, *relu_output) if that is given.
Tensor conv2d_weight_and_bias_grad(const Tensor& grad_output, const Tensor* relu_output,
                                   const Tensor& input, const Shape& weight_shape,
                                   const Conv2dOptions& options, Tensor* bias_grad) {
  const ConvGeometry g = check_weight_grad(grad_output, input, weight_shape, options);
  return weight_grad(grad_output, input, weight_shape, g, bias_grad, relu_output);
}

// The convolution's gradients, as a closure for a forward op's backward, given dE/d(output)
// `grad` and, for a fused ReLU, the op's output y (else null): delta = dE/dnet is grad, or
// relu_backward(grad, y).
auto convolution_gradients(const Tensor& input, const Tensor& weight, const Tensor& bias,
                           const Conv2dOptions& options) {
  const bool need_input = needs_input_grad(input);
  const bool need_weight = needs_input_grad(weight);
  const bool need_bias = needs_input_grad(bias);
  return [x = keep_if(need_weight, input), w = keep_if(need_input, weight),
          input_shape = input.shape(), weight_shape = weight.shape(), need_input, need_weight,
          need_bias, options](const Tensor& grad, const Tensor* relu_output) {
    // A plain backward (nothing recorded) of a layer whose input needs no gradient (a first
    // layer): the weight and bias gradients from one pass over grad and y, with the bits of the
    // ops below, and delta never written.
    if (relu_output != nullptr && !need_input && need_weight && options.groups == 1 &&
        !needs_grad({grad, x, *relu_output})) {
      Tensor bias_grad;
      Tensor weight_grad = conv2d_weight_and_bias_grad(grad, relu_output, x, weight_shape, options,
                                                       need_bias ? &bias_grad : nullptr);
      return std::vector<Tensor>{Tensor{}, weight_grad, bias_grad};
    }
    const Tensor delta =
        relu_output != nullptr ? leaky_relu_backward(grad, *relu_output, 0.0) : grad;
    Tensor input_grad = need_input ? conv2d_input_grad(delta, w, input_shape, options) : Tensor{};
    // A plain backward: the weight and bias gradients from one pass over delta.
    if (need_weight && need_bias && options.groups == 1 && !needs_grad({delta, x})) {
      Tensor bias_grad;
      Tensor weight_grad =
          conv2d_weight_and_bias_grad(delta, nullptr, x, weight_shape, options, &bias_grad);
      return std::vector<Tensor>{input_grad, weight_grad, bias_grad};
    }
    return std::vector<Tensor>{
        input_grad, need_weight ? conv2d_weight_grad(delta, x, weight_shape, options) : Tensor{},
        need_bias ? sum(delta, {0, 2, 3}) : Tensor{}};
  };
}

// conv2d and conv2d_relu.
Tensor convolution(std::string_view op, const Tensor& input, const Tensor& weight,
                   const Tensor& bias, const Conv2dOptions& options,
                   kernels::Activation activation) {
  const detail::OpContext op_context(op);
  const ConvGeometry g = check_convolution(op, input, weight, bias, options);
  Tensor output = forward(op, input, weight, bias, g, activation);
  auto gradients = convolution_gradients(input, weight, bias, options);
  if (activation == kernels::Activation::none) {
    return record(std::string(op), output, {input, weight, bias},
                  [gradients](const Tensor& grad) { return gradients(grad, nullptr); });
  }
  return record(std::string(op), output, {input, weight, bias},
                [gradients](const Tensor& grad, const Tensor& y) { return gradients(grad, &y); });
}

// groups > 1: checks that the channels split into `groups` groups ([N,C_in,..] input or
// input_shape, [C_out,C_in/groups,..] weight), and returns the options of one group.
Conv2dOptions one_group(std::string_view op, std::size_t input_channels, const Shape& weight,
                        const Conv2dOptions& options, const std::string& context) {
  const std::int64_t groups = options.groups;
  if (groups < 1) fail("{}: groups must be >= 1, got {} {}", op, groups, context);
  const auto g = static_cast<std::size_t>(groups);
  if (g > std::max<std::size_t>(input_channels, 1)) {
    fail("{}: groups {} is more than the {} input channels {}", op, groups, input_channels,
         context);
  }
  if (weight[0] % g != 0) {
    fail("{}: groups {} must divide the {} output channels {}", op, groups, weight[0], context);
  }
  if (input_channels % g != 0 || input_channels / g != weight[1]) {
    fail(
        "{}: input has {} channels, so with groups {} weight must be [C_out,{}/{},kH,kW], got "
        "[{},{},..] {}",
        op, input_channels, groups, input_channels, groups, weight[0], weight[1], context);
  }
  Conv2dOptions one = options;
  one.groups = 1;
  return one;
}

std::vector<Tensor> chunks(const Tensor& t, std::int64_t groups, std::int64_t dim) {
  if (!t.defined()) return std::vector<Tensor>(static_cast<std::size_t>(groups));
  return chunk(t, groups, dim);
}

// A grouped backward map's checks: grad_output's channels are the weight's outputs.
void check_group_channels(std::string_view op, const Tensor& grad_output, std::size_t out_channels,
                          std::string_view weight_name, const std::string& context) {
  if (grad_output.shape()[1] != out_channels) {
    fail("{}: grad_output has {} channels, {} {} {}", op, grad_output.shape()[1], weight_name,
         out_channels, context);
  }
}

// A tensor split into the groups along a dim.
struct Grouped {
  const Tensor& tensor;
  std::int64_t dim;
};

// map(a's group i, b's group i) for each group, concatenated along `dim`: a grouped backward map
// run group by group on the ungrouped kernels.
template <class Map>
Tensor per_group(std::int64_t groups, Grouped a, Grouped b, std::int64_t dim, Map map) {
  const std::vector<Tensor> as = chunk(a.tensor, groups, a.dim);
  const std::vector<Tensor> bs = chunk(b.tensor, groups, b.dim);
  std::vector<Tensor> results;
  for (std::size_t i = 0; i < as.size(); ++i) results.push_back(map(as[i], bs[i]));
  return cat(results, dim);
}

// A grouped conv2d or conv2d_relu, recorded as one node: the forward is one convolution per
// group, concatenated along channels; the backward is the grouped conv2d_input_grad and
// conv2d_weight_grad, which cost what the forward does. (Recorded group by group, each group's
// narrow would send back a gradient the size of the whole input: groups x the work.)
Tensor grouped_convolution(std::string_view op, const Tensor& input, const Tensor& weight,
                           const Tensor& bias, const Conv2dOptions& options,
                           kernels::Activation activation) {
  const detail::OpContext op_context(op);
  detail::check_floating_rank(op, input, "input", 4, "[N,C_in,H,W]");
  detail::check_floating_rank(op, weight, "weight", 4, "[C_out,C_in/groups,kH,kW]");
  const std::string context =
      fmt::format("(input {}, weight {})", to_string(input.shape()), to_string(weight.shape()));
  const Conv2dOptions one = one_group(op, input.shape()[1], weight.shape(), options, context);
  detail::check_bias(op, bias, weight, "[C_out]", context);
  Tensor output;
  {
    const NoGradGuard no_grad;
    const std::vector<Tensor> xs = chunk(input, options.groups, 1);
    const std::vector<Tensor> ws = chunk(weight, options.groups, 0);
    const std::vector<Tensor> bs = chunks(bias, options.groups, 0);
    std::vector<Tensor> outputs;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      outputs.push_back(convolution(op, xs[i], ws[i], bs[i], one, activation));
    }
    output = cat(outputs, 1);
  }
  auto gradients = convolution_gradients(input, weight, bias, options);
  if (activation == kernels::Activation::none) {
    return record(std::string(op), output, {input, weight, bias},
                  [gradients](const Tensor& grad) { return gradients(grad, nullptr); });
  }
  return record(std::string(op), output, {input, weight, bias},
                [gradients](const Tensor& grad, const Tensor& y) { return gradients(grad, &y); });
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  if (options.groups != 1) {
    return grouped_convolution("conv2d", input, weight, bias, options, kernels::Activation::none);
  }
  return convolution("conv2d", input, weight, bias, options, kernels::Activation::none);
}

Tensor conv2d_relu(const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const Conv2dOptions& options) {
  if (options.groups != 1) {
    return grouped_convolution("conv2d_relu", input, weight, bias, options,
                               kernels::Activation::relu);
  }
  return convolution("conv2d_relu", input, weight, bias, options, kernels::Activation::relu);
}

Tensor conv2d_relu_max_pool2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                              const Conv2dOptions& conv_options,
                              const MaxPool2dOptions& pool_options) {
  constexpr std::string_view op = "conv2d_relu_max_pool2d";
  const detail::OpContext op_context(op);
  if (conv_options.groups != 1) {
    return max_pool2d(
        grouped_convolution(op, input, weight, bias, conv_options, kernels::Activation::relu),
        pool_options);
  }
  const ConvGeometry g = check_convolution(op, input, weight, bias, conv_options);
  const std::size_t batch = input.shape()[0];
  const std::size_t out_channels = weight.shape()[0];
  const Shape conv_shape{batch, out_channels, g.out_h, g.out_w};
  const kernels::Pool2dGeometry pool = detail::max_pool_geometry(op, conv_shape, pool_options);
  std::shared_ptr<detail::ArgmaxArray> argmax;
  Tensor output = dispatch_floating(input.dtype(), op, [&]<class T>() {
    // The pooled output passes the memory guard first; its argmax is no larger.
    auto pooled = uninitialized<T>({batch, out_channels, pool.out_h, pool.out_w});
    argmax = std::make_shared<detail::ArgmaxArray>(pooled.size());
    const T* b = bias.defined() ? data<T>(bias) : nullptr;
    const kernels::PooledOutput<T> out{.values = pooled.data(), .argmax = argmax->data()};
    constexpr auto relu = kernels::Activation::relu;
    if (!kernels::conv2d_forward_max_pool<T>(g, batch, out_channels, data<T>(input),
                                             data<T>(weight), b, relu, pool, out)) {
      auto unpooled = uninitialized<T>(conv_shape);
      kernels::conv2d_forward<T>(g, batch, out_channels, data<T>(input), data<T>(weight), b,
                                 unpooled.data(), relu);
      kernels::max_pool2d_forward(pool, unpooled.data(), out.values, out.argmax);
    }
    return tensor(std::move(pooled));
  });
  // delta = relu' x the pool's scatter of g. The mask [y > 0] is taken on the pooled output:
  // the scatter puts nothing but zeros where no window's maximum is, and where one is, the
  // unpooled value is the pooled one.
  return record(std::string(op), output, {input, weight, bias},
                [gradients = convolution_gradients(input, weight, bias, conv_options),
                 argmax = detail::Argmax(std::move(argmax)), pool,
                 conv_shape](const Tensor& grad, const Tensor& y) {
                  return gradients(detail::max_pool_scatter(leaky_relu_backward(grad, y, 0.0),
                                                            argmax, pool, conv_shape),
                                   nullptr);
                });
}

Tensor conv2d_input_grad(const Tensor& grad_output, const Tensor& weight, const Shape& input_shape,
                         const Conv2dOptions& options) {
  constexpr std::string_view op = "conv2d_input_grad";
  const detail::OpContext op_context(op);
  detail::check_floating_rank(op, grad_output, "grad_output", 4, "[N,C_out,H_out,W_out]");
  detail::check_floating_rank(op, weight, "weight", 4, "[C_out,C_in,kH,kW]");
  detail::check_same_dtype(op, grad_output, "grad_output", weight, "weight");
  detail::check_shape_rank(op, input_shape, "input_shape", 4, "[N,C_in,H,W]");
  checked_numel(input_shape, op);
  const std::string context =
      fmt::format("(grad_output {}, weight {}, input_shape {})", to_string(grad_output.shape()),
                  to_string(weight.shape()), to_string(input_shape));
  if (options.groups != 1) {
    const Conv2dOptions one = one_group(op, input_shape[1], weight.shape(), options, context);
    check_group_channels(op, grad_output, weight.shape()[0], "weight", context);
    Shape group_shape = input_shape;
    group_shape[1] /= static_cast<std::size_t>(options.groups);
    return per_group(options.groups, {grad_output, 1}, {weight, 0}, 1,
                     [&](const Tensor& g, const Tensor& w) {
                       return conv2d_input_grad(g, w, group_shape, one);
                     });
  }
  const ConvGeometry g =
      geometry(op, input_shape, weight.shape(), options, weight.dtype(), context);
  check_grad_output(op, grad_output, input_shape[0], weight.shape()[0], g, context);
  Tensor output = input_grad(grad_output, weight, input_shape, g);

  const bool need_grad_output = needs_input_grad(grad_output);
  const bool need_weight = needs_input_grad(weight);
  return record(
      std::string(op), output, {grad_output, weight},
      [delta = keep_if(need_weight, grad_output), w = keep_if(need_grad_output, weight),
       weight_shape = weight.shape(), need_grad_output, need_weight, options](const Tensor& grad) {
        return std::vector<Tensor>{
            need_grad_output ? conv2d(grad, w, Tensor{}, options) : Tensor{},
            need_weight ? conv2d_weight_grad(delta, grad, weight_shape, options) : Tensor{}};
      });
}

Tensor conv2d_weight_grad(const Tensor& grad_output, const Tensor& input, const Shape& weight_shape,
                          const Conv2dOptions& options) {
  constexpr std::string_view op = "conv2d_weight_grad";
  const detail::OpContext op_context(op);
  if (options.groups != 1) {
    detail::check_floating_rank(op, grad_output, "grad_output", 4, "[N,C_out,H_out,W_out]");
    detail::check_floating_rank(op, input, "input", 4, "[N,C_in,H,W]");
    detail::check_shape_rank(op, weight_shape, "weight_shape", 4, "[C_out,C_in/groups,kH,kW]");
    const std::string context =
        fmt::format("(grad_output {}, input {}, weight_shape {})", to_string(grad_output.shape()),
                    to_string(input.shape()), to_string(weight_shape));
    const Conv2dOptions one = one_group(op, input.shape()[1], weight_shape, options, context);
    check_group_channels(op, grad_output, weight_shape[0], "weight_shape", context);
    Shape group_shape = weight_shape;
    group_shape[0] /= static_cast<std::size_t>(options.groups);
    return per_group(options.groups, {grad_output, 1}, {input, 1}, 0,
                     [&](const Tensor& g, const Tensor& x) {
                       return conv2d_weight_grad(g, x, group_shape, one);
                     });
  }
  const ConvGeometry g = check_weight_grad(grad_output, input, weight_shape, options);
  Tensor output = weight_grad(grad_output, input, weight_shape, g);

  const bool need_grad_output = needs_input_grad(grad_output);
  const bool need_input = needs_input_grad(input);
  return record(
      "conv2d_weight_grad", output, {grad_output, input},
      [delta = keep_if(need_input, grad_output), x = keep_if(need_grad_output, input),
       input_shape = input.shape(), need_grad_output, need_input, options](const Tensor& grad) {
        return std::vector<Tensor>{
            need_grad_output ? conv2d(x, grad, Tensor{}, options) : Tensor{},
            need_input ? conv2d_input_grad(delta, grad, input_shape, options) : Tensor{}};
      });
}

}  // namespace tg
