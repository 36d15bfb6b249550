#include "scheduler.hpp"

#include <cmath>

namespace tg::optim {

StepLR::StepLR(Optimizer& optimizer, int step_size, double gamma)
    : optimizer_(optimizer), base_lr_(optimizer.lr()), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) fail("StepLR: step_size must be positive, got {}", step_size);
  if (!(gamma > 0.0)) fail("StepLR: gamma must be positive, got {}", gamma);
}

void StepLR::step() { set_epoch(epoch_ + 1); }

void StepLR::set_epoch(int epoch) {
  if (epoch < 0) fail("StepLR: epoch must be >= 0, got {}", epoch);
  epoch_ = epoch;
  // Computed from the base rate rather than multiplied in, so resuming gives the same value.
  optimizer_.set_lr(base_lr_ * std::pow(gamma_, epoch_ / step_size_));
}

}  // namespace tg::optim
