#include "sgd.hpp"

#include <string>

#include "../../autograd/dispatch.hpp"

namespace tg::optim {

SGD::SGD(std::vector<Tensor> parameters, SGDOptions options)
    : Optimizer(std::move(parameters), options.lr, "SGD"),
      options_(options),
      momentum_buffers_(parameters_.size()) {
  if (options.momentum < 0.0) fail("SGD: momentum must be >= 0, got {}", options.momentum);
  if (options.weight_decay < 0.0) {
    fail("SGD: weight_decay must be >= 0, got {}", options.weight_decay);
  }
  if (options.nesterov && (options.momentum <= 0.0 || options.dampening != 0.0)) {
    fail("SGD: nesterov needs momentum > 0 and dampening 0 (momentum {}, dampening {})",
         options.momentum, options.dampening);
  }
}

void SGD::step() {
  const double lr = lr_;
  // Plain variables, not a structured binding: Clang 14 cannot capture bindings in a lambda.
  const double momentum = options_.momentum;
  const double dampening = options_.dampening;
  const double weight_decay = options_.weight_decay;
  const bool nesterov = options_.nesterov;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = parameters_[i];
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    const bool first = !momentum_buffers_[i].defined();
    if (momentum != 0.0 && first) momentum_buffers_[i] = zeros_like(p);
    dispatch_floating(p.dtype(), "SGD", [&]<class T>() {
      T* w = p.value<T>().data();
      const T* g = grad.value<T>().data();
      T* buf = momentum != 0.0 ? momentum_buffers_[i].value<T>().data() : nullptr;
      const auto m = static_cast<T>(momentum);
      const auto keep = static_cast<T>(1.0 - dampening);
      const auto decay = static_cast<T>(weight_decay);
      const auto rate = static_cast<T>(lr);
      for (std::size_t j = 0, n = p.numel(); j < n; ++j) {
        T d = g[j] + decay * w[j];
        if (buf) {
          buf[j] = first ? d : m * buf[j] + keep * d;
          d = nesterov ? d + m * buf[j] : buf[j];
        }
        w[j] -= rate * d;
      }
    });
  }
}

void SGD::save_buffers(NamedTensors& out) const {
  for (std::size_t i = 0; i < momentum_buffers_.size(); ++i) {
    if (momentum_buffers_[i].defined()) {
      out.emplace_back(std::to_string(i) + ".momentum_buffer", momentum_buffers_[i].clone());
    }
  }
}

std::function<void()> SGD::prepare_buffers(std::map<std::string, Tensor>& state) {
  std::vector<Tensor> buffers(parameters_.size());
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    buffers[i] = take_buffer(state, i, "momentum_buffer", false);
  }
  return [this, buffers = std::move(buffers)]() mutable { momentum_buffers_ = std::move(buffers); };
}

}  // namespace tg::optim
