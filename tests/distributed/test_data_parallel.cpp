#include <catch2/catch.hpp>

#include <tapegrad.hpp>

#include "support.hpp"

namespace dist = tg::distributed;
using tg::nn::DistributedDataParallel;

namespace {

void train_step(tg::nn::Module& model, tg::optim::Optimizer& optimizer,
                const tg::data::Batch& batch, tg::DType dtype) {
  optimizer.zero_grad();
  tg::cross_entropy(model(batch.images.to(dtype)), batch.labels).backward();
  optimizer.step();
}

// Whether every rank holds rank 0's bits in every tensor of the model.
bool same_on_every_rank(const tg::nn::Module& model) {
  bool same = true;
  for (const auto& [name, tensor] : model.state_dict()) {
    tg::Tensor copy = tensor.clone();
    dist::broadcast(copy, 0);
    same = tg::test::same_bits(copy, tensor) && same;
  }
  return same;
}

// The gradients of every parameter, copied.
std::vector<tg::Tensor> gradients(const tg::nn::Module& model) {
  std::vector<tg::Tensor> grads;
  for (const tg::Tensor& p : model.parameters()) grads.push_back(p.grad().clone());
  return grads;
}

double relative_difference(const std::vector<tg::Tensor>& a, const std::vector<tg::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0;
  double scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = a[i].to(tg::f64).value<double>();
    const auto y = b[i].to(tg::f64).value<double>();
    diff = std::max(diff, double(xt::amax(xt::abs(x - y))()));
    scale = std::max(scale, double(xt::amax(xt::abs(y))()));
  }
  return diff / scale;
}

// Rank r's 8 examples of the first global batch: r, r + N, r + 2N, ... of the dataset.
tg::data::Batch share_of(const tg::data::Dataset& data) {
  tg::data::DataLoader loader(
      data, {.batch_size = 8, .shuffle = false, .sampler = tg::data::DistributedSampler()});
  return loader.batch(0);
}

}  // namespace

TEST_CASE("N ranks with batch 32 train like one process with batch 32 N", "[ddp]") {
  const auto n = static_cast<std::size_t>(dist::world_size());
  const std::size_t per_rank = 32;
  const std::size_t steps = 50;
  const tg::test::RandomImages data(per_rank * n * steps, 7);
  struct Case {
    tg::DType dtype;
    double bucket_cap_mb;
    double tolerance;
  };
  // 0.001 MiB (1049 bytes) puts the small CNN's f32 gradients into three buckets: the linear
  // bias (40 bytes), its weight (1440), the conv's bias and weight (16 + 144).
  for (const Case& c :
       {Case{tg::f32, 25, 1e-6}, Case{tg::f32, 0.001, 1e-6}, Case{tg::f64, 25, 1e-13}}) {
    CAPTURE(tg::name(c.dtype), c.bucket_cap_mb);
    // One process with the global batch, from rank 0's initial weights.
    auto reference = tg::test::small_cnn(100, c.dtype);
    // Each rank starts from weights of its own: the wrapper copies rank 0's.
    auto model = tg::test::small_cnn(100 + static_cast<std::uint64_t>(dist::rank()), c.dtype);
    auto ddp = std::make_shared<DistributedDataParallel>(
        model, tg::nn::DistributedDataParallelOptions{.bucket_cap_mb = c.bucket_cap_mb});
    CHECK(ddp->num_buckets() == (c.bucket_cap_mb < 1 ? 3 : 1));
    tg::optim::SGD reference_sgd(reference->parameters(), {.lr = 0.05, .momentum = 0.9});
    tg::optim::SGD sgd(ddp->parameters(), {.lr = 0.05, .momentum = 0.9});
    tg::data::DataLoader global(data, {.batch_size = per_rank * n, .seed = 3});
    tg::data::DataLoader local(
        data, {.batch_size = per_rank, .seed = 3, .sampler = tg::data::DistributedSampler()});
    REQUIRE(global.num_batches() == steps);
    REQUIRE(local.num_batches() == steps);
    for (std::size_t s = 0; s < steps; ++s) {
      train_step(*reference, reference_sgd, global.batch(s), c.dtype);
      train_step(*ddp, sgd, local.batch(s), c.dtype);
    }
    const double difference = tg::test::relative_difference(*model, *reference);
    CAPTURE(difference);
    CHECK(difference <= c.tolerance);
    if (n == 1) CHECK(difference == 0);  // the same batches, the same sums
    CHECK(same_on_every_rank(*model));
  }
}

TEST_CASE("DistributedDataParallel starts every rank from rank 0's parameters and buffers",
          "[ddp]") {
  auto build = [](std::uint64_t seed) {
    tg::manual_seed(seed);
    return std::make_shared<tg::nn::Sequential>(std::make_shared<tg::nn::Conv2d>(1, 2, 3),
                                                std::make_shared<tg::nn::BatchNorm2d>(2));
  };
  auto model = build(10 + static_cast<std::uint64_t>(dist::rank()));
  auto bn = model->at<tg::nn::BatchNorm2d>(1);
  bn->running_mean.value<float>().fill(static_cast<float>(dist::rank()));
  bn->num_batches_tracked.value<std::int64_t>().fill(5 * dist::rank());
  const auto version = model->at<tg::nn::Conv2d>(0)->weight.version();
  DistributedDataParallel ddp(model);
  CHECK(tg::test::same_bits(*model, *build(10)));  // rank 0's: seed 10, zero statistics
  // Changed in place (root's own are left as they are).
  if (dist::rank() != 0) CHECK(model->at<tg::nn::Conv2d>(0)->weight.version() > version);
}

TEST_CASE("DistributedDataParallel refuses models that differ across ranks, on every rank",
          "[ddp][errors]") {
  const int n = dist::world_size();
  auto null_module = std::shared_ptr<tg::nn::Module>();
  REQUIRE_THROWS_AS(DistributedDataParallel(null_module), tg::Error);
  REQUIRE_THROWS_WITH(
      DistributedDataParallel(std::make_shared<tg::nn::Linear>(2, 2), {.bucket_cap_mb = 0}),
      Catch::Contains("DistributedDataParallel") && Catch::Contains("bucket_cap_mb"));
  if (n == 1) return;
  const bool last = dist::rank() == n - 1;
  auto wider =
      std::make_shared<tg::nn::Sequential>(std::make_shared<tg::nn::Linear>(4, last ? 4 : 3));
  REQUIRE_THROWS_WITH(DistributedDataParallel(wider),
                      Catch::Contains("DistributedDataParallel: the ranks' models differ") &&
                          Catch::Contains("rank 0 has '0.weight' f32 [3,4] where rank " +
                                          std::to_string(n - 1) + " has '0.weight' f32 [4,4]"));
  auto longer = std::make_shared<tg::nn::Sequential>(std::make_shared<tg::nn::Linear>(4, 3));
  if (last) longer->push_back(std::make_shared<tg::nn::Linear>(3, 3));
  REQUIRE_THROWS_WITH(DistributedDataParallel(longer),
                      Catch::Contains("'1.weight' f32 [3,3], which rank 0 does not"));
  // The ranks are still in step after the errors.
  DistributedDataParallel fine(std::make_shared<tg::nn::Linear>(4, 3));
  CHECK(fine.num_buckets() == 1);
}

TEST_CASE("in training, every forward first copies rank 0's buffers to every rank", "[ddp]") {
  auto model = std::make_shared<tg::nn::Sequential>(std::make_shared<tg::nn::BatchNorm2d>(1));
  auto bn = model->at<tg::nn::BatchNorm2d>(0);
  DistributedDataParallel ddp(model);
  const int r = dist::rank();
  bn->running_mean.value<float>().fill(static_cast<float>(r + 1));
  bn->num_batches_tracked.value<std::int64_t>().fill(10 * r);
  const tg::Tensor x = tg::full({2, 1, 2, 2}, 4.0 * r);  // each rank's own batch, mean 4 r

  ddp.eval();
  ddp(x);
  CHECK(bn->running_mean.item<float>() == static_cast<float>(r + 1));  // neither copied nor updated
  CHECK(!bn->is_training());

  ddp.train();
  ddp(x);
  CHECK(bn->is_training());
  CHECK(bn->num_batches_tracked.item<std::int64_t>() == 1);  // rank 0's 0, then this batch
  // rank 0's running mean 1, updated with momentum 0.1 by this rank's batch mean.
  CHECK(bn->running_mean.item<float>() == Approx(0.9 * 1 + 0.1 * 4.0 * r));

  DistributedDataParallel kept(model, {.broadcast_buffers = false});
  bn->num_batches_tracked.value<std::int64_t>().fill(10 * r);
  kept(x);
  CHECK(bn->num_batches_tracked.item<std::int64_t>() == 10 * r + 1);
}

TEST_CASE("backward leaves the ranks' average gradient, added to what grad() held", "[ddp]") {
  const auto n = static_cast<std::size_t>(dist::world_size());
  const tg::test::RandomImages data(8 * n, 5);
  const tg::data::Batch batch = share_of(data);
  const tg::Tensor x = batch.images.to(tg::f64);

  // The expected: this rank's gradient of its share, averaged by hand.
  auto plain = tg::test::small_cnn(20, tg::f64);
  tg::cross_entropy((*plain)(x), batch.labels).backward();
  std::vector<tg::Tensor> expected = gradients(*plain);
  for (tg::Tensor& g : expected) dist::all_reduce(g, dist::ReduceOp::mean);

  auto model = tg::test::small_cnn(20, tg::f64);
  DistributedDataParallel ddp(model, {.bucket_cap_mb = 0.001});
  REQUIRE(ddp.num_buckets() > 1);
  tg::cross_entropy(ddp(x), batch.labels).backward();
  CHECK(relative_difference(gradients(*model), expected) <= 1e-14);

  // A second backward without zero_grad adds its average.
  tg::cross_entropy(ddp(x), batch.labels).backward();
  for (tg::Tensor& g : expected) g = g * 2.0;
  CHECK(relative_difference(gradients(*model), expected) <= 1e-14);
  ddp.synchronize();  // nothing in progress: nothing happens
  CHECK(relative_difference(gradients(*model), expected) <= 1e-14);
}

namespace {

// Two heads, of which forward uses the first only.
struct TwoHeads : tg::nn::Module {
  TwoHeads()
      : used(register_module("used", std::make_shared<tg::nn::Linear>(4, 2))),
        unused(register_module("unused", std::make_shared<tg::nn::Linear>(4, 2))) {}
  tg::Tensor forward(const tg::Tensor& x) override { return (*used)(x); }
  std::shared_ptr<tg::nn::Linear> used;
  std::shared_ptr<tg::nn::Linear> unused;
};

}  // namespace

TEST_CASE("a backward that leaves parameters unused is finished by synchronize()",
          "[ddp][errors]") {
  tg::manual_seed(3);
  auto model = std::make_shared<TwoHeads>();
  DistributedDataParallel ddp(model);
  const tg::Tensor x = tg::full({3, 4}, 1.0 + dist::rank());
  tg::sum(ddp(x)).backward();
  REQUIRE_THROWS_AS(ddp(x), tg::Error);
  REQUIRE_THROWS_WITH(ddp(x), Catch::Contains("synchronize()") &&
                                  Catch::Contains("'unused.weight', 'unused.bias'"));
  ddp.synchronize();
  // d sum(W x + b) / dW = [3 (1 + r)] per row and column, averaged over the ranks.
  const double n = dist::world_size();
  const double mean_x = (n + 1) / 2;
  CHECK(bool(xt::allclose(model->used->weight.grad().value<float>(),
                          xt::xarray<float>(xt::ones<float>({2, 4}) * 3 * mean_x))));
  CHECK(bool(xt::all(xt::equal(model->unused->weight.grad().value<float>(), 0.0f))));
  tg::sum(ddp(x)).backward();  // the next round works
  ddp.synchronize();
}

TEST_CASE("DistributedDataParallel refuses backward with create_graph", "[ddp][errors]") {
  auto model = tg::test::small_cnn(1);
  DistributedDataParallel ddp(model);
  const tg::Tensor x = tg::ones({2, 1, 8, 8});
  REQUIRE_THROWS_AS(tg::sum(ddp(x)).backward({.create_graph = true}), tg::Error);
  REQUIRE_THROWS_WITH(
      tg::sum(ddp(x)).backward({.create_graph = true}),
      Catch::Contains("DistributedDataParallel") && Catch::Contains("create_graph"));
}

TEST_CASE("the wrapper has the module's names, tensors and modes", "[ddp]") {
  auto model = tg::test::small_cnn(4);
  model->at<tg::nn::Conv2d>(0)->bias.set_requires_grad(false);  // frozen stays frozen
  auto ddp = std::make_shared<DistributedDataParallel>(model);
  const auto mine = ddp->state_dict();
  const auto theirs = model->state_dict();
  REQUIRE(mine.size() == theirs.size());
  for (std::size_t i = 0; i < mine.size(); ++i) {
    CHECK(mine[i].first == theirs[i].first);
    CHECK(mine[i].second.is_same(theirs[i].second));
  }
  CHECK(!model->at<tg::nn::Conv2d>(0)->bias.requires_grad());

  // A module with parameters of its own, not only in children.
  auto linear = std::make_shared<tg::nn::Linear>(3, 2);
  DistributedDataParallel wrapped(linear);
  REQUIRE(wrapped.named_parameters().size() == 2);
  CHECK(wrapped.named_parameters()[0].first == "weight");
  CHECK(wrapped.describe() == "DistributedDataParallel(" + linear->describe() + ")");

  ddp->eval();
  (*ddp)(tg::ones({1, 1, 8, 8}));
  CHECK(!model->is_training());
  ddp->train();
  (*ddp)(tg::ones({1, 1, 8, 8}));
  CHECK(model->is_training());

  // A dtype changed after wrapping: the buckets follow.
  ddp->to(tg::f64);
  tg::sum((*ddp)(tg::ones({1, 1, 8, 8}, {.dtype = tg::f64}))).backward();
  CHECK(model->at<tg::nn::Linear>(4)->weight.grad().dtype() == tg::f64);
}
