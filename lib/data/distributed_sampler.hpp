#pragma once
// DistributedSampler: each rank's share of an epoch, as PyTorch's. The DataLoader makes the
// epoch's order (its seeded shuffle of the whole dataset, the one a single process goes
// through); rank r of N takes positions r, r + N, r + 2N, ... of it. So the ranks' shares are
// disjoint, and step s of N ranks with batch B each covers exactly the examples of step s of one
// process with batch N x B:
//
//   tg::data::DataLoader loader(train_set, {.batch_size = 32, .seed = 1,
//                                           .sampler = tg::data::DistributedSampler()});
//
// When N does not divide the dataset, PyTorch's rule: the order is padded with its own first
// examples up to a multiple of N (some examples are seen twice in the epoch), or, with
// drop_last, cut down to one (some are not seen); every rank gets the same count either way, so
// no rank waits at the end of an epoch for a batch the others do not have.

#include <cstddef>
#include <optional>
#include <vector>

namespace tg::data {

struct DistributedSamplerOptions {
  // The number of ranks and this one's rank: tg::distributed's world_size() and rank() unless
  // given (after tg::distributed::init(): made before it, the sampler sees a world of one).
  std::optional<std::size_t> num_replicas;
  std::optional<std::size_t> rank;
  // Cut the order down to a multiple of num_replicas instead of padding it.
  bool drop_last = false;
};

class DistributedSampler {
 public:
  explicit DistributedSampler(const DistributedSamplerOptions& options = {});

  std::size_t num_replicas() const { return num_replicas_; }
  std::size_t rank() const { return rank_; }
  bool drop_last() const { return drop_last_; }

  // How many examples each rank takes per epoch from a dataset of `dataset_size`.
  std::size_t num_samples(std::size_t dataset_size) const;
  // This rank's share of an epoch's `order` (a permutation of the whole dataset).
  std::vector<std::size_t> shard(const std::vector<std::size_t>& order) const;

 private:
  std::size_t num_replicas_;
  std::size_t rank_;
  bool drop_last_;
};

}  // namespace tg::data
