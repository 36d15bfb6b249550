#pragma once
// Saving and loading models and training state, in the safetensors format.
//
//   tg::save(model, "lenet5.safetensors");   // parameters and buffers, named as model.state_dict()
//   tg::load(model, "lenet5.safetensors");   // every one must be there, of its shape
//
// A training checkpoint adds the optimizer's state (keys "optimizer.<...>") and where training
// stopped (epoch and step, in the file's metadata), so that a resumed run continues exactly
// where the first stopped.

#include <cstdint>
#include <filesystem>

#include "nn/module.hpp"
#include "optim/optimizer.hpp"

namespace tg {

void save(const nn::Module& module, const std::filesystem::path& path);
// Loads all of the module's parameters and buffers or none: a missing, extra, mis-shaped or
// mis-typed tensor throws tg::Error naming it, before anything is changed. A training checkpoint's
// optimizer entries are ignored.
void load(nn::Module& module, const std::filesystem::path& path);

struct TrainingState {
  std::int64_t epoch = 0;  // epochs completed
  std::int64_t step = 0;   // optimizer steps taken
};

void save_checkpoint(const std::filesystem::path& path, const nn::Module& module,
                     const optim::Optimizer& optimizer, const TrainingState& state);
TrainingState load_checkpoint(const std::filesystem::path& path, nn::Module& module,
                              optim::Optimizer& optimizer);

}  // namespace tg
