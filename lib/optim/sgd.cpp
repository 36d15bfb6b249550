#include "sgd.hpp"

#include <string>
#include <vector>

#include "../../autograd/dispatch.hpp"

namespace tg::optim {
namespace {

template <class T>
struct Rule {
  T momentum, keep, decay, rate;  // keep = 1 - dampening
  bool first, nesterov;           // first: the momentum buffer starts as the gradient
};

// Updates elements [begin, end) of one parameter (buf: its momentum buffer, or null). Everything
// is an argument, so the compiler keeps the coefficients in registers and vectorises the loop;
// through a lambda's captures, which the stores to w might alias, it ran 3x slower.
template <class T>
void update(const Rule<T> rule, std::size_t begin, std::size_t end, T* w, const T* g, T* buf) {
  for (std::size_t j = begin; j < end; ++j) {
    T d = g[j] + rule.decay * w[j];
    if (buf) {
      buf[j] = rule.first ? d : rule.momentum * buf[j] + rule.keep * d;
      d = rule.nesterov ? d + rule.momentum * buf[j] : buf[j];
    }
    w[j] -= rule.rate * d;
  }
}

}  // namespace

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
  // The new momentum buffers are made (which can fail: the memory guard) before any parameter
  // moves: a step is taken whole or not at all.
  std::vector<Tensor> new_buffers(parameters_.size());
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (momentum != 0.0 && !momentum_buffers_[i].defined() && parameters_[i].grad().defined()) {
      new_buffers[i] = zeros_like(parameters_[i]);
    }
  }
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (new_buffers[i].defined()) momentum_buffers_[i] = new_buffers[i];
  }
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = parameters_[i];
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    dispatch_floating(p.dtype(), "SGD", [&]<class T>() {
      T* w = p.value<T>().data();
      const T* g = grad.value<T>().data();
      T* buf = momentum != 0.0 ? momentum_buffers_[i].value<T>().data() : nullptr;
      const Rule<T> rule{.momentum = static_cast<T>(momentum),
                         .keep = static_cast<T>(1.0 - dampening),
                         .decay = static_cast<T>(weight_decay),
                         .rate = static_cast<T>(lr),
                         .first = new_buffers[i].defined(),
                         .nesterov = nesterov};
      update_in_chunks(p.numel(), [&](std::size_t begin, std::size_t end) {
        update(rule, begin, end, w, g, buf);
      });
    });
    p.bump_version();
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
