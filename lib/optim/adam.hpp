#pragma once
// Adam and AdamW, as torch.optim.Adam / AdamW. With t the parameter's step count:
//   Adam:  g = grad + weight_decay * p        AdamW:  p *= 1 - lr * weight_decay;  g = grad
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with each parameter group's own options.

#include <cstdint>

#include "optimizer.hpp"

namespace tg::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adam : public OptimizerWithGroups<AdamOptions> {
 public:
  // One group.
  Adam(std::vector<Tensor> parameters, AdamOptions options);
  // Groups without options of their own take `defaults`. The braced form is preferred over the
  // one-group constructor where both could apply ({{{a}}, {{b}}}: two groups of one tensor).
  Adam(std::vector<ParamGroup<AdamOptions>> groups, AdamOptions defaults = {});
  Adam(std::initializer_list<ParamGroup<AdamOptions>> groups, AdamOptions defaults = {})
      : Adam(std::vector<ParamGroup<AdamOptions>>(groups), defaults) {}
  void step() override;

 protected:
  // AdamW's difference: weight decay applied to the weights, not added to the gradient.
  Adam(std::vector<ParamGroup<AdamOptions>> groups, AdamOptions defaults, bool decoupled,
       const char* name);

 private:
  void check_options() const;
  void save_buffers(NamedTensors& out) const override;
  std::function<void()> prepare_buffers(std::map<std::string, Tensor>& state) override;

  bool decoupled_weight_decay_;
  std::vector<std::int64_t> steps_;
  std::vector<Tensor> exp_avg_;     // m
  std::vector<Tensor> exp_avg_sq_;  // v
};

class AdamW : public Adam {
 public:
  // weight_decay defaults to 0.01 here, as torch.optim.AdamW.
  AdamW(std::vector<Tensor> parameters, AdamOptions options = {.weight_decay = 1e-2});
  AdamW(std::vector<ParamGroup<AdamOptions>> groups, AdamOptions defaults = {.weight_decay = 1e-2});
  AdamW(std::initializer_list<ParamGroup<AdamOptions>> groups,
        AdamOptions defaults = {.weight_decay = 1e-2})
      : AdamW(std::vector<ParamGroup<AdamOptions>>(groups), defaults) {}
};

}  // namespace tg::optim
