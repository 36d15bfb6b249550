#pragma once
// Activation modules: the functions of ops/activation.hpp as layers of a Sequential.

#include <string>

#include "../../ops/activation.hpp"
#include "module.hpp"

namespace tg::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double slope = 0.01) : negative_slope(slope) {}
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  double negative_slope;
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

class GELU : public Module {
 public:
  explicit GELU(GeluApproximate approximation = GeluApproximate::none)
      : approximate(approximation) {}
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  GeluApproximate approximate;
};

class SiLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

class ELU : public Module {
 public:
  explicit ELU(double alpha_value = 1.0) : alpha(alpha_value) {}
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  double alpha;
};

class Softplus : public Module {
 public:
  explicit Softplus(double beta_value = 1.0, double threshold_value = 20.0)
      : beta(beta_value), threshold(threshold_value) {}
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  double beta;
  double threshold;
};

}  // namespace tg::nn
