#pragma once
// Stochastic gradient descent with momentum, as torch.optim.SGD:
//   d = grad + weight_decay * p
//   buf = d (first step), else momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf       (when momentum != 0)
//   p -= lr * d

#include "optimizer.hpp"

namespace tg::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> parameters, SGDOptions options);
  void step() override;
  const SGDOptions& options() const { return options_; }

 private:
  void save_buffers(NamedTensors& out) const override;
  std::function<void()> prepare_buffers(std::map<std::string, Tensor>& state) override;

  SGDOptions options_;
  std::vector<Tensor> momentum_buffers_;  // undefined until a parameter's first step
};

}  // namespace tg::optim
