#include "optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../../autograd/dispatch.hpp"
#include "../../ops/kernels/parallel.hpp"

namespace tg::optim {

Optimizer::Optimizer(const std::vector<std::vector<Tensor>>& groups, const char* name)
    : name_(name), num_groups_(groups.size()), initial_lrs_(groups.size()) {
  if (groups.empty()) fail("{}: there are no parameter groups", name_);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].empty()) fail("{}: parameter group {} has no parameters", name_, g);
    for (std::size_t i = 0; i < groups[g].size(); ++i) {
      const Tensor& p = groups[g][i];
      const std::size_t index = parameters_.size();
      if (!p.defined() || !p.requires_grad() || !p.is_leaf()) {
        fail("{}: parameter {} must be a leaf tensor that requires grad", name_, index);
      }
      // Updated twice per step otherwise, and with two groups' options.
      for (std::size_t j = 0; j < index; ++j) {
        if (parameters_[j].is_same(p)) {
          fail("{}: parameter {} (group {}) is the same tensor as parameter {} (group {})", name_,
               index, g, j, group_of_[j]);
        }
      }
      parameters_.push_back(p);
      group_of_.push_back(g);
    }
  }
}

double Optimizer::lr(std::size_t group) const {
  check_group(group);
  return group_lr(group);
}

void Optimizer::set_lr(std::size_t group, double lr) {
  check_group(group);
  check_nonnegative(group, "learning rate", lr);
  set_group_lr(group, lr);
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) {
    fail("{}: learning rate must be finite and >= 0, got {}", name_, lr);
  }
  for (std::size_t g = 0; g < num_groups_; ++g) set_group_lr(g, lr);
}

std::size_t Optimizer::group_of(std::size_t index) const {
  if (index >= parameters_.size()) {
    fail("{}: there is no parameter {} (it has {})", name_, index, parameters_.size());
  }
  return group_of_[index];
}

std::optional<double> Optimizer::initial_lr(std::size_t group) const {
  check_group(group);
  return initial_lrs_[group];
}

void Optimizer::set_initial_lr(std::size_t group, double lr) {
  check_group(group);
  check_nonnegative(group, "initial learning rate", lr);
  initial_lrs_[group] = lr;
}

std::optional<double> Optimizer::momentum(std::size_t group) const {
  check_group(group);
  return group_momentum(group);
}

void Optimizer::set_momentum(std::size_t group, double momentum) {
  check_group(group);
  check_nonnegative(group, "momentum", momentum);
  if (!set_group_momentum(group, momentum)) {
    fail("{}: there is no momentum (nor beta1) to set", where(group));
  }
}

void Optimizer::check_group(std::size_t group) const {
  if (group >= num_groups_) {
    fail("{}: there is no parameter group {} (it has {})", name_, group, num_groups_);
  }
}

std::string Optimizer::where(std::size_t group) const {
  if (num_groups_ == 1) return name_;
  return fmt::format("{}: parameter group {}", name_, group);
}

void Optimizer::check_nonnegative(std::size_t group, const char* what, double value) const {
  if (!(value >= 0.0) || !std::isfinite(value)) {
    fail("{}: {} must be finite and >= 0, got {}", where(group), what, value);
  }
}

void Optimizer::update_in_chunks(
    std::size_t n, const std::function<void(std::size_t begin, std::size_t end)>& update) {
  kernels::parallel_for(n, kernels::elementwise_grain, update);
}

void Optimizer::zero_grad() {
  for (Tensor& p : parameters_) p.zero_grad();
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  if (num_groups_ == 1) {
    // A scalar, as before there were groups: such checkpoints stay byte for byte the same.
    out.emplace_back("lr", full({}, group_lr(0), {.dtype = DType::f64}));
  } else {
    xt::xarray<double> lrs = xt::zeros<double>({num_groups_});
    for (std::size_t g = 0; g < num_groups_; ++g) lrs(g) = group_lr(g);
    out.emplace_back("lr", tensor(std::move(lrs)));
  }
  // The rates schedules start from, when a scheduler has set them (NaN for a group it has not):
  // a scheduler made after loading then resumes from the run's true base rates.
  if (std::any_of(initial_lrs_.begin(), initial_lrs_.end(),
                  [](const auto& v) { return v.has_value(); })) {
    xt::xarray<double> initial = xt::zeros<double>({num_groups_});
    for (std::size_t g = 0; g < num_groups_; ++g) {
      initial(g) = initial_lrs_[g].value_or(std::numeric_limits<double>::quiet_NaN());
    }
    if (num_groups_ == 1) initial.reshape({});
    out.emplace_back("initial_lr", tensor(std::move(initial)));
  }
  save_buffers(out);
  return out;
}

void Optimizer::load_state(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> remaining = state;
  auto lr = remaining.find("lr");
  if (lr == remaining.end()) fail("{}: optimizer state has no 'lr'", name_);
  const Tensor& saved = lr->second;
  // Checkpoints from before groups hold a scalar: they load into an optimizer of one group.
  if (saved.numel() != num_groups_) {
    fail(
        "{}: optimizer state 'lr' has shape {}, expected one learning rate per parameter group "
        "({})",
        name_, to_string(saved.shape()), num_groups_);
  }
  std::vector<double> restored_lrs(num_groups_);
  for (std::size_t g = 0; g < num_groups_; ++g) {
    restored_lrs[g] = dispatch_any(
        saved.dtype(), [&]<class T>() { return static_cast<double>(saved.value<T>().data()[g]); });
    if (!(restored_lrs[g] >= 0.0) || !std::isfinite(restored_lrs[g])) {
      fail("{}: optimizer state has lr {} for parameter group {}, expected a finite value >= 0",
           name_, restored_lrs[g], g);
    }
  }
  remaining.erase(lr);
  // Saved since schedulers' base rates were: absent from older checkpoints, NaN for a group
  // without one.
  std::vector<std::optional<double>> restored_initial = initial_lrs_;
  if (auto initial = remaining.find("initial_lr"); initial != remaining.end()) {
    const Tensor& values = initial->second;
    if (values.numel() != num_groups_ || !is_floating(values.dtype())) {
      fail("{}: optimizer state 'initial_lr' is {} {}, expected one rate per parameter group ({})",
           name_, tg::name(values.dtype()), to_string(values.shape()), num_groups_);
    }
    for (std::size_t g = 0; g < num_groups_; ++g) {
      const double v = dispatch_floating(values.dtype(), "load_state", [&]<class T>() {
        return static_cast<double>(values.value<T>().data()[g]);
      });
      if (std::isnan(v)) {
        restored_initial[g].reset();
      } else if (v >= 0.0 && std::isfinite(v)) {
        restored_initial[g] = v;
      } else {
        fail("{}: optimizer state has initial_lr {} for parameter group {}", name_, v, g);
      }
    }
    remaining.erase(initial);
  }
  const std::function<void()> install = prepare_buffers(remaining);
  if (!remaining.empty()) {
    fail("{}: optimizer state has an unexpected key '{}'", name_, remaining.begin()->first);
  }
  install();
  for (std::size_t g = 0; g < num_groups_; ++g) set_group_lr(g, restored_lrs[g]);
  initial_lrs_ = std::move(restored_initial);
}

void Optimizer::check_step_inputs(std::size_t index,
                                  std::initializer_list<const Tensor*> buffers) const {
  const Tensor& p = parameters_[index];
  auto check = [&](const Tensor& t, const char* what) {
    if (t.defined() && (t.dtype() != p.dtype() || t.shape() != p.shape())) {
      fail(
          "{}: parameter {} is {} {} but its {} is {} {} (was the model converted with "
          "Module::to after the optimizer was made? make the optimizer after converting)",
          name_, index, tg::name(p.dtype()), to_string(p.shape()), what, tg::name(t.dtype()),
          to_string(t.shape()));
    }
  };
  check(p.grad(), "gradient");
  for (const Tensor* buffer : buffers) check(*buffer, "optimizer state");
}

Tensor Optimizer::take_buffer(std::map<std::string, Tensor>& state, std::size_t index,
                              const std::string& key, bool required) const {
  const std::string full_key = std::to_string(index) + "." + key;
  auto it = state.find(full_key);
  if (it == state.end()) {
    if (required) fail("{}: optimizer state has no '{}'", name_, full_key);
    return Tensor{};
  }
  Tensor buffer = it->second;
  state.erase(it);
  const Tensor& p = parameters_[index];
  if (buffer.shape() != p.shape() || buffer.dtype() != p.dtype()) {
    fail("{}: optimizer state '{}' is {} {} but parameter {} is {} {}", name_, full_key,
         tg::name(buffer.dtype()), to_string(buffer.shape()), index, tg::name(p.dtype()),
         to_string(p.shape()));
  }
  return buffer.clone();
}

}  // namespace tg::optim
