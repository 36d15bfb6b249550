#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <set>

#include <tapegrad.hpp>

namespace {

using tg::data::DistributedSampler;

// Labels are the examples' indices, so that a batch's labels say which examples it holds.
class Indices : public tg::data::Dataset {
 public:
  explicit Indices(std::size_t size) : size_(size) {}
  std::size_t size() const override { return size_; }
  tg::Shape example_shape() const override { return {1}; }
  std::int64_t get(std::size_t index, float* out) const override {
    *out = static_cast<float>(index);
    return static_cast<std::int64_t>(index);
  }

 private:
  std::size_t size_;
};

std::vector<std::int64_t> labels(const tg::data::Batch& batch) {
  const auto& v = batch.labels.value<std::int64_t>();
  return {v.begin(), v.end()};
}

}  // namespace

TEST_CASE("DistributedSampler: rank r takes positions r, r + N, ... of the order",
          "[data][distributed_sampler]") {
  const std::vector<std::size_t> order = {7, 3, 9, 0, 5, 1, 8, 2, 6, 4};
  // 10 examples over 3 ranks: 4 each, the order padded with its first two (PyTorch's rule).
  CHECK(DistributedSampler({.num_replicas = 3, .rank = 0}).shard(order) ==
        std::vector<std::size_t>{7, 0, 8, 4});
  CHECK(DistributedSampler({.num_replicas = 3, .rank = 1}).shard(order) ==
        std::vector<std::size_t>{3, 5, 2, 7});
  CHECK(DistributedSampler({.num_replicas = 3, .rank = 2}).shard(order) ==
        std::vector<std::size_t>{9, 1, 6, 3});
  // drop_last: cut to 9, 3 each, example 4 left out.
  CHECK(DistributedSampler({.num_replicas = 3, .rank = 2, .drop_last = true}).shard(order) ==
        std::vector<std::size_t>{9, 1, 6});
  CHECK(DistributedSampler({.num_replicas = 3, .rank = 0}).num_samples(10) == 4);
  CHECK(DistributedSampler({.num_replicas = 3, .rank = 0, .drop_last = true}).num_samples(10) == 3);
  // Fewer examples than ranks: the padding repeats the order as often as needed.
  CHECK(DistributedSampler({.num_replicas = 5, .rank = 4}).shard({6, 2}) ==
        std::vector<std::size_t>{6});
  CHECK(
      DistributedSampler({.num_replicas = 5, .rank = 4, .drop_last = true}).shard({6, 2}).empty());
  // Without MPI or before init(): one rank, the whole order.
  const DistributedSampler alone;
  CHECK(alone.num_replicas() == 1);
  CHECK(alone.rank() == 0);
  CHECK(alone.shard(order) == order);
}

TEST_CASE(
    "N loaders with DistributedSampler and batch B cover step by step what one loader "
    "with batch N B covers",
    "[data][distributed_sampler]") {
  tg::Generator gen(11);
  for (int trial = 0; trial < 20; ++trial) {
    const std::size_t n = 1 + gen.below(4);
    const std::size_t batch = 1 + gen.below(5);
    const std::size_t steps = 1 + gen.below(4);
    const Indices data(n * batch * steps);
    CAPTURE(n, batch, steps);
    tg::data::DataLoader whole(data, {.batch_size = n * batch, .seed = 9});
    std::vector<tg::data::DataLoader> ranks;
    for (std::size_t r = 0; r < n; ++r) {
      ranks.emplace_back(data, tg::data::DataLoaderOptions{
                                   .batch_size = batch,
                                   .seed = 9,
                                   .sampler = DistributedSampler({.num_replicas = n, .rank = r})});
    }
    for (const std::uint64_t epoch : {0, 3}) {
      whole.set_epoch(epoch);
      for (auto& loader : ranks) loader.set_epoch(epoch);
      for (std::size_t s = 0; s < steps; ++s) {
        std::vector<std::int64_t> together;
        for (auto& loader : ranks) {
          REQUIRE(loader.num_batches() == steps);
          const auto mine = labels(loader.batch(s));
          together.insert(together.end(), mine.begin(), mine.end());
        }
        auto expected = labels(whole.batch(s));
        std::sort(together.begin(), together.end());
        std::sort(expected.begin(), expected.end());
        REQUIRE(together == expected);
      }
    }
  }
}

TEST_CASE("DataLoader with DistributedSampler: padding when N does not divide the data",
          "[data][distributed_sampler]") {
  const Indices data(10);
  std::multiset<std::int64_t> seen;
  for (std::size_t r = 0; r < 3; ++r) {
    tg::data::DataLoader loader(data,
                                {.batch_size = 3,
                                 .seed = 2,
                                 .sampler = DistributedSampler({.num_replicas = 3, .rank = r})});
    CHECK(loader.num_examples() == 4);
    CHECK(loader.num_batches() == 2);  // 3 + 1
    for (const auto& b : loader) {
      for (auto label : labels(b)) seen.insert(label);
    }
  }
  CHECK(seen.size() == 12);                                              // 10, two of them twice
  CHECK(std::set<std::int64_t>(seen.begin(), seen.end()).size() == 10);  // every example
}

TEST_CASE("DistributedSampler refuses a rank outside the world",
          "[data][distributed_sampler][errors]") {
  REQUIRE_THROWS_AS(DistributedSampler({.num_replicas = 2, .rank = 2}), tg::Error);
  REQUIRE_THROWS_WITH(DistributedSampler({.num_replicas = 2, .rank = 2}),
                      Catch::Contains("DistributedSampler") &&
                          Catch::Contains("rank 2 is not below num_replicas 2"));
  REQUIRE_THROWS_WITH(DistributedSampler({.num_replicas = 0}),
                      Catch::Contains("num_replicas must be positive"));
}
