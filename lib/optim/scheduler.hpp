#pragma once
// StepLR, as torch.optim.lr_scheduler.StepLR: after every `step_size` calls to step() (one per
// epoch), the learning rate is multiplied by gamma.

#include "optimizer.hpp"

namespace tg::optim {

class StepLR {
 public:
  StepLR(Optimizer& optimizer, int step_size, double gamma = 0.1);
  void step();
  int epoch() const { return epoch_; }
  // For resuming: the number of step() calls already made.
  void set_epoch(int epoch);

 private:
  Optimizer& optimizer_;
  double base_lr_;
  int step_size_;
  double gamma_;
  int epoch_ = 0;
};

}  // namespace tg::optim
