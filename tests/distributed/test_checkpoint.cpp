#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include <tapegrad.hpp>

#include "support.hpp"

namespace dist = tg::distributed;
using tg::nn::DistributedDataParallel;

namespace {

// Steps [from, to) of epoch 0 with a global batch of 64, each rank taking its share.
void train(tg::nn::Module& model, tg::optim::Optimizer& optimizer, const tg::data::Dataset& data,
           std::size_t from, std::size_t to) {
  tg::data::DataLoader loader(data,
                              {.batch_size = 64 / static_cast<std::size_t>(dist::world_size()),
                               .seed = 5,
                               .sampler = tg::data::DistributedSampler()});
  for (std::size_t s = from; s < to; ++s) {
    const tg::data::Batch batch = loader.batch(s);
    optimizer.zero_grad();
    tg::cross_entropy(model(batch.images.to(tg::f64)), batch.labels).backward();
    optimizer.step();
  }
}

struct Run {
  std::shared_ptr<tg::nn::Sequential> model;
  std::shared_ptr<DistributedDataParallel> ddp;
  std::unique_ptr<tg::optim::Adam> adam;
};

// Each rank's initial weights are its own; the wrapper starts them all from rank 0's.
Run start(std::uint64_t seed) {
  Run run;
  run.model = tg::test::small_cnn(seed + static_cast<std::uint64_t>(dist::rank()), tg::f64);
  run.ddp = std::make_shared<DistributedDataParallel>(run.model);
  run.adam =
      std::make_unique<tg::optim::Adam>(run.ddp->parameters(), tg::optim::AdamOptions{.lr = 0.01});
  return run;
}

std::string with_ranks(const std::string& name, int ranks) {
  return name + "_np" + std::to_string(ranks) + ".safetensors";
}

// Ten steps of 64 examples.
const tg::test::RandomImages& data() {
  static const tg::test::RandomImages images(640, 11);
  return images;
}

}  // namespace

TEST_CASE("a checkpoint resumes every rank exactly where the run stopped", "[checkpoint]") {
  const auto path = tg::test::test_dir() / with_ranks("resume", dist::world_size());
  Run uninterrupted = start(30);
  train(*uninterrupted.ddp, *uninterrupted.adam, data(), 0, 10);

  Run first = start(30);
  train(*first.ddp, *first.adam, data(), 0, 4);
  dist::save_checkpoint(path, *first.ddp, *first.adam, {.epoch = 0, .step = 4});
  REQUIRE(std::filesystem::exists(path));  // written by rank 0, there when every rank returns

  // Other weights, a fresh Adam (no state yet) and another generator on every rank.
  Run resumed = start(77);
  tg::manual_seed(1234 + static_cast<std::uint64_t>(dist::rank()));
  const tg::TrainingState state = dist::load_checkpoint(path, *resumed.ddp, *resumed.adam);
  CHECK(state.step == 4);
  CHECK(state.epoch == 0);
  tg::Tensor drawn = tg::rand({4});  // rank 0's generator, as saved, on every rank
  tg::Tensor rank_zero = drawn.clone();
  dist::broadcast(rank_zero, 0);
  CHECK(bool(xt::all(xt::equal(drawn.value<float>(), rank_zero.value<float>()))));
  train(*resumed.ddp, *resumed.adam, data(), 4, 10);
  CHECK(tg::test::same_bits(*resumed.model, *uninterrupted.model));
}

TEST_CASE("checkpoint errors on rank 0 are every rank's errors", "[checkpoint][errors]") {
  Run run = start(1);
  const auto missing = tg::test::test_dir() / "no_such_checkpoint.safetensors";
  REQUIRE_THROWS_AS(dist::load_checkpoint(missing, *run.ddp, *run.adam), tg::Error);
  REQUIRE_THROWS_WITH(dist::load_checkpoint(missing, *run.ddp, *run.adam),
                      Catch::Contains("distributed::load_checkpoint: on rank 0") &&
                          Catch::Contains("no_such_checkpoint.safetensors"));
  const auto nowhere = tg::test::test_dir() / "no_such_dir" / "x.safetensors";
  REQUIRE_THROWS_WITH(dist::save_checkpoint(nowhere, *run.ddp, *run.adam, {}),
                      Catch::Contains("distributed::save_checkpoint: on rank 0"));
}

// The two halves of "a checkpoint of N ranks resumes in M ranks", run by CTest as separate jobs
// (tests/distributed/CMakeLists.txt): the first writes, at step 5 of 10, a checkpoint and, at
// step 10, the weights it reached; the second, with another number of ranks, resumes from the
// checkpoint and must reach the same weights. The sums' order differs with the number of ranks,
// hence a tolerance; in f64 it is tight.
TEST_CASE("write a checkpoint at step 5 and the weights at step 10", "[.checkpoint_write]") {
  const auto dir = tg::test::test_dir();
  const int n = dist::world_size();
  Run run = start(50);
  train(*run.ddp, *run.adam, data(), 0, 5);
  dist::save_checkpoint(dir / with_ranks("checkpoint", n), *run.ddp, *run.adam,
                        {.epoch = 0, .step = 5});
  train(*run.ddp, *run.adam, data(), 5, 10);
  if (dist::rank() == 0) tg::save(*run.ddp, dir / with_ranks("final", n));
  dist::barrier();
}

TEST_CASE("resume a checkpoint of another number of ranks", "[.checkpoint_resume]") {
  const auto dir = tg::test::test_dir();
  const char* from = std::getenv("TG_RESUME_FROM_NP");
  REQUIRE(from != nullptr);
  const int written_by = std::atoi(from);
  REQUIRE(written_by != dist::world_size());

  Run run = start(60);  // other weights: all come from the checkpoint
  const tg::TrainingState state =
      dist::load_checkpoint(dir / with_ranks("checkpoint", written_by), *run.ddp, *run.adam);
  REQUIRE(state.step == 5);
  train(*run.ddp, *run.adam, data(), 5, 10);

  auto reached = tg::test::small_cnn(0, tg::f64);
  tg::load(*reached, dir / with_ranks("final", written_by));
  const double difference = tg::test::relative_difference(*run.model, *reached);
  CAPTURE(written_by, dist::world_size(), difference);
  CHECK(difference <= 1e-12);
}
