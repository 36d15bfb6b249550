#include "optimizer.hpp"

#include <cmath>

#include "../../ops/kernels/parallel.hpp"

namespace tg::optim {

Optimizer::Optimizer(std::vector<Tensor> parameters, double lr, const char* name)
    : parameters_(std::move(parameters)), lr_(lr), name_(name) {
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i];
    if (!p.defined() || !p.requires_grad() || !p.is_leaf()) {
      fail("{}: parameter {} must be a leaf tensor that requires grad", name_, i);
    }
  }
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) fail("{}: learning rate must be >= 0, got {}", name_, lr);
  lr_ = lr;
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
  out.emplace_back("lr", full({}, lr_, {.dtype = DType::f64}));
  save_buffers(out);
  return out;
}

void Optimizer::load_state(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> remaining = state;
  auto lr = remaining.find("lr");
  if (lr == remaining.end()) fail("{}: optimizer state has no 'lr'", name_);
  const double restored_lr = lr->second.item();
  if (!(restored_lr >= 0.0) || !std::isfinite(restored_lr)) {
    fail("{}: optimizer state has lr {}, expected a finite value >= 0", name_, restored_lr);
  }
  remaining.erase(lr);
  const std::function<void()> install = prepare_buffers(remaining);
  if (!remaining.empty()) {
    fail("{}: optimizer state has an unexpected key '{}'", name_, remaining.begin()->first);
  }
  install();
  lr_ = restored_lr;
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
