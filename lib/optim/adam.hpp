#pragma once
// Adam and AdamW, as torch.optim.Adam / AdamW. With t the parameter's step count:
//   Adam:  g = grad + weight_decay * p        AdamW:  p *= 1 - lr * weight_decay;  g = grad
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

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

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> parameters, AdamOptions options);
  void step() override;
  const AdamOptions& options() const { return options_; }

 protected:
  // AdamW's difference: weight decay applied to the weights, not added to the gradient.
  Adam(std::vector<Tensor> parameters, AdamOptions options, bool decoupled, const char* name);

 private:
  void save_buffers(NamedTensors& out) const override;
  std::function<void()> prepare_buffers(std::map<std::string, Tensor>& state) override;

  AdamOptions options_;
  bool decoupled_weight_decay_;
  std::vector<std::int64_t> steps_;
  std::vector<Tensor> exp_avg_;     // m
  std::vector<Tensor> exp_avg_sq_;  // v
};

class AdamW : public Adam {
 public:
  // weight_decay defaults to 0.01 here, as torch.optim.AdamW.
  AdamW(std::vector<Tensor> parameters, AdamOptions options = {.weight_decay = 1e-2});
};

}  // namespace tg::optim
