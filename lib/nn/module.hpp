#pragma once
// tg::nn::Module: what models are built from. A module owns parameters (leaf tensors that
// require grad) and submodules, both registered under a name, so that
//   model.named_parameters()  ->  {"features.0.weight", ...}
// lists every parameter with a dotted path (the names checkpoints use, as PyTorch's
// state_dict). Modules are held by std::shared_ptr and are not copyable.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../../autograd/tensor.hpp"

namespace tg::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& input) = 0;
  Tensor operator()(const Tensor& input) { return forward(input); }

  // This module's parameters, then its submodules', in registration order; a parameter shared
  // by several modules is listed once, under its first name.
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

  // Training mode (dropout active) or evaluation mode, for this module and all below it.
  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Drops the gradient of every parameter.
  void zero_grad();

 protected:
  // Registers `parameter` (made to require grad) and returns it: keep the returned handle as
  // the member the forward pass uses; both refer to the same tensor.
  Tensor register_parameter(std::string name, Tensor parameter);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace tg::nn
