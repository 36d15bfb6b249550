#pragma once
// RMSprop, as torch.optim.RMSprop, with each parameter group's own options:
//   g = grad + weight_decay * p
//   v = alpha v + (1 - alpha) g^2                          (square_avg)
//   centered:  a = alpha a + (1 - alpha) g;  avg = sqrt(v - a^2) + eps     (grad_avg)
//   otherwise: avg = sqrt(v) + eps
//   momentum > 0: buf = momentum buf + g / avg;  p -= lr buf
//   otherwise:    p -= lr g / avg
// The buffers start at zero.

#include "optimizer.hpp"

namespace tg::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

class RMSprop : public OptimizerWithGroups<RMSpropOptions> {
 public:
  // One group.
  RMSprop(std::vector<Tensor> parameters, RMSpropOptions options);
  // Groups without options of their own take `defaults`. The braced form is preferred over the
  // one-group constructor where both could apply ({{{a}}, {{b}}}: two groups of one tensor).
  RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups, RMSpropOptions defaults = {});
  RMSprop(std::initializer_list<ParamGroup<RMSpropOptions>> groups, RMSpropOptions defaults = {})
      : RMSprop(std::vector<ParamGroup<RMSpropOptions>>(groups), defaults) {}
  void step() override;

 private:
  void check_options() const;
  void save_buffers(NamedTensors& out) const override;
  std::function<void()> prepare_buffers(std::map<std::string, Tensor>& state) override;

  // Undefined until a parameter's first step; the other two also until its group needs them
  // (momentum > 0, centered).
  std::vector<Tensor> square_avg_;
  std::vector<Tensor> momentum_buffer_;
  std::vector<Tensor> grad_avg_;
};

}  // namespace tg::optim
