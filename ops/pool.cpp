#include "pool.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../autograd/dispatch.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "checks.hpp"
#include "kernels/pool.hpp"
#include "max_pool_argmax.hpp"

namespace tg {
namespace {

using kernels::Pool2dGeometry;

// The argmax lives as an int32 array (detail::Argmax) shared by every closure of one
// max_pool2d: max_pool2d's backward, the scatter it records, the gather that scatter's backward
// records, and so on to any order. The kernels read it directly, it takes half the memory of
// i64 (it is held for the whole forward-backward span of every pooling layer), and it is never
// converted while training. The i64 Tensor form exists only at the public max_pool2d_scatter /
// _gather boundary, which checks its range and converts it once per call.
using detail::Argmax;

constexpr auto int32_max = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());

struct Window {
  Size2 kernel;
  Size2 stride;
  Size2 padding;
  Size2 dilation = 1;
  bool ceil_mode = false;
};

// The stride defaults to the kernel.
Window window_of(const MaxPool2dOptions& o) {
  return {o.kernel, o.stride.value_or(o.kernel), o.padding, o.dilation, o.ceil_mode};
}
Window window_of(const AvgPool2dOptions& o) {
  return {o.kernel, o.stride.value_or(o.kernel), o.padding};
}

// The H x W plane of a 4-D shape must be non-empty (else a window could hold no input
// position) and indexable by the int32 argmax.
void check_plane(std::string_view op, std::string_view what, const Shape& shape) {
  const std::size_t h = shape[2];
  const std::size_t w = shape[3];
  if (h == 0 || w == 0) {
    fail("{}: {} {} has an empty HxW plane; expected H >= 1 and W >= 1", op, what,
         to_string(shape));
  }
  if (h > int32_max / w) {
    fail("{}: {} {} has planes of {}x{} elements, more than the int32 argmax can index", op, what,
         to_string(shape), h, w);
  }
}

// The output size along one dim (PyTorch's formula: floor, or ceil, of (in + 2 padding - extent)
// / stride, plus 1), or 0 or less if the window does not fit. The window spans extent =
// dilation * (kernel - 1) + 1 input positions; in ceil_mode a last window may reach past the
// padding.
std::int64_t pooled_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                         std::int64_t padding, std::int64_t dilation, bool ceil_mode) {
  if (kernel - 1 > (std::numeric_limits<std::int64_t>::max() - 1) / dilation) return 0;
  // extent - 2 * padding cannot overflow once the extent does not (padding <= kernel / 2),
  // unlike in + 2 * padding.
  const std::int64_t reach = dilation * (kernel - 1) + 1 - 2 * padding;
  const std::int64_t span = in - reach;
  // Rounded down (or up), span / stride: divisions only, since stride may be near 2^63.
  std::int64_t out = 0;
  if (span >= 0) {
    out = span / stride + 1 + (ceil_mode && span % stride != 0 ? 1 : 0);
  } else if (ceil_mode && -span < stride) {
    out = 1;  // rounded up, -1 < span / stride < 0 is 0
  } else {
    return 0;
  }
  // A ceil_mode window must start inside the input or its left padding: (out - 1) stride <
  // in + padding, that is out - 1 < ceil((in + padding) / stride).
  const std::int64_t limit = in + padding;
  if (ceil_mode && out - 1 >= limit / stride + (limit % stride != 0 ? 1 : 0)) --out;
  return out;
}

// Whether every window along a dim holds an input position (with dilation, the taps of a window
// at the border can all fall into the padding).
bool every_window_holds_input(std::int64_t in, std::int64_t out, std::int64_t kernel,
                              std::int64_t stride, std::int64_t padding, std::int64_t dilation) {
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t start = o * stride - padding;
    const std::int64_t first_tap = start < 0 ? (-start + dilation - 1) / dilation : 0;
    if (first_tap >= kernel || start + first_tap * dilation >= in) return false;
  }
  return true;
}

// Validates the window against a 4-D input shape (PyTorch's rules) and returns the kernels'
// geometry.
Pool2dGeometry pool_geometry(std::string_view op, const Shape& input_shape, const Window& win) {
  const Size2& kernel = win.kernel;
  const Size2& stride = win.stride;
  const Size2& padding = win.padding;
  const Size2& dilation = win.dilation;
  auto context = [&] {
    std::string text =
        fmt::format("input {}, kernel {}, stride {}, padding {}", to_string(input_shape),
                    to_string(kernel), to_string(stride), to_string(padding));
    if (dilation != Size2(1)) text += fmt::format(", dilation {}", to_string(dilation));
    if (win.ceil_mode) text += ", ceil_mode";
    return text;
  };
  if (kernel.h < 1 || kernel.w < 1) {
    fail("{}: kernel must be >= 1 in both dims, got {} ({})", op, to_string(kernel), context());
  }
  if (stride.h < 1 || stride.w < 1) {
    fail("{}: stride must be >= 1 in both dims, got {} ({})", op, to_string(stride), context());
  }
  if (padding.h < 0 || padding.w < 0) {
    fail("{}: padding must be >= 0 in both dims, got {} ({})", op, to_string(padding), context());
  }
  if (dilation.h < 1 || dilation.w < 1) {
    fail("{}: dilation must be >= 1 in both dims, got {} ({})", op, to_string(dilation), context());
  }
  if (padding.h > kernel.h / 2 || padding.w > kernel.w / 2) {
    fail("{}: padding {} must be at most half the kernel {} ({})", op, to_string(padding),
         to_string(kernel), context());
  }
  check_plane(op, "input", input_shape);
  checked_numel(input_shape, op);
  const auto in_h = static_cast<std::int64_t>(input_shape[2]);
  const auto in_w = static_cast<std::int64_t>(input_shape[3]);
  const std::int64_t out_h =
      pooled_size(in_h, kernel.h, stride.h, padding.h, dilation.h, win.ceil_mode);
  const std::int64_t out_w =
      pooled_size(in_w, kernel.w, stride.w, padding.w, dilation.w, win.ceil_mode);
  if (out_h < 1 || out_w < 1) {
    fail(
        "{}: kernel {} does not fit in the {}x{} input plane padded by {}, so the output would "
        "be empty ({})",
        op, to_string(kernel), in_h, in_w, to_string(padding), context());
  }
  if (!every_window_holds_input(in_h, out_h, kernel.h, stride.h, padding.h, dilation.h) ||
      !every_window_holds_input(in_w, out_w, kernel.w, stride.w, padding.w, dilation.w)) {
    fail("{}: a window of the {}x{} output covers only padding, no input position ({})", op, out_h,
         out_w, context());
  }
  Pool2dGeometry g;
  g.planes = input_shape[0] * input_shape[1];
  g.in_h = input_shape[2];
  g.in_w = input_shape[3];
  g.out_h = static_cast<std::size_t>(out_h);
  g.out_w = static_cast<std::size_t>(out_w);
  g.kernel_h = static_cast<std::size_t>(kernel.h);
  g.kernel_w = static_cast<std::size_t>(kernel.w);
  g.stride_h = static_cast<std::size_t>(stride.h);
  g.stride_w = static_cast<std::size_t>(stride.w);
  g.pad_h = static_cast<std::size_t>(padding.h);
  g.pad_w = static_cast<std::size_t>(padding.w);
  g.dilation_h = static_cast<std::size_t>(dilation.h);
  g.dilation_w = static_cast<std::size_t>(dilation.w);
  return g;
}

Shape output_shape(const Shape& input_shape, const Pool2dGeometry& g) {
  return {input_shape[0], input_shape[1], g.out_h, g.out_w};
}

// An i64 argmax of 4 dims whose N and C match `other`.
void check_argmax(std::string_view op, const Tensor& argmax, const Shape& other,
                  std::string_view other_what) {
  detail::check_defined(op, argmax, "argmax");
  if (argmax.dtype() != DType::i64 || argmax.dim() != 4) {
    fail("{}: argmax must be i64 [N,C,Ho,Wo], got {} {}", op, name(argmax.dtype()),
         to_string(argmax.shape()));
  }
  if (argmax.shape()[0] != other[0] || argmax.shape()[1] != other[1]) {
    fail("{}: argmax {} and {} {} differ in N or C", op, to_string(argmax.shape()), other_what,
         to_string(other));
  }
}

// The int32 copy of a checked argmax, after checking that every index lies in the H x W plane
// it points into.
Argmax to_int32(std::string_view op, const Tensor& argmax, std::size_t in_h, std::size_t in_w) {
  const auto& values = argmax.value<std::int64_t>();
  const auto plane = static_cast<std::int64_t>(in_h * in_w);
  auto out = std::make_shared<detail::ArgmaxArray>(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::int64_t v = values.data()[i];
    if (v < 0 || v >= plane) {
      fail(
          "{}: argmax {} holds {} at flat element {}, outside the {}x{} input plane (expected 0 "
          "to {})",
          op, to_string(argmax.shape()), v, i, in_h, in_w, plane - 1);
    }
    (*out)[i] = static_cast<std::int32_t>(v);
  }
  return out;
}

// The differentiable backward maps, on trusted geometry. Each one's backward is the other's
// adjoint, so create_graph differentiates them to any order.
Tensor scatter(const Tensor& grad_output, const Argmax& argmax, const Pool2dGeometry& g,
               const Shape& input_shape);

Tensor gather(const Tensor& grad_input, const Argmax& argmax, const Pool2dGeometry& g,
              const Shape& out_shape) {
  Tensor out = dispatch_floating(grad_input.dtype(), "max_pool2d_gather", [&]<class T>() {
    auto values = detail::new_array<T>(out_shape);
    kernels::max_pool2d_gather(g, grad_input.value<T>().data(), argmax->data(), values.data());
    return tensor(std::move(values));
  });
  return record("max_pool2d_gather", out, {grad_input},
                [argmax, g, input_shape = grad_input.shape()](const Tensor& grad) {
                  return std::vector<Tensor>{scatter(grad, argmax, g, input_shape)};
                });
}

Tensor scatter(const Tensor& grad_output, const Argmax& argmax, const Pool2dGeometry& g,
               const Shape& input_shape) {
  Tensor out = dispatch_floating(grad_output.dtype(), "max_pool2d_scatter", [&]<class T>() {
    auto values = detail::new_array<T>(input_shape);
    kernels::max_pool2d_scatter(g, grad_output.value<T>().data(), argmax->data(), values.data());
    return tensor(std::move(values));
  });
  return record("max_pool2d_scatter", out, {grad_output},
                [argmax, g, out_shape = grad_output.shape()](const Tensor& grad) {
                  return std::vector<Tensor>{gather(grad, argmax, g, out_shape)};
                });
}

Tensor avg_backward(const Tensor& grad_output, const Pool2dGeometry& g, bool count_include_pad,
                    const Shape& input_shape);

Tensor avg_forward(const Tensor& input, const Pool2dGeometry& g, bool count_include_pad,
                   const Shape& out_shape) {
  Tensor out = dispatch_floating(input.dtype(), "avg_pool2d", [&]<class T>() {
    auto values = detail::new_array<T>(out_shape);
    kernels::avg_pool2d_forward(g, count_include_pad, input.value<T>().data(), values.data());
    return tensor(std::move(values));
  });
  return record("avg_pool2d", out, {input},
                [g, count_include_pad, input_shape = input.shape()](const Tensor& grad) {
                  return std::vector<Tensor>{avg_backward(grad, g, count_include_pad, input_shape)};
                });
}

Tensor avg_backward(const Tensor& grad_output, const Pool2dGeometry& g, bool count_include_pad,
                    const Shape& input_shape) {
  Tensor out = dispatch_floating(grad_output.dtype(), "avg_pool2d_backward", [&]<class T>() {
    auto values = detail::new_array<T>(input_shape);
    kernels::avg_pool2d_backward(g, count_include_pad, grad_output.value<T>().data(),
                                 values.data());
    return tensor(std::move(values));
  });
  return record("avg_pool2d_backward", out, {grad_output},
                [g, count_include_pad, out_shape = grad_output.shape()](const Tensor& grad) {
                  return std::vector<Tensor>{avg_forward(grad, g, count_include_pad, out_shape)};
                });
}

Tensor adaptive_avg_backward(const Tensor& grad_output, const Pool2dGeometry& g,
                             const Shape& input_shape);

Tensor adaptive_avg_forward(const Tensor& input, const Pool2dGeometry& g, const Shape& out_shape) {
  Tensor out = dispatch_floating(input.dtype(), "adaptive_avg_pool2d", [&]<class T>() {
    auto values = detail::new_array<T>(out_shape);
    kernels::adaptive_avg_pool2d_forward(g, input.value<T>().data(), values.data());
    return tensor(std::move(values));
  });
  return record("adaptive_avg_pool2d", out, {input},
                [g, input_shape = input.shape()](const Tensor& grad) {
                  return std::vector<Tensor>{adaptive_avg_backward(grad, g, input_shape)};
                });
}

Tensor adaptive_avg_backward(const Tensor& grad_output, const Pool2dGeometry& g,
                             const Shape& input_shape) {
  Tensor out =
      dispatch_floating(grad_output.dtype(), "adaptive_avg_pool2d_backward", [&]<class T>() {
        auto values = detail::new_array<T>(input_shape);
        kernels::adaptive_avg_pool2d_backward(g, grad_output.value<T>().data(), values.data());
        return tensor(std::move(values));
      });
  return record("adaptive_avg_pool2d_backward", out, {grad_output},
                [g, out_shape = grad_output.shape()](const Tensor& grad) {
                  return std::vector<Tensor>{adaptive_avg_forward(grad, g, out_shape)};
                });
}

}  // namespace

Pool2dGeometry detail::max_pool_geometry(std::string_view op, const Shape& input_shape,
                                         const MaxPool2dOptions& options) {
  return pool_geometry(op, input_shape, window_of(options));
}

Tensor detail::max_pool_scatter(const Tensor& grad_output, const Argmax& argmax,
                                const Pool2dGeometry& g, const Shape& input_shape) {
  return scatter(grad_output, argmax, g, input_shape);
}

namespace {

// max_pool2d's values, and the argmax behind them when it is recorded or `want_indices`.
std::pair<Tensor, Argmax> max_pool(const Tensor& input, const MaxPool2dOptions& options,
                                   bool want_indices) {
  detail::check_floating_rank("max_pool2d", input, "input", 4, "[N,C,H,W]");
  const Pool2dGeometry g = detail::max_pool_geometry("max_pool2d", input.shape(), options);
  const Shape out_shape = output_shape(input.shape(), g);
  const bool recording = needs_grad({input});
  std::shared_ptr<detail::ArgmaxArray> argmax;
  if (recording || want_indices) {
    argmax = std::make_shared<detail::ArgmaxArray>(g.planes * g.out_h * g.out_w);
  }
  Tensor out = dispatch_floating(input.dtype(), "max_pool2d", [&]<class T>() {
    auto values = detail::new_array<T>(out_shape);
    kernels::max_pool2d_forward(g, input.value<T>().data(), values.data(),
                                argmax ? argmax->data() : nullptr);
    return tensor(std::move(values));
  });
  if (!recording) return {out, argmax};
  out = record("max_pool2d", out, {input},
               [argmax = Argmax(argmax), g, input_shape = input.shape()](const Tensor& grad) {
                 return std::vector<Tensor>{scatter(grad, argmax, g, input_shape)};
               });
  return {out, argmax};
}

}  // namespace

Tensor max_pool2d(const Tensor& input, const MaxPool2dOptions& options) {
  return max_pool(input, options, false).first;
}

ValuesIndices max_pool2d_with_indices(const Tensor& input, const MaxPool2dOptions& options) {
  auto [values, argmax] = max_pool(input, options, true);
  auto indices = detail::new_array<std::int64_t>(values.shape());
  std::copy(argmax->begin(), argmax->end(), indices.begin());
  return {values, tensor(std::move(indices))};
}

Tensor avg_pool2d(const Tensor& input, const AvgPool2dOptions& options) {
  const detail::OpContext op_context("avg_pool2d");
  detail::check_floating_rank("avg_pool2d", input, "input", 4, "[N,C,H,W]");
  const Pool2dGeometry g = pool_geometry("avg_pool2d", input.shape(), window_of(options));
  return avg_forward(input, g, options.count_include_pad, output_shape(input.shape(), g));
}

Tensor max_pool2d_scatter(const Tensor& grad_output, const Tensor& argmax,
                          const Shape& input_shape) {
  constexpr std::string_view op = "max_pool2d_scatter";
  detail::check_floating_rank(op, grad_output, "grad_output", 4, "[N,C,Ho,Wo]");
  detail::check_shape_rank(op, input_shape, "input_shape", 4, "[N,C,H,W]");
  if (input_shape[0] != grad_output.shape()[0] || input_shape[1] != grad_output.shape()[1]) {
    fail("{}: input_shape {} and grad_output {} differ in N or C", op, to_string(input_shape),
         to_string(grad_output.shape()));
  }
  check_plane(op, "input_shape", input_shape);
  check_argmax(op, argmax, grad_output.shape(), "grad_output");
  if (argmax.shape() != grad_output.shape()) {
    fail("{}: argmax {} and grad_output {} must have the same shape", op, to_string(argmax.shape()),
         to_string(grad_output.shape()));
  }
  Argmax indices = to_int32(op, argmax, input_shape[2], input_shape[3]);
  Pool2dGeometry g;
  g.planes = input_shape[0] * input_shape[1];
  g.in_h = input_shape[2];
  g.in_w = input_shape[3];
  g.out_h = grad_output.shape()[2];
  g.out_w = grad_output.shape()[3];
  return scatter(grad_output, indices, g, input_shape);
}

Tensor max_pool2d_gather(const Tensor& grad_input, const Tensor& argmax) {
  constexpr std::string_view op = "max_pool2d_gather";
  detail::check_floating_rank(op, grad_input, "grad_input", 4, "[N,C,H,W]");
  check_plane(op, "grad_input", grad_input.shape());
  const Shape& in = grad_input.shape();
  check_argmax(op, argmax, in, "grad_input");
  Argmax indices = to_int32(op, argmax, in[2], in[3]);
  Pool2dGeometry g;
  g.planes = in[0] * in[1];
  g.in_h = in[2];
  g.in_w = in[3];
  g.out_h = argmax.shape()[2];
  g.out_w = argmax.shape()[3];
  return gather(grad_input, indices, g, argmax.shape());
}

Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const AvgPool2dOptions& options) {
  constexpr std::string_view op = "avg_pool2d_backward";
  detail::check_floating_rank(op, grad_output, "grad_output", 4, "[N,C,Ho,Wo]");
  detail::check_shape_rank(op, input_shape, "input_shape", 4, "[N,C,H,W]");
  const Pool2dGeometry g = pool_geometry(op, input_shape, window_of(options));
  const Shape out_shape = output_shape(input_shape, g);
  if (grad_output.shape() != out_shape) {
    fail(
        "{}: grad_output {} does not match the output {} that avg_pool2d gives for input {} "
        "(kernel {}, stride {}, padding {})",
        op, to_string(grad_output.shape()), to_string(out_shape), to_string(input_shape),
        to_string(options.kernel), to_string(window_of(options).stride),
        to_string(options.padding));
  }
  return avg_backward(grad_output, g, options.count_include_pad, input_shape);
}

Tensor adaptive_avg_pool2d(const Tensor& input, Size2 output_size) {
  constexpr std::string_view op = "adaptive_avg_pool2d";
  const detail::OpContext op_context(op);
  detail::check_floating_rank(op, input, "input", 4, "[N,C,H,W]");
  check_plane(op, "input", input.shape());
  if (output_size.h < 1 || output_size.w < 1) {
    fail("{}: output_size must be >= 1 in both dims, got {} (input {})", op, to_string(output_size),
         to_string(input.shape()));
  }
  const Shape& in = input.shape();
  const Shape out_shape{in[0], in[1], static_cast<std::size_t>(output_size.h),
                        static_cast<std::size_t>(output_size.w)};
  checked_numel(out_shape, op);
  Pool2dGeometry g;
  g.planes = in[0] * in[1];
  g.in_h = in[2];
  g.in_w = in[3];
  g.out_h = out_shape[2];
  g.out_w = out_shape[3];
  return adaptive_avg_forward(input, g, out_shape);
}

}  // namespace tg
