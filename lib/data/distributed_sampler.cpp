#include "distributed_sampler.hpp"

#include "../../autograd/error.hpp"
#include "../distributed/distributed.hpp"

namespace tg::data {

DistributedSampler::DistributedSampler(const DistributedSamplerOptions& options)
    : num_replicas_(
          options.num_replicas.value_or(static_cast<std::size_t>(distributed::world_size()))),
      rank_(options.rank.value_or(static_cast<std::size_t>(distributed::rank()))),
      drop_last_(options.drop_last) {
  if (num_replicas_ == 0) fail("DistributedSampler: num_replicas must be positive");
  if (rank_ >= num_replicas_) {
    fail("DistributedSampler: rank {} is not below num_replicas {}", rank_, num_replicas_);
  }
}

std::size_t DistributedSampler::num_samples(std::size_t dataset_size) const {
  return drop_last_ ? dataset_size / num_replicas_
                    : (dataset_size + num_replicas_ - 1) / num_replicas_;
}

std::vector<std::size_t> DistributedSampler::shard(const std::vector<std::size_t>& order) const {
  const std::size_t count = num_samples(order.size());
  std::vector<std::size_t> mine;
  mine.reserve(count);
  // Position p of the padded order is order[p % size]: the padding repeats the order from its
  // start (as often as needed when the dataset is smaller than num_replicas), as PyTorch's.
  for (std::size_t k = 0; k < count; ++k)
    mine.push_back(order[(rank_ + k * num_replicas_) % order.size()]);
  return mine;
}

}  // namespace tg::data
