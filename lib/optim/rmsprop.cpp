#include "rmsprop.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "../../autograd/dispatch.hpp"

namespace tg::optim {
namespace {

template <class T>
struct Rule {
  T alpha, keep, eps, decay, momentum, rate;  // keep = 1 - alpha
};

// Updates elements [begin, end) of one parameter and its buffers (a: the gradient average, or
// null when not centered; buf: the momentum buffer, or null without momentum). Everything is an
// argument, so the compiler keeps the coefficients in registers (see SGD's update).
template <class T>
void update(const Rule<T> rule, std::size_t begin, std::size_t end, T* w, const T* g, T* v, T* a,
            T* buf) {
  for (std::size_t j = begin; j < end; ++j) {
    const T gj = g[j] + rule.decay * w[j];
    v[j] = rule.alpha * v[j] + rule.keep * gj * gj;
    T avg;
    if (a) {
      a[j] = rule.alpha * a[j] + rule.keep * gj;
      avg = std::sqrt(v[j] - a[j] * a[j]) + rule.eps;
    } else {
      avg = std::sqrt(v[j]) + rule.eps;
    }
    if (buf) {
      buf[j] = rule.momentum * buf[j] + gj / avg;
      w[j] -= rule.rate * buf[j];
    } else {
      w[j] -= rule.rate * gj / avg;
    }
  }
}

}  // namespace

RMSprop::RMSprop(std::vector<Tensor> parameters, RMSpropOptions options)
    : RMSprop({ParamGroup<RMSpropOptions>(std::move(parameters))}, options) {}

RMSprop::RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups, RMSpropOptions defaults)
    : OptimizerWithGroups(std::move(groups), defaults, "RMSprop"),
      square_avg_(parameters_.size()),
      momentum_buffer_(parameters_.size()),
      grad_avg_(parameters_.size()) {
  check_options();
}

void RMSprop::check_options() const {
  for (std::size_t g = 0; g < num_param_groups(); ++g) {
    const RMSpropOptions& o = param_groups()[g].options();
    check_nonnegative(g, "learning rate", o.lr);
    if (!(o.alpha >= 0.0 && o.alpha <= 1.0)) {
      fail("{}: alpha must be in [0, 1], got {}", where(g), o.alpha);
    }
    check_nonnegative(g, "eps", o.eps);
    check_nonnegative(g, "weight_decay", o.weight_decay);
    check_nonnegative(g, "momentum", o.momentum);
  }
}

void RMSprop::step() {
  check_options();  // a group's options may have been changed since the last step
  // Every buffer this step needs is made (which can fail: the memory guard) before any
  // parameter moves: a step is taken whole or not at all.
  const std::size_t n = parameters_.size();
  std::vector<Tensor> new_square(n), new_momentum(n), new_grad_avg(n);
  for (std::size_t i = 0; i < n; ++i) {
    check_step_inputs(i, {&square_avg_[i], &momentum_buffer_[i], &grad_avg_[i]});
    if (!parameters_[i].grad().defined()) continue;
    const RMSpropOptions& o = options_of(i);
    if (!square_avg_[i].defined()) new_square[i] = zeros_like(parameters_[i]);
    if (o.momentum > 0.0 && !momentum_buffer_[i].defined()) {
      new_momentum[i] = zeros_like(parameters_[i]);
    }
    if (o.centered && !grad_avg_[i].defined()) new_grad_avg[i] = zeros_like(parameters_[i]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (new_square[i].defined()) square_avg_[i] = std::move(new_square[i]);
    if (new_momentum[i].defined()) momentum_buffer_[i] = std::move(new_momentum[i]);
    if (new_grad_avg[i].defined()) grad_avg_[i] = std::move(new_grad_avg[i]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    Tensor& p = parameters_[i];
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    const RMSpropOptions& o = options_of(i);
    dispatch_floating(p.dtype(), "RMSprop", [&]<class T>() {
      T* w = p.value<T>().data();
      const T* g = grad.value<T>().data();
      T* v = square_avg_[i].value<T>().data();
      T* a = o.centered ? grad_avg_[i].value<T>().data() : nullptr;
      T* buf = o.momentum > 0.0 ? momentum_buffer_[i].value<T>().data() : nullptr;
      const Rule<T> rule{.alpha = static_cast<T>(o.alpha),
                         .keep = static_cast<T>(1.0 - o.alpha),
                         .eps = static_cast<T>(o.eps),
                         .decay = static_cast<T>(o.weight_decay),
                         .momentum = static_cast<T>(o.momentum),
                         .rate = static_cast<T>(o.lr)};
      update_in_chunks(p.numel(), [&](std::size_t begin, std::size_t end) {
        update(rule, begin, end, w, g, v, a, buf);
      });
    });
    p.bump_version();
  }
}

void RMSprop::save_buffers(NamedTensors& out) const {
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (!square_avg_[i].defined()) continue;
    const std::string prefix = std::to_string(i) + ".";
    out.emplace_back(prefix + "square_avg", square_avg_[i].clone());
    if (momentum_buffer_[i].defined()) {
      out.emplace_back(prefix + "momentum_buffer", momentum_buffer_[i].clone());
    }
    if (grad_avg_[i].defined()) out.emplace_back(prefix + "grad_avg", grad_avg_[i].clone());
  }
}

std::function<void()> RMSprop::prepare_buffers(std::map<std::string, Tensor>& state) {
  const std::size_t n = parameters_.size();
  std::vector<Tensor> square(n), momentum(n), grad_avg(n);
  for (std::size_t i = 0; i < n; ++i) {
    // A parameter that never had a gradient has no state; the other buffers of one without
    // square_avg are left in `state`, where load_state reports them as unexpected. One that has
    // state must have the buffers its group's options use (a state saved without momentum
    // would otherwise continue from a zero buffer, unlike the run that saved it).
    square[i] = take_buffer(state, i, "square_avg", false);
    if (!square[i].defined()) continue;
    const RMSpropOptions& o = options_of(i);
    momentum[i] = take_buffer(state, i, "momentum_buffer", o.momentum > 0.0);
    grad_avg[i] = take_buffer(state, i, "grad_avg", o.centered);
  }
  return [this, square = std::move(square), momentum = std::move(momentum),
          grad_avg = std::move(grad_avg)]() mutable {
    square_avg_ = std::move(square);
    momentum_buffer_ = std::move(momentum);
    grad_avg_ = std::move(grad_avg);
  };
}

}  // namespace tg::optim
