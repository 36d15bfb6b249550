#include "normalization.hpp"

#include <cmath>
#include <utility>

#include "../autograd/dispatch.hpp"
#include "../autograd/grad_mode.hpp"
#include "../autograd/op_context.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "arithmetic.hpp"
#include "checks.hpp"
#include "kernels/normalization.hpp"
#include "reduction.hpp"
#include "shape.hpp"

namespace tg {
namespace {

using Dims = std::vector<std::int64_t>;

// The forward's statistics, each of a shape that broadcasts against x (one value per group).
struct Statistics {
  Tensor mean;
  Tensor invstd;
};

// x seen as [outer, groups, inner]: the statistics are taken over outer and inner.
struct Layout {
  std::size_t outer = 1;
  std::size_t groups = 1;
  std::size_t inner = 1;
  Shape stat_shape;  // of the statistics, broadcasting against x
  Dims dims;         // the dims of x the statistics reduce
};

// y = (x - mean) * invstd * w + b per group, w and b per group too (or absent). Returns y and
// the statistics; `batch_mean`/`batch_var` receive the mean and biased variance in double.
template <class T>
std::pair<Tensor, Statistics> normalize(const Tensor& x, const Layout& layout, double eps,
                                        const Tensor& weight, const Tensor& bias,
                                        std::vector<double>& batch_mean,
                                        std::vector<double>& batch_var) {
  const std::size_t groups = layout.groups;
  batch_mean.assign(groups, 0.0);
  batch_var.assign(groups, 0.0);
  const T* data = x.value<T>().data();
  kernels::channel_moments(data, layout.outer, groups, layout.inner, batch_mean.data(),
                           batch_var.data());
  auto mean = detail::new_array<T>(layout.stat_shape);
  auto invstd = detail::new_array<T>(layout.stat_shape);
  std::vector<T> scale(groups);
  std::vector<T> shift(groups);
  for (std::size_t c = 0; c < groups; ++c) {
    const double s = 1.0 / std::sqrt(batch_var[c] + eps);
    const double w = weight.defined() ? static_cast<double>(weight.value<T>()(c)) : 1.0;
    const double b = bias.defined() ? static_cast<double>(bias.value<T>()(c)) : 0.0;
    mean.data()[c] = static_cast<T>(batch_mean[c]);
    invstd.data()[c] = static_cast<T>(s);
    // As PyTorch's kernel: one multiply-add per value.
    scale[c] = static_cast<T>(w * s);
    shift[c] = static_cast<T>(b - batch_mean[c] * w * s);
  }
  auto y = detail::new_array<T>(x.shape());
  kernels::channel_affine(data, layout.outer, groups, layout.inner, scale.data(), shift.data(),
                          y.data());
  return {tensor(std::move(y)), {tensor(std::move(mean)), tensor(std::move(invstd))}};
}

// xhat and invstd for the backward pass. Under create_graph they are recomputed from x with ops,
// so that a second derivative sees how they depend on x; otherwise the forward's serve.
std::pair<Tensor, Tensor> normalized_input(const Tensor& x, const Statistics& saved,
                                           const Dims& dims, double eps) {
  if (GradMode::is_enabled()) {
    Tensor centred = sub(x, mean(x, dims, true));
    Tensor invstd = pow(add(mean(mul(centred, centred), dims, true), eps), -0.5);
    return {mul(centred, invstd), invstd};
  }
  return {mul(sub(x, saved.mean), saved.invstd), saved.invstd};
}

// dE/dx of xhat = (x - mean) invstd over `dims`, given h = dE/dxhat: the header's derivation.
Tensor normalized_input_grad(const Tensor& h, const Tensor& xhat, const Tensor& invstd,
                             const Dims& dims) {
  return mul(invstd, sub(sub(h, mean(h, dims, true)), mul(xhat, mean(mul(h, xhat), dims, true))));
}

// The gradients of a normalisation in two passes over g and x, for a backward that records
// nothing (under create_graph the closures use the ops above instead). With a = mean(g),
// b = mean(g xhat) per group, the header's dE/dx = s w (g - a - xhat b) is linear in g and x:
//   dE/dx = g (s w) + x (-s^2 w b) + (s w (s b mean - a)),
// and dE/dw = sum g xhat, dE/db = sum g per group. `weight` (per group) may be undefined.
struct FusedGrads {
  Tensor input;
  Tensor weight;  // sum of g xhat per group
  Tensor bias;    // sum of g per group
};

template <class T>
FusedGrads fused_backward(const Tensor& g, const Tensor& x, const Layout& layout,
                          const Statistics& saved, const Tensor& weight, bool input_grad) {
  const std::size_t groups = layout.groups;
  std::vector<double> mean(groups);
  std::vector<double> invstd(groups);
  for (std::size_t c = 0; c < groups; ++c) {
    mean[c] = static_cast<double>(saved.mean.value<T>().data()[c]);
    invstd[c] = static_cast<double>(saved.invstd.value<T>().data()[c]);
  }
  std::vector<double> sum_g(groups);
  std::vector<double> sum_g_xhat(groups);
  const T* g_data = g.value<T>().data();
  const T* x_data = x.value<T>().data();
  kernels::channel_grad_sums(g_data, x_data, layout.outer, groups, layout.inner, mean.data(),
                             invstd.data(), sum_g.data(), sum_g_xhat.data());
  FusedGrads grads;
  auto dw = detail::new_array<T>({groups});
  auto db = detail::new_array<T>({groups});
  for (std::size_t c = 0; c < groups; ++c) {
    dw.data()[c] = static_cast<T>(sum_g_xhat[c]);
    db.data()[c] = static_cast<T>(sum_g[c]);
  }
  grads.weight = tensor(std::move(dw));
  grads.bias = tensor(std::move(db));
  if (!input_grad) return grads;
  const auto m = static_cast<double>(layout.outer * layout.inner);
  std::vector<T> k_g(groups);
  std::vector<T> k_x(groups);
  std::vector<T> k_1(groups);
  for (std::size_t c = 0; c < groups; ++c) {
    const double w = weight.defined() ? static_cast<double>(weight.value<T>().data()[c]) : 1.0;
    const double s = invstd[c];
    const double a = sum_g[c] / m;
    const double b = sum_g_xhat[c] / m;
    k_g[c] = static_cast<T>(s * w);
    k_x[c] = static_cast<T>(-s * s * w * b);
    k_1[c] = static_cast<T>(s * w * (s * b * mean[c] - a));
  }
  auto dx = detail::new_array<T>(x.shape());
  kernels::channel_linear(g_data, x_data, layout.outer, groups, layout.inner, k_g.data(),
                          k_x.data(), k_1.data(), dx.data());
  grads.input = tensor(std::move(dx));
  return grads;
}

void check_eps(std::string_view op, double eps, const Tensor& x) {
  if (!std::isfinite(eps) || eps < 0.0) {
    fail("{}: eps must be finite and >= 0, got {} (input {})", op, eps, to_string(x.shape()));
  }
}

// An optional per-group tensor: undefined, or of x's dtype and of `expected` shape.
void check_optional(std::string_view op, const Tensor& t, std::string_view what, const Tensor& x,
                    const Shape& expected, std::string_view layout) {
  if (!t.defined()) return;
  detail::check_same_dtype(op, t, what, x, "input");
  if (t.shape() != expected) {
    fail("{}: {} must be {} = {} for input {}, got {}", op, what, layout, to_string(expected),
         to_string(x.shape()), to_string(t.shape()));
  }
}

void check_running(std::string_view op, const Tensor& t, std::string_view what, const Tensor& x,
                   const Shape& expected) {
  check_optional(op, t, what, x, expected, "[C]");
  if (t.defined() && t.requires_grad()) {
    fail("{}: {} is a running estimate and must not require grad (input {})", op, what,
         to_string(x.shape()));
  }
}

// running <- (1 - momentum) running + momentum * correction * batch, in place.
template <class T>
void update_running(const Tensor& running, const std::vector<double>& batch, double momentum,
                    double correction) {
  if (!running.defined()) return;
  T* r = running.value<T>().data();
  for (std::size_t c = 0; c < batch.size(); ++c) {
    r[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(r[c]) +
                          momentum * correction * batch[c]);
  }
  running.bump_version();
}

// Evaluation: the running estimates are constants, so y = x * scale[c] + shift[c] with
// scale = w / sqrt(running_var + eps) and shift = b - running_mean * scale. scale and shift come
// from ops (so gradients reach w and b through them); y is one pass of the kernel, recorded as
// the affine map it is: d/dx = g scale, d/dscale = sum g x, d/dshift = sum g per channel.
Tensor batch_norm_eval(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, double eps, const Layout& layout,
                       const Dims& channel_shape) {
  Tensor invstd = pow(add(running_var.detach(), eps), -0.5);
  Tensor scale = weight.defined() ? mul(weight, invstd) : invstd;
  Tensor shift = neg(mul(running_mean.detach(), scale));
  if (bias.defined()) shift = add(shift, bias);
  Tensor y = dispatch_floating(x.dtype(), "batch_norm", [&]<class T>() {
    auto out = detail::new_array<T>(x.shape());
    kernels::channel_affine(x.value<T>().data(), layout.outer, layout.groups, layout.inner,
                            scale.value<T>().data(), shift.value<T>().data(), out.data());
    return tensor(std::move(out));
  });
  const bool need_x = needs_input_grad(x);
  const bool need_scale = needs_input_grad(scale);
  const bool need_shift = needs_input_grad(shift);
  return record("batch_norm", y, {x, scale, shift},
                [x = keep_if(need_scale, x), scale = keep_if(need_x, scale), dims = layout.dims,
                 channel_shape, need_x, need_scale, need_shift](const Tensor& g) {
                  return std::vector<Tensor>{
                      need_x ? mul(g, reshape(scale, channel_shape)) : Tensor{},
                      need_scale ? sum(mul(g, x), dims) : Tensor{},
                      need_shift ? sum(g, dims) : Tensor{}};
                });
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, const BatchNormOptions& options) {
  constexpr std::string_view op = "batch_norm";
  const detail::OpContext op_context(op);
  const Tensor& x = input;
  detail::check_floating(op, x, "input");
  if (x.dim() < 2)
    fail("batch_norm: input must be [N,C,*] (2-D or more), got {}", to_string(x.shape()));
  const std::size_t channels = x.shape()[1];
  const Shape per_channel{channels};
  check_running(op, running_mean, "running_mean", x, per_channel);
  check_running(op, running_var, "running_var", x, per_channel);
  check_optional(op, weight, "weight", x, per_channel, "[C]");
  check_optional(op, bias, "bias", x, per_channel, "[C]");
  check_eps(op, options.eps, x);
  if (!std::isfinite(options.momentum)) {
    fail("batch_norm: momentum must be finite, got {} (input {})", options.momentum,
         to_string(x.shape()));
  }
  if (running_mean.defined() != running_var.defined()) {
    fail(
        "batch_norm: running_mean and running_var must both be given or both be undefined "
        "(input {})",
        to_string(x.shape()));
  }

  Layout layout{.outer = x.shape()[0], .groups = channels};
  Dims channel_shape(x.dim(), 1);
  channel_shape[1] = static_cast<std::int64_t>(channels);
  layout.stat_shape = Shape(x.dim(), 1);
  layout.stat_shape[1] = channels;
  for (std::size_t d = 0; d < x.dim(); ++d) {
    if (d >= 2) layout.inner *= x.shape()[d];
    if (d != 1) layout.dims.push_back(static_cast<std::int64_t>(d));
  }

  if (!options.training) {
    if (!running_mean.defined()) {
      fail(
          "batch_norm: evaluation (training = false) needs running_mean and running_var "
          "(input {})",
          to_string(x.shape()));
    }
    return batch_norm_eval(x, running_mean, running_var, weight, bias, options.eps, layout,
                           channel_shape);
  }
  const std::size_t m = layout.outer * layout.inner;
  if (m < 2) {
    fail("batch_norm: training needs more than 1 value per channel, got input {}",
         to_string(x.shape()));
  }

  std::vector<double> batch_mean;
  std::vector<double> batch_var;
  auto [y, statistics] = dispatch_floating(x.dtype(), op, [&]<class T>() {
    auto result = normalize<T>(x, layout, options.eps, weight, bias, batch_mean, batch_var);
    const double unbiased = static_cast<double>(m) / static_cast<double>(m - 1);
    update_running<T>(running_mean, batch_mean, options.momentum, 1.0);
    update_running<T>(running_var, batch_var, options.momentum, unbiased);
    return result;
  });

  const bool x_grad = needs_input_grad(x);
  const bool w_grad = weight.defined() && needs_input_grad(weight);
  const bool b_grad = bias.defined() && needs_input_grad(bias);
  return record(std::string(op), y, {x, weight, bias},
                [x, weight = keep_if(x_grad, weight), saved = statistics, layout, channel_shape,
                 eps = options.eps, x_grad, w_grad, b_grad](const Tensor& g) {
                  std::vector<Tensor> grads(3);
                  if (!x_grad && !w_grad && !b_grad) return grads;
                  if (!GradMode::is_enabled()) {
                    FusedGrads fused =
                        dispatch_floating(g.dtype(), "batch_norm_backward", [&]<class T>() {
                          return fused_backward<T>(g, x, layout, saved, weight, x_grad);
                        });
                    return std::vector<Tensor>{fused.input, w_grad ? fused.weight : Tensor{},
                                               b_grad ? fused.bias : Tensor{}};
                  }
                  auto [xhat, invstd] = normalized_input(x, saved, layout.dims, eps);
                  if (x_grad) {
                    Tensor h = weight.defined() ? mul(g, reshape(weight, channel_shape)) : g;
                    grads[0] = normalized_input_grad(h, xhat, invstd, layout.dims);
                  }
                  if (w_grad) grads[1] = sum(mul(g, xhat), layout.dims);
                  if (b_grad) grads[2] = sum(g, layout.dims);
                  return grads;
                });
}

Tensor layer_norm(const Tensor& input, const std::vector<std::int64_t>& normalized_shape,
                  const Tensor& weight, const Tensor& bias, const LayerNormOptions& options) {
  constexpr std::string_view op = "layer_norm";
  const detail::OpContext op_context(op);
  const Tensor& x = input;
  detail::check_floating(op, x, "input");
  const std::size_t k = normalized_shape.size();
  Shape group_shape;
  for (const std::int64_t d : normalized_shape) group_shape.push_back(static_cast<std::size_t>(d));
  bool matches = k >= 1 && k <= x.dim();
  for (std::size_t i = 0; matches && i < k; ++i) {
    matches = normalized_shape[i] >= 0 &&
              x.shape()[x.dim() - k + i] == static_cast<std::size_t>(normalized_shape[i]);
  }
  if (!matches) {
    fail("layer_norm: normalized_shape [{}] must be the last dims of input {} (at least one)",
         fmt::join(normalized_shape, ","), to_string(x.shape()));
  }
  check_optional(op, weight, "weight", x, group_shape, "normalized_shape");
  check_optional(op, bias, "bias", x, group_shape, "normalized_shape");
  check_eps(op, options.eps, x);

  Layout layout;
  layout.stat_shape = x.shape();
  for (std::size_t d = 0; d < x.dim(); ++d) {
    if (d < x.dim() - k) {
      layout.groups *= x.shape()[d];
    } else {
      layout.inner *= x.shape()[d];
      layout.stat_shape[d] = 1;
      layout.dims.push_back(static_cast<std::int64_t>(d));
    }
  }
  if (layout.inner == 0) {
    fail("layer_norm: normalized_shape [{}] holds no elements (input {})",
         fmt::join(normalized_shape, ","), to_string(x.shape()));
  }

  std::vector<double> batch_mean;
  std::vector<double> batch_var;
  auto [xhat, statistics] = dispatch_floating(x.dtype(), op, [&]<class T>() {
    return normalize<T>(x, layout, options.eps, Tensor{}, Tensor{}, batch_mean, batch_var);
  });
  Tensor y = record(std::string(op), xhat, {x},
                    [x, saved = statistics, layout, eps = options.eps](const Tensor& g) {
                      if (!GradMode::is_enabled()) {
                        return std::vector<Tensor>{
                            dispatch_floating(g.dtype(), "layer_norm_backward", [&]<class T>() {
                              return fused_backward<T>(g, x, layout, saved, Tensor{}, true).input;
                            })};
                      }
                      auto [xh, invstd] = normalized_input(x, saved, layout.dims, eps);
                      return std::vector<Tensor>{normalized_input_grad(g, xh, invstd, layout.dims)};
                    });
  // The elementwise affine map, through ops: its gradients are the header's dE/dw and dE/db.
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

}  // namespace tg
