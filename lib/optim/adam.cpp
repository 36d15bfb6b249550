#include "adam.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../../autograd/dispatch.hpp"

namespace tg::optim {
namespace {

// Step counts are saved as exact i64 scalars (through a double, a count above 2^53 would round)
// and loaded only up to 2^53: no run takes that many steps, a crafted file's larger count would
// overflow the next step() at 2^63 - 1, and the bias corrections take the count as a double.
constexpr std::int64_t max_step_count = std::int64_t{1} << 53;

template <class T>
struct Rule {
  T beta1, beta2, eps, decay, shrink;  // shrink = 1 - lr * weight_decay (decoupled decay)
  T step_size, sqrt_correction2;       // the bias corrections of this step
  bool decoupled;
};

// Updates elements [begin, end) of one parameter and its two moments. Everything is an argument,
// so the compiler keeps the coefficients in registers (see SGD's update).
template <class T>
void update(const Rule<T> rule, std::size_t begin, std::size_t end, T* w, const T* g, T* m, T* v) {
  for (std::size_t j = begin; j < end; ++j) {
    T gj = g[j];
    if (rule.decoupled) {
      w[j] *= rule.shrink;
    } else {
      gj += rule.decay * w[j];
    }
    m[j] = rule.beta1 * m[j] + (T(1) - rule.beta1) * gj;
    v[j] = rule.beta2 * v[j] + (T(1) - rule.beta2) * gj * gj;
    const T denom = std::sqrt(v[j]) / rule.sqrt_correction2 + rule.eps;
    w[j] -= rule.step_size * m[j] / denom;
  }
}

}  // namespace

Adam::Adam(std::vector<Tensor> parameters, AdamOptions options)
    : Adam({ParamGroup<AdamOptions>(std::move(parameters))}, options, false, "Adam") {}

Adam::Adam(std::vector<ParamGroup<AdamOptions>> groups, AdamOptions defaults)
    : Adam(std::move(groups), defaults, false, "Adam") {}

Adam::Adam(std::vector<ParamGroup<AdamOptions>> groups, AdamOptions defaults, bool decoupled,
           const char* name)
    : OptimizerWithGroups(std::move(groups), defaults, name),
      decoupled_weight_decay_(decoupled),
      steps_(parameters_.size(), 0),
      exp_avg_(parameters_.size()),
      exp_avg_sq_(parameters_.size()) {
  check_options();
}

AdamW::AdamW(std::vector<Tensor> parameters, AdamOptions options)
    : Adam({ParamGroup<AdamOptions>(std::move(parameters))}, options, true, "AdamW") {}

AdamW::AdamW(std::vector<ParamGroup<AdamOptions>> groups, AdamOptions defaults)
    : Adam(std::move(groups), defaults, true, "AdamW") {}

void Adam::check_options() const {
  for (std::size_t g = 0; g < num_param_groups(); ++g) {
    const AdamOptions& o = param_groups()[g].options();
    check_nonnegative(g, "learning rate", o.lr);
    if (!(o.beta1 >= 0.0 && o.beta1 < 1.0) || !(o.beta2 >= 0.0 && o.beta2 < 1.0)) {
      fail("{}: betas must be in [0, 1), got ({}, {})", where(g), o.beta1, o.beta2);
    }
    check_nonnegative(g, "eps", o.eps);
    check_nonnegative(g, "weight_decay", o.weight_decay);
  }
}

void Adam::step() {
  check_options();  // a group's options may have been changed since the last step
  // What can fail (a count at its end, a new buffer over the memory guard) is done for every
  // parameter before any moves: a step is taken whole or not at all.
  std::vector<Tensor> new_avg(parameters_.size()), new_avg_sq(parameters_.size());
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    check_step_inputs(i, {&exp_avg_[i], &exp_avg_sq_[i]});
    if (!parameters_[i].grad().defined()) continue;
    if (steps_[i] == max_step_count) {
      fail("{}: parameter {} has taken 2^53 steps, the most a checkpoint holds", name_, i);
    }
    if (!exp_avg_[i].defined()) {
      new_avg[i] = zeros_like(parameters_[i]);
      new_avg_sq[i] = zeros_like(parameters_[i]);
    }
  }
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (new_avg[i].defined()) {
      exp_avg_[i] = std::move(new_avg[i]);
      exp_avg_sq_[i] = std::move(new_avg_sq[i]);
    }
  }
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = parameters_[i];
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    const AdamOptions& o = options_of(i);
    const auto t = static_cast<double>(++steps_[i]);
    const double step_size = o.lr / (1.0 - std::pow(o.beta1, t));
    const double sqrt_correction2 = std::sqrt(1.0 - std::pow(o.beta2, t));
    dispatch_floating(p.dtype(), name_, [&]<class T>() {
      T* w = p.value<T>().data();
      const T* g = grad.value<T>().data();
      T* m = exp_avg_[i].value<T>().data();
      T* v = exp_avg_sq_[i].value<T>().data();
      const Rule<T> rule{.beta1 = static_cast<T>(o.beta1),
                         .beta2 = static_cast<T>(o.beta2),
                         .eps = static_cast<T>(o.eps),
                         .decay = static_cast<T>(o.weight_decay),
                         .shrink = static_cast<T>(1.0 - o.lr * o.weight_decay),
                         .step_size = static_cast<T>(step_size),
                         .sqrt_correction2 = static_cast<T>(sqrt_correction2),
                         .decoupled = decoupled_weight_decay_};
      update_in_chunks(p.numel(), [&](std::size_t begin, std::size_t end) {
        update(rule, begin, end, w, g, m, v);
      });
    });
    p.bump_version();
  }
}

void Adam::save_buffers(NamedTensors& out) const {
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (!exp_avg_[i].defined()) continue;
    const std::string prefix = std::to_string(i) + ".";
    out.emplace_back(prefix + "step", tensor(xt::xarray<std::int64_t>(steps_[i])));
    out.emplace_back(prefix + "exp_avg", exp_avg_[i].clone());
    out.emplace_back(prefix + "exp_avg_sq", exp_avg_sq_[i].clone());
  }
}

std::function<void()> Adam::prepare_buffers(std::map<std::string, Tensor>& state) {
  const std::size_t n = parameters_.size();
  std::vector<std::int64_t> steps(n, 0);
  std::vector<Tensor> exp_avg(n), exp_avg_sq(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto step = state.find(std::to_string(i) + ".step");
    if (step == state.end()) continue;  // a parameter that never had a gradient
    if (step->second.dtype() != DType::i64 || step->second.numel() != 1 ||
        step->second.item<std::int64_t>() < 1 ||
        step->second.item<std::int64_t>() > max_step_count) {
      fail("{}: optimizer state '{}' must be one i64 count in [1, 2^53]", name_, step->first);
    }
    steps[i] = step->second.item<std::int64_t>();
    state.erase(step);
    exp_avg[i] = take_buffer(state, i, "exp_avg", true);
    exp_avg_sq[i] = take_buffer(state, i, "exp_avg_sq", true);
  }
  return [this, steps = std::move(steps), exp_avg = std::move(exp_avg),
          exp_avg_sq = std::move(exp_avg_sq)]() mutable {
    steps_ = std::move(steps);
    exp_avg_ = std::move(exp_avg);
    exp_avg_sq_ = std::move(exp_avg_sq);
  };
}

}  // namespace tg::optim
