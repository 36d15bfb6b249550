#pragma once
// Training checkpoints of a job of many ranks. Every rank calls these (they are collectives);
// the file is the one tg::save_checkpoint writes, with the same content whatever the number of
// ranks (nn::DistributedDataParallel adds no name of its own), so a checkpoint written by N ranks
// resumes in one process, and one written by one process resumes in N ranks.
//
//   if (resume) state = tg::distributed::load_checkpoint(path, *ddp, sgd);
//   ...
//   tg::distributed::save_checkpoint(path, *ddp, sgd, {.epoch = epoch + 1, .step = step});

#include <filesystem>

#include "../checkpoint.hpp"

namespace tg::distributed {

// Rank 0 writes the file (as tg::save_checkpoint: into a temporary file renamed into place, so a
// crash never leaves half a checkpoint); every rank returns when it is written, or throws rank
// 0's error. The other ranks' state is rank 0's (DistributedDataParallel keeps it so), but for
// the global generator's, which is rank 0's.
void save_checkpoint(const std::filesystem::path& path, const nn::Module& module,
                     const optim::Optimizer& optimizer, const TrainingState& state);

// Rank 0 reads the file (as tg::load_checkpoint) and sends every rank what it holds: parameters
// and buffers, the optimizer's state, the training state and the global generator's state. So
// the file needs to be only where rank 0 runs. An error on rank 0 (no file, a model that does
// not match) is thrown on every rank, as is a rank whose model or optimizer differs from rank
// 0's.
TrainingState load_checkpoint(const std::filesystem::path& path, nn::Module& module,
                              optim::Optimizer& optimizer);

}  // namespace tg::distributed
