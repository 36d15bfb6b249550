#include "sgd.hpp"

#include <cmath>
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
    : SGD(std::vector<ParamGroup<SGDOptions>>{ParamGroup<SGDOptions>(std::move(parameters))},
          options) {}

SGD::SGD(std::vector<ParamGroup<SGDOptions>> groups, SGDOptions defaults)
    : OptimizerWithGroups(std::move(groups), defaults, "SGD"),
      momentum_buffers_(parameters_.size()) {
  check_options();
}

void SGD::check_options() const {
  for (std::size_t g = 0; g < num_param_groups(); ++g) {
    const SGDOptions& o = param_groups()[g].options();
    check_nonnegative(g, "learning rate", o.lr);
    check_nonnegative(g, "momentum", o.momentum);
    if (!std::isfinite(o.dampening))
      fail("{}: dampening must be finite, got {}", where(g), o.dampening);
    check_nonnegative(g, "weight_decay", o.weight_decay);
    if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0)) {
      fail("{}: nesterov needs momentum > 0 and dampening 0 (momentum {}, dampening {})", where(g),
           o.momentum, o.dampening);
    }
  }
}

void SGD::step() {
  check_options();  // a group's options may have been changed since the last step
  // The new momentum buffers are made (which can fail: the memory guard) before any parameter
  // moves: a step is taken whole or not at all.
  std::vector<Tensor> new_buffers(parameters_.size());
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    check_step_inputs(i, {&momentum_buffers_[i]});
    if (options_of(i).momentum != 0.0 && !momentum_buffers_[i].defined() &&
        parameters_[i].grad().defined()) {
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
    const SGDOptions& o = options_of(i);
    dispatch_floating(p.dtype(), "SGD", [&]<class T>() {
      T* w = p.value<T>().data();
      const T* g = grad.value<T>().data();
      T* buf = o.momentum != 0.0 ? momentum_buffers_[i].value<T>().data() : nullptr;
      const Rule<T> rule{.momentum = static_cast<T>(o.momentum),
                         .keep = static_cast<T>(1.0 - o.dampening),
                         .decay = static_cast<T>(o.weight_decay),
                         .rate = static_cast<T>(o.lr),
                         .first = new_buffers[i].defined(),
                         .nesterov = o.nesterov};
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
