#pragma once
// Optimizers update parameters in place from their gradients (under no grad: an update is
// not part of any model). Their state (momentum buffers, step counts, the learning rate) is a
// list of named tensors, so that checkpoints can save and restore it exactly.

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../../autograd/tensor.hpp"

namespace tg::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> parameters, double lr, const char* name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Drops every parameter's gradient.
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Tensor>& parameters() const { return parameters_; }
  // "SGD", "Adam", "AdamW": checkpoints record it, so state is never loaded into another kind.
  const char* name() const { return name_; }

  // "lr" and the subclass's per-parameter state, keyed "<parameter index>.<buffer>".
  NamedTensors state() const;
  // Restores what state() returned, all of it or (on a missing, extra or mis-shaped key, which
  // the tg::Error names) nothing.
  void load_state(const std::map<std::string, Tensor>& state);

 protected:
  virtual void save_buffers(NamedTensors& out) const = 0;
  // Checks this optimizer's buffers in `state`, erasing each key it used, and returns what
  // installs them: nothing changes until that is called.
  virtual std::function<void()> prepare_buffers(std::map<std::string, Tensor>& state) = 0;

  // For subclasses: runs update(begin, end) on chunks covering [0, n) across the parallel seam.
  // An update of element j touches only index j of its buffers, so the bits do not depend on
  // how many threads ran (mnist_cnn's 1.2 million parameters took 3% of a 2-thread step on one).
  static void update_in_chunks(
      std::size_t n, const std::function<void(std::size_t begin, std::size_t end)>& update);

  // For subclasses: the buffer `key` of parameter `index`, checked against the parameter.
  Tensor take_buffer(std::map<std::string, Tensor>& state, std::size_t index,
                     const std::string& key, bool required) const;

  std::vector<Tensor> parameters_;
  double lr_;
  const char* name_;
};

}  // namespace tg::optim
