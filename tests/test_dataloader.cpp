#include <catch2/catch.hpp>

#include <set>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/idx_files.hpp"
#include "support/temp_dir.hpp"

namespace {

// Labels of every batch of an epoch, in order.
std::vector<std::int64_t> epoch_labels(tg::data::DataLoader& loader, std::uint64_t epoch) {
  loader.set_epoch(epoch);
  std::vector<std::int64_t> labels;
  for (const auto& batch : loader) {
    for (auto label : batch.labels.value<std::int64_t>()) labels.push_back(label);
  }
  return labels;
}

}  // namespace

TEST_CASE("DataLoader batches images in [0,1] with i64 labels", "[data][dataloader]") {
  tg::test::TempDir dir;
  tg::test::write_mnist_dir(dir.path(), "train", 25, false);
  tg::data::MNIST data(dir.path(), tg::data::Split::train);

  tg::data::DataLoader loader(data, {.batch_size = 8, .shuffle = false});
  CHECK(loader.num_batches() == 4);
  auto first = loader.batch(0);
  CHECK(first.images.shape() == tg::Shape{8, 1, 28, 28});
  CHECK(first.images.dtype() == tg::f32);
  CHECK(first.labels.dtype() == tg::i64);
  CHECK(xt::amax(first.images.value<float>())() <= 1.0f);
  CHECK(xt::amin(first.images.value<float>())() >= 0.0f);
  CHECK(first.labels.value<std::int64_t>()(7) == 7);
  CHECK(loader.batch(3).labels.numel() == 1);  // the remainder

  tg::data::DataLoader dropping(data, {.batch_size = 8, .drop_last = true});
  CHECK(dropping.num_batches() == 3);
  CHECK(dropping.num_examples() == 24);
}

TEST_CASE("shuffling depends on seed and epoch only, and covers every example",
          "[data][dataloader]") {
  tg::test::TempDir dir;
  tg::test::write_mnist_dir(dir.path(), "train", 40, false);
  tg::data::MNIST data(dir.path(), tg::data::Split::train);
  tg::data::DataLoader a(data, {.batch_size = 7, .seed = 3});
  tg::data::DataLoader b(data, {.batch_size = 7, .seed = 3});
  tg::data::DataLoader c(data, {.batch_size = 7, .seed = 4});
  const auto a1 = epoch_labels(a, 1);
  tg::manual_seed(123);  // the global generator must not matter
  CHECK(epoch_labels(b, 1) == a1);
  CHECK(epoch_labels(a, 2) != a1);
  CHECK(epoch_labels(c, 1) != a1);
  CHECK(epoch_labels(a, 1) == a1);

  // Every example once per epoch: the images' first pixels (i % 256) are a permutation.
  a.set_epoch(5);
  std::multiset<float> firsts;
  for (const auto& batch : a) {
    for (std::size_t i = 0; i < batch.labels.numel(); ++i)
      firsts.insert(batch.images.value<float>()(i, 0, 0, 0));
  }
  REQUIRE(firsts.size() == 40);
  CHECK(std::set<float>(firsts.begin(), firsts.end()).size() == 40);
}

TEST_CASE("DataLoader rejects a zero batch size and out-of-range batches",
          "[data][dataloader][errors]") {
  tg::test::TempDir dir;
  tg::test::write_mnist_dir(dir.path(), "train", 5, false);
  tg::data::MNIST data(dir.path(), tg::data::Split::train);
  CHECK_THROWS_WITH(tg::data::DataLoader(data, {.batch_size = 0}), Catch::Contains("batch_size"));
  tg::data::DataLoader loader(data, {.batch_size = 2});
  CHECK_THROWS_WITH(loader.batch(3), Catch::Contains("batch 3 out of range for 3"));
}
