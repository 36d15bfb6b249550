#pragma once
// Stochastic gradient descent with momentum, as torch.optim.SGD:
//   d = grad + weight_decay * p
//   buf = d (first step), else momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf       (when momentum != 0)
//   p -= lr * d
// with each parameter group's own options.

#include "optimizer.hpp"

namespace tg::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public OptimizerWithGroups<SGDOptions> {
 public:
  // One group.
  SGD(std::vector<Tensor> parameters, SGDOptions options);
  // Groups without options of their own take `defaults`. The braced form is preferred over the
  // one-group constructor where both could apply ({{{a}}, {{b}}}: two groups of one tensor).
  SGD(std::vector<ParamGroup<SGDOptions>> groups, SGDOptions defaults = {});
  SGD(std::initializer_list<ParamGroup<SGDOptions>> groups, SGDOptions defaults = {})
      : SGD(std::vector<ParamGroup<SGDOptions>>(groups), defaults) {}
  void step() override;

 private:
  void check_options() const;
  void save_buffers(NamedTensors& out) const override;
  std::function<void()> prepare_buffers(std::map<std::string, Tensor>& state) override;

  std::vector<Tensor> momentum_buffers_;  // undefined until a parameter's first step
};

}  // namespace tg::optim
