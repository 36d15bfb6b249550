#include "clip_grad.hpp"

#include <cmath>
#include <limits>

#include "../../autograd/dispatch.hpp"

namespace tg::nn {
namespace {

// The gradients of `parameters` that exist; an undefined parameter is an error naming `op`.
std::vector<Tensor> gradients(const std::vector<Tensor>& parameters, const char* op) {
  std::vector<Tensor> grads;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    if (!parameters[i].defined()) fail("{}: parameter {} is an undefined tensor", op, i);
    Tensor grad = parameters[i].grad();
    if (grad.defined()) grads.push_back(std::move(grad));
  }
  return grads;
}

// sum |g|^p over one gradient (p = inf: max |g|, NaN if any element is NaN), in double.
template <class T>
double norm_part(const xt::xarray<T>& g, double p) {
  const T* data = g.data();
  const std::size_t n = g.size();
  double acc = 0.0;
  if (std::isinf(p)) {
    for (std::size_t j = 0; j < n; ++j) {
      const double a = std::abs(static_cast<double>(data[j]));
      if (std::isnan(a)) return a;
      acc = std::max(acc, a);
    }
  } else if (p == 2.0) {
    for (std::size_t j = 0; j < n; ++j) acc += static_cast<double>(data[j]) * data[j];
  } else if (p == 1.0) {
    for (std::size_t j = 0; j < n; ++j) acc += std::abs(static_cast<double>(data[j]));
  } else {
    for (std::size_t j = 0; j < n; ++j) acc += std::pow(std::abs(static_cast<double>(data[j])), p);
  }
  return acc;
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type) {
  if (std::isnan(max_norm) || max_norm < 0.0) {
    fail("clip_grad_norm_: max_norm must be >= 0, got {}", max_norm);
  }
  if (!(norm_type > 0.0)) {
    fail("clip_grad_norm_: norm_type must be > 0 (or inf), got {}", norm_type);
  }
  const std::vector<Tensor> grads = gradients(parameters, "clip_grad_norm_");
  double total = 0.0;
  for (const Tensor& grad : grads) {
    const double part = dispatch_floating(grad.dtype(), "clip_grad_norm_", [&]<class T>() {
      return norm_part(grad.value<T>(), norm_type);
    });
    total =
        std::isinf(norm_type) ? (std::isnan(part) ? part : std::max(total, part)) : total + part;
    if (std::isnan(total)) break;
  }
  if (!std::isinf(norm_type))
    total = norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);
  const double coefficient = max_norm / (total + 1e-6);
  // Multiplying by 1 changes nothing; a NaN coefficient (a NaN total) is applied, as PyTorch's.
  if (coefficient >= 1.0) return total;
  for (const Tensor& grad : grads) {
    dispatch_floating(grad.dtype(), "clip_grad_norm_", [&]<class T>() {
      const T c = static_cast<T>(coefficient);
      for (T& x : grad.value<T>()) x *= c;
    });
    grad.bump_version();
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  if (std::isnan(clip_value) || clip_value < 0.0) {
    fail("clip_grad_value_: clip_value must be >= 0, got {}", clip_value);
  }
  for (const Tensor& grad : gradients(parameters, "clip_grad_value_")) {
    const bool changed = dispatch_floating(grad.dtype(), "clip_grad_value_", [&]<class T>() {
      const T hi = static_cast<T>(clip_value);
      bool any = false;
      for (T& x : grad.value<T>()) {  // a NaN element stays NaN, as torch.clamp's
        if (x > hi || x < -hi) {
          x = x > hi ? hi : -hi;
          any = true;
        }
      }
      return any;
    });
    if (changed) grad.bump_version();
  }
}

}  // namespace tg::nn
