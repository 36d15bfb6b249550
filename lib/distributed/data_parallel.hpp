#pragma once
// nn::DistributedDataParallel: data-parallel training, as PyTorch's. Each rank runs the same
// model on its own share of every global batch (data::DistributedSampler); during backward the
// gradients are averaged over the ranks, so that N ranks with batch B each take the steps one
// process would take with batch N x B (up to rounding: the average is summed in another order).
//
//   tg::distributed::init();
//   auto model = std::make_shared<Net>();
//   auto ddp = std::make_shared<tg::nn::DistributedDataParallel>(model);
//   tg::optim::SGD sgd(ddp->parameters(), {.lr = 0.1});
//   for (const auto& batch : loader) {
//     sgd.zero_grad();
//     tg::cross_entropy((*ddp)(batch.images), batch.labels).backward();  // returns averaged
//     sgd.step();
//   }
//
// Construction (a collective): the ranks' models must have the same parameters and buffers
// (names, dtypes, shapes; else a tg::Error on every rank naming the first difference); then rank
// 0's values are copied to every rank, so all start from the same weights.
//
// Backward: a hook on each parameter copies its gradient into a bucket (buckets of about
// bucket_cap_mb, filled in reverse registration order, which is roughly the order backward
// produces gradients in); a full bucket starts its all-reduce at once, without waiting, and the
// later hooks move it on while backward computes the rest (overlap). When the last parameter's
// gradient is in, the hook waits for the remaining buckets and sets every parameter's grad() to
// what it had before this backward plus the average of the ranks' gradients. So backward()
// returns with averaged gradients, and accumulating over several backwards works as in one
// process. Buckets start in the same order on every rank (a bucket waits for the ones before it),
// and the sum's order is fixed (distributed.hpp): a run is reproducible for a given rank count.
//
// A parameter that the loss does not depend on gets no gradient, so the backward cannot tell
// that it is over: call synchronize() after such a backward (its gradient counts as zero on this
// rank). Otherwise the next forward throws, naming it. Backward with create_graph, and tg::grad
// through the model, are not supported (the hooks would average a gradient meant to be
// differentiated).
//
// The wrapper is transparent: its parameters, buffers, named_parameters() and state_dict() are
// the wrapped module's, under the same names and in the same order, so optimizers, tg::save and
// checkpoints see the same thing with or without it (no "module." prefix), and a checkpoint
// written by N ranks loads into one process and back. Switch modes (train(), eval()) on the
// wrapper: it passes its mode on to the wrapped module at every forward. Convert dtypes (to())
// before wrapping.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "../nn/module.hpp"

namespace tg::nn {

struct DistributedDataParallelOptions {
  // Gradients travel in buckets of at most this many MiB (a larger parameter gets a bucket of
  // its own): fewer, larger messages cost less latency, smaller ones start earlier in the
  // backward. PyTorch's default.
  double bucket_cap_mb = 25;
  // At every forward in training, rank 0's buffers (BatchNorm's running statistics) are copied
  // to every rank first, as PyTorch's broadcast_buffers: the ranks keep the same statistics.
  bool broadcast_buffers = true;
};

class DistributedDataParallel : public Module {
 public:
  explicit DistributedDataParallel(std::shared_ptr<Module> module,
                                   DistributedDataParallelOptions options = {});
  ~DistributedDataParallel() override;
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  // The wrapped module's forward (its forward hooks included), after the buffers' broadcast.
  Tensor forward(const Tensor& input) override;

  // Finishes the averaging of a backward in which some parameters got no gradient (counted as
  // zero on this rank). Does nothing when no backward is in progress. A collective.
  void synchronize();

  const std::shared_ptr<Module>& module() const { return module_; }
  const DistributedDataParallelOptions& options() const { return options_; }
  // How many buckets the gradients travel in (for tests and tuning bucket_cap_mb).
  std::size_t num_buckets() const;

  std::string describe() const override;

 private:
  struct Reducer;

  std::shared_ptr<Module> module_;
  DistributedDataParallelOptions options_;
  std::unique_ptr<Reducer> reducer_;
};

}  // namespace tg::nn
