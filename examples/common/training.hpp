#pragma once
// What the examples' training loops share: where their files go, the per-epoch line on stdout
// (the user contract's form), evaluation, and memory figures.

#include <cstddef>
#include <cstdint>
#include <string>

#include <tapegrad.hpp>

namespace examples {

// tg::check_writable(path), its message prefixed with the flag ("--save: ..."): where a run
// writes is checked before anything is loaded or trained. Nothing for an empty path.
void check_writable_flag(const std::string& flag, const std::string& path);

// The line of each epoch, on stdout, flushed:
//   epoch 1 train_s 6.86 img_per_s 8746 loss 0.8846 test_acc 0.7837
void print_epoch_line(std::int64_t epoch, double train_s, double img_per_s, double loss,
                      double test_acc);

struct Accuracy {
  std::size_t correct = 0;
  std::size_t total = 0;
  double value() const {
    return total == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(total);
  }
};

// The share of `loader`'s examples whose arg-max logit is their label, in evaluation mode and
// without gradients; the model is put back in training mode afterwards. Under tg::distributed a
// collective: rank r of N evaluates batches r, r + N, ... and every rank gets the total, so the
// loader holds the whole test set (no DistributedSampler: a tg::Error). Batches are made on the
// calling thread, not prefetched (evaluation is forward passes only; making a batch of MNIST
// images is a copy).
Accuracy evaluate(tg::nn::Module& model, const tg::data::DataLoader& loader);

// The wall time of an epoch's backward() calls, for --profile: what the gradients cost per image
// (with DistributedDataParallel, the wait for the other ranks included).
class BackwardTimer {
 public:
  // loss.backward(), timed.
  void backward(const tg::Tensor& loss);
  double seconds() const { return seconds_; }

 private:
  double seconds_ = 0.0;
};

// What an epoch of training added up on this process.
struct EpochTotals {
  double loss_sum = 0.0;  // each batch's mean loss times its images, summed
  std::size_t images = 0;
  double seconds = 0.0;    // the wall time of the loop
  BackwardTimer backward;  // the part of it in backward()
};

// One epoch over `loader`: for each batch zero_grad, the cross-entropy of model(images), backward,
// step, and ++state.step. `progress`, if not null, shows the images seen times `progress_scale`
// (the ranks of a distributed run, which go in step) and the mean loss so far.
EpochTotals train_epoch(tg::nn::Module& model, tg::optim::Optimizer& optimizer,
                        const tg::data::DataLoader& loader, tg::TrainingState& state,
                        tg::ProgressBar* progress, std::size_t progress_scale = 1);

// The number of values in the model's parameters, for the line the examples print at the start.
std::size_t count_parameters(const tg::nn::Module& model);

// --profile's report of an epoch on stderr: tg::profiler's table and the time in backward() per
// image of this process. The caller resets the profiler.
void print_profile(std::int64_t epoch, const BackwardTimer& backward, std::size_t images);

// A memory figure of this process from /proc/self/status in MiB (Linux): "VmRSS:" is the
// resident memory now, "VmHWM:" its peak so far. 0 where the file is missing.
double status_mib(const std::string& field);

}  // namespace examples
