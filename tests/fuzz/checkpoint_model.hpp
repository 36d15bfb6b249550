#pragma once
// The model fuzz_checkpoint loads checkpoints into, and make_seeds saves its seed from.

#include <memory>

#include <tapegrad.hpp>

namespace tg::fuzz {

struct CheckpointModel : nn::Module {
  CheckpointModel() {
    conv = register_module("conv", std::make_shared<nn::Conv2d>(1, 2, 3));
    fc = register_module("fc", std::make_shared<nn::Linear>(8, 3));
  }
  Tensor forward(const Tensor& x) override { return (*fc)(flatten(relu((*conv)(x)), 1)); }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::Linear> fc;
};

}  // namespace tg::fuzz
