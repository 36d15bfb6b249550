#pragma once
// Normalisation layers, as PyTorch's: parameters weight (ones) and bias (zeros), and for
// BatchNorm2d the buffers running_mean (zeros), running_var (ones) and num_batches_tracked (i64,
// 0-D), under PyTorch's state_dict names, so that checkpoints load in either framework.

#include <cstdint>
#include <string>
#include <vector>

#include "module.hpp"

namespace tg::nn {

struct BatchNorm2dOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;               // learn weight and bias
  bool track_running_stats = true;  // keep running estimates (else batch statistics always)
};

// Over the channels of [N,C,H,W]. In training mode it normalises by the batch's statistics and
// updates the running estimates (and counts the batch); in evaluation mode it uses the running
// estimates.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(std::int64_t num_features, BatchNorm2dOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;

  Tensor weight;               // [C], or undefined without affine
  Tensor bias;                 // [C], or undefined without affine
  Tensor running_mean;         // [C], or undefined without track_running_stats
  Tensor running_var;          // [C], or undefined without track_running_stats
  Tensor num_batches_tracked;  // i64 0-D, or undefined without track_running_stats
  std::int64_t num_features;
  BatchNorm2dOptions options;
};

// Over the last dims of its input, which must be normalized_shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::vector<std::int64_t> normalized_shape, double eps = 1e-5,
                     bool elementwise_affine = true);
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;

  Tensor weight;  // normalized_shape, or undefined without elementwise_affine
  Tensor bias;
  std::vector<std::int64_t> normalized_shape;
  double eps;
};

}  // namespace tg::nn
