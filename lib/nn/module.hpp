#pragma once
// tg::nn::Module: what models are built from. A module owns parameters (leaf tensors that
// require grad), buffers (state that is not trained, such as BatchNorm's running statistics)
// and submodules, each registered under a name, so that
//   model.named_parameters()  ->  {"features.0.weight", ...}
// lists every parameter with a dotted path, and model.state_dict() the parameters and buffers
// under PyTorch's state_dict names (what checkpoints save). Modules are held by std::shared_ptr
// and are not copyable.
//
// forward: a module with one tensor in and one out overrides forward(const Tensor&), and can sit
// in a Sequential; any other module defines the forward it needs (any arguments, any result)
// and is called as block->forward(x, skip); `using Module::forward;` beside it keeps the unary one
// visible (and -Woverloaded-virtual quiet). Module::forward then throws tg::Error naming it.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "../../autograd/hooks.hpp"
#include "../../autograd/tensor.hpp"

namespace tg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  // Called after forward by operator(): returns a replacement output, or an undefined Tensor
  // to keep the output.
  using ForwardHook =
      std::function<Tensor(Module& module, const Tensor& input, const Tensor& output)>;

  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The forward pass of one tensor (what Sequential chains). Throws unless overridden.
  virtual Tensor forward(const Tensor& input);
  // forward(input), then the forward hooks in registration order.
  Tensor operator()(const Tensor& input);
  RemovableHandle register_forward_hook(ForwardHook hook);

  // This module's parameters, then its submodules', in registration order; a parameter shared
  // by several modules is listed once, under its first name.
  std::vector<Tensor> parameters() const;
  NamedTensors named_parameters() const;
  // Buffers, the same way.
  std::vector<Tensor> buffers() const;
  NamedTensors named_buffers() const;
  // Parameters and buffers in PyTorch's state_dict order (each module's parameters, then its
  // buffers, then its submodules'): what tg::save writes and tg::load reads.
  NamedTensors state_dict() const;

  // The direct submodules, and every module below and including this one ("" names this one),
  // depth first in registration order. The pointers are valid as long as this module lives.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }
  std::vector<std::pair<std::string, Module*>> named_modules();
  // fn on every submodule (depth first), then on this one, as PyTorch's Module.apply.
  void apply(const std::function<void(Module&)>& fn);

  // Training mode (dropout active, batch statistics) or evaluation mode, for this module and all
  // below it.
  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Converts every floating parameter and buffer to `dtype` in place (the registered tensors
  // stay the same tensors, so optimizers made later and the members the forward uses see the
  // new dtype); their gradients are dropped. Make the optimizer after the conversion.
  void to(DType dtype);

  // Drops the gradient of every parameter.
  void zero_grad();

  // One line saying what this module is, as PyTorch's repr: "Conv2d(1, 6, kernel_size=(5, 5))".
  // The default is the class name.
  virtual std::string describe() const;

 protected:
  // Registers `parameter` (made to require grad) and returns it: keep the returned handle as
  // the member the forward pass uses; both refer to the same tensor.
  Tensor register_parameter(std::string name, Tensor parameter);
  // Registers a buffer (which must not require grad) and returns it, as register_parameter.
  Tensor register_buffer(std::string name, Tensor buffer);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  friend std::ostream& operator<<(std::ostream& out, const Module& module);

  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;
  enum class Kind : std::uint8_t { parameters, buffers, both };
  void collect(const std::string& prefix, Kind kind, NamedTensors& out) const;
  void print(std::ostream& out, const std::string& indent) const;

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::shared_ptr<HookList<ForwardHook>> forward_hooks_ = std::make_shared<HookList<ForwardHook>>();
  bool training_ = true;
};

// The module tree, one module per line with its parameter count, as PyTorch's print(model).
std::ostream& operator<<(std::ostream& out, const Module& module);

// A class's name without its namespaces, as messages and printing show it: "Conv2d".
std::string class_name(const std::type_info& type);

}  // namespace tg::nn
