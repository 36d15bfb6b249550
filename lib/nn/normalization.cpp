#include "normalization.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "../../ops/normalization.hpp"

namespace tg::nn {

BatchNorm2d::BatchNorm2d(std::int64_t features, BatchNorm2dOptions batch_norm_options)
    : num_features(features), options(batch_norm_options) {
  if (num_features <= 0) fail("BatchNorm2d: num_features must be positive, got {}", num_features);
  const Shape channels{static_cast<std::size_t>(num_features)};
  if (options.affine) {
    weight = register_parameter("weight", ones(channels));
    bias = register_parameter("bias", zeros(channels));
  }
  if (options.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros(channels));
    running_var = register_buffer("running_var", ones(channels));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = i64}));
  }
}

Tensor BatchNorm2d::forward(const Tensor& input) {
  if (input.defined() && input.dim() != 4) {
    fail("BatchNorm2d: expected a 4-D input [N,C,H,W], got {}", to_string(input.shape()));
  }
  const bool tracking = options.track_running_stats;
  // Without running estimates, evaluation normalises by the batch too (as PyTorch).
  Tensor output = batch_norm(
      input, running_mean, running_var, weight, bias,
      {.training = is_training() || !tracking, .momentum = options.momentum, .eps = options.eps});
  if (is_training() && tracking) {  // counted once batch_norm has accepted the batch
    ++*num_batches_tracked.value<std::int64_t>().data();
    num_batches_tracked.bump_version();
  }
  return output;
}

std::string BatchNorm2d::describe() const {
  return fmt::format("BatchNorm2d({}, eps={}, momentum={}, affine={}, track_running_stats={})",
                     num_features, options.eps, options.momentum, options.affine ? "True" : "False",
                     options.track_running_stats ? "True" : "False");
}

LayerNorm::LayerNorm(std::vector<std::int64_t> shape, double epsilon, bool elementwise_affine)
    : normalized_shape(std::move(shape)), eps(epsilon) {
  Shape dims;
  for (const std::int64_t d : normalized_shape) {
    if (d <= 0) {
      fail("LayerNorm: normalized_shape [{}] must hold positive sizes",
           fmt::join(normalized_shape, ","));
    }
    dims.push_back(static_cast<std::size_t>(d));
  }
  if (dims.empty()) fail("LayerNorm: normalized_shape must have at least one dim");
  if (elementwise_affine) {
    weight = register_parameter("weight", ones(dims));
    bias = register_parameter("bias", zeros(dims));
  }
}

Tensor LayerNorm::forward(const Tensor& input) {
  return layer_norm(input, normalized_shape, weight, bias, {.eps = eps});
}

std::string LayerNorm::describe() const {
  return fmt::format("LayerNorm(({},), eps={}, elementwise_affine={})",
                     fmt::join(normalized_shape, ", "), eps, weight.defined() ? "True" : "False");
}

}  // namespace tg::nn
