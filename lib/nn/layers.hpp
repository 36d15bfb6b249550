#pragma once
// The layers models are built from. Conv2d and Linear initialise as PyTorch does (weights and
// biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from the global generator: tg::manual_seed).
//
// `weight` and `bias` are the registered parameters themselves (as in libtorch). Change their
// values in place (weight.value<float>() = ... followed by weight.bump_version(), or tg::load);
// assigning another tensor to the member would leave the registered one, which optimizers and
// checkpoints use, behind.

#include <cstdint>
#include <string>

#include "../../ops/options.hpp"
#include "module.hpp"

namespace tg::nn {

class Conv2d : public Module {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel,
         Conv2dOptions options = {}, bool bias = true);
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;

  Tensor weight;  // [out_channels, in_channels / groups, kH, kW]
  Tensor bias;    // [out_channels], or undefined
  Conv2dOptions options;
};

// Conv2d followed by a ReLU, computed in one op (conv2d_relu): the same parameters, names and
// results as Conv2d then tg::relu, with one pass over the output fewer. PyTorch's name for the
// fused pair.
class ConvReLU2d : public Conv2d {
 public:
  using Conv2d::Conv2d;
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
};

// ConvReLU2d followed by a max-pool, computed in one op (conv2d_relu_max_pool2d): the same
// parameters, names and results as Conv2d, tg::relu and tg::max_pool2d.
class ConvReLUMaxPool2d : public Conv2d {
 public:
  ConvReLUMaxPool2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel,
                    MaxPool2dOptions pool, Conv2dOptions options = {}, bool bias = true);
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;

  MaxPool2dOptions pool;
};

class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;

  Tensor weight;  // [out_features, in_features]
  Tensor bias;    // [out_features], or undefined
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(MaxPool2dOptions pool_options) : options(pool_options) {}
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  MaxPool2dOptions options;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(AvgPool2dOptions pool_options) : options(pool_options) {}
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  AvgPool2dOptions options;
};

// output_size 1: global average pooling.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 size) : output_size(size) {}
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  Size2 output_size;
};

// Merges dims start_dim..end_dim; by default everything but the batch dim.
class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start = 1, std::int64_t end = -1)
      : start_dim(start), end_dim(end) {}
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  std::int64_t start_dim;
  std::int64_t end_dim;
};

// Active in training mode only (see Module::train / eval).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  double p;
};

}  // namespace tg::nn
