#include "activation.hpp"

#include <fmt/format.h>

namespace tg::nn {

Tensor ReLU::forward(const Tensor& input) { return relu(input); }

Tensor LeakyReLU::forward(const Tensor& input) { return leaky_relu(input, negative_slope); }

std::string LeakyReLU::describe() const {
  return fmt::format("LeakyReLU(negative_slope={})", negative_slope);
}

Tensor Sigmoid::forward(const Tensor& input) { return sigmoid(input); }

Tensor Tanh::forward(const Tensor& input) { return tanh(input); }

Tensor GELU::forward(const Tensor& input) { return gelu(input, approximate); }

std::string GELU::describe() const {
  return approximate == GeluApproximate::tanh ? "GELU(approximate='tanh')" : "GELU()";
}

Tensor SiLU::forward(const Tensor& input) { return silu(input); }

Tensor ELU::forward(const Tensor& input) { return elu(input, alpha); }

std::string ELU::describe() const { return fmt::format("ELU(alpha={})", alpha); }

Tensor Softplus::forward(const Tensor& input) { return softplus(input, beta, threshold); }

std::string Softplus::describe() const {
  return fmt::format("Softplus(beta={}, threshold={})", beta, threshold);
}

}  // namespace tg::nn
