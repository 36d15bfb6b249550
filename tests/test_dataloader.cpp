#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

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

namespace {

// Every batch of an epoch (images and labels), made under `threads` threads.
std::vector<tg::data::Batch> epoch_batches(const tg::data::DataLoader& loader, int threads) {
  tg::set_num_threads(threads);
  std::vector<tg::data::Batch> batches;
  for (const auto& batch : loader) batches.push_back(batch);
  tg::set_num_threads(0);
  return batches;
}

bool bitwise_equal(const std::vector<tg::data::Batch>& a, const std::vector<tg::data::Batch>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].images.shape() != b[i].images.shape()) return false;
    if (!xt::all(xt::equal(a[i].images.value<float>(), b[i].images.value<float>()))) return false;
    if (!xt::all(xt::equal(a[i].labels.value<std::int64_t>(), b[i].labels.value<std::int64_t>())))
      return false;
  }
  return true;
}

// 50 random 3x6x6 images labelled by their index.
struct RandomImages {
  RandomImages() {
    tg::manual_seed(11);
    images = tg::rand({50, 3, 6, 6});
    labels = tg::zeros({50}, {.dtype = tg::i64});
    for (std::size_t i = 0; i < 50; ++i)
      labels.value<std::int64_t>()(i) = static_cast<std::int64_t>(i);
  }
  tg::Tensor images;
  tg::Tensor labels;
};

tg::data::Compose augmentation() {
  using namespace tg::data;
  return Compose{RandomCrop(6, 2), RandomHorizontalFlip(),
                 Normalize({0.5, 0.4, 0.3}, {0.2, 0.25, 0.3})};
}

// A dataset that records the threads its examples are read on, and throws at one index.
class Watched : public tg::data::Dataset {
 public:
  enum class Throw { none, tg_error, std_error };
  explicit Watched(Throw kind = Throw::none, std::size_t bad = 0) : kind_(kind), bad_(bad) {}
  std::size_t size() const override { return 40; }
  tg::Shape example_shape() const override { return {1, 2, 2}; }
  std::int64_t get(std::size_t index, float* out) const override {
    {
      const std::lock_guard lock(mutex_);
      threads_.insert(std::this_thread::get_id());
    }
    if (index == bad_ && kind_ == Throw::tg_error) tg::fail("Watched: example {} is bad", index);
    if (index == bad_ && kind_ == Throw::std_error) throw std::runtime_error("disk on fire");
    for (int i = 0; i < 4; ++i) out[i] = static_cast<float>(index);
    return static_cast<std::int64_t>(index);
  }
  std::set<std::thread::id> threads() const {
    const std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  Throw kind_;
  std::size_t bad_;
  mutable std::mutex mutex_;
  mutable std::set<std::thread::id> threads_;
};

}  // namespace

TEST_CASE("drop_last drops only a short last batch, as PyTorch", "[data][dataloader]") {
  const RandomImages data_tensors;
  const tg::data::TensorDataset data(data_tensors.images, data_tensors.labels);  // 50 examples
  struct Case {
    std::size_t batch;
    bool drop_last;
    std::size_t batches, examples, last;
  };
  for (const Case c :
       {Case{8, false, 7, 50, 2}, Case{8, true, 6, 48, 8}, Case{10, false, 5, 50, 10},
        Case{10, true, 5, 50, 10}, Case{50, true, 1, 50, 50}, Case{64, false, 1, 50, 50},
        Case{64, true, 0, 0, 0}}) {
    CAPTURE(c.batch, c.drop_last);
    tg::data::DataLoader loader(data, {.batch_size = c.batch, .drop_last = c.drop_last});
    REQUIRE(loader.num_batches() == c.batches);
    REQUIRE(loader.num_examples() == c.examples);
    std::size_t batches = 0, examples = 0, last = 0;
    for (const auto& batch : loader) {
      ++batches;
      last = batch.labels.numel();
      examples += last;
    }
    CHECK(batches == c.batches);
    CHECK(examples == c.examples);
    CHECK(last == c.last);
  }
}

TEST_CASE("augmented batches depend on seed and epoch only", "[data][dataloader]") {
  const RandomImages data_tensors;
  const tg::data::TensorDataset data(data_tensors.images, data_tensors.labels);
  const tg::data::DataLoaderOptions options{
      .batch_size = 8, .seed = 5, .transform = augmentation()};
  tg::data::DataLoader a(data, options);
  tg::data::DataLoader b(data, options);
  a.set_epoch(3);
  b.set_epoch(3);
  const auto a3 = epoch_batches(a, 2);
  tg::manual_seed(99);  // the global generator must not matter
  CHECK(bitwise_equal(epoch_batches(b, 2), a3));
  CHECK(a3[0].images.shape() == tg::Shape{8, 3, 6, 6});

  a.set_epoch(4);
  CHECK_FALSE(bitwise_equal(epoch_batches(a, 2), a3));
  tg::data::DataLoader other_seed(data, {.batch_size = 8, .seed = 6, .transform = augmentation()});
  other_seed.set_epoch(3);
  CHECK_FALSE(bitwise_equal(epoch_batches(other_seed, 2), a3));

  // Without shuffling, another epoch still augments differently.
  tg::data::DataLoader ordered(data,
                               {.batch_size = 8, .shuffle = false, .transform = augmentation()});
  const auto first = epoch_batches(ordered, 2);
  ordered.set_epoch(1);
  const auto second = epoch_batches(ordered, 2);
  CHECK_FALSE(bitwise_equal(first, second));
  CHECK(bool(xt::all(
      xt::equal(first[0].labels.value<std::int64_t>(), second[0].labels.value<std::int64_t>()))));
}

TEST_CASE("an example's augmentation is its own: the transform of it with its generator",
          "[data][dataloader]") {
  const RandomImages data_tensors;
  const tg::data::TensorDataset data(data_tensors.images, data_tensors.labels);
  const auto transform = augmentation();
  // Two batch sizes, shuffled: every example comes out as transform(example, its generator).
  for (std::size_t batch_size : {7, 16}) {
    tg::data::DataLoader loader(data,
                                {.batch_size = batch_size, .seed = 2, .transform = transform});
    loader.set_epoch(9);
    for (const auto& batch : loader) {
      for (std::size_t i = 0; i < batch.labels.numel(); ++i) {
        const auto index = static_cast<std::size_t>(batch.labels.value<std::int64_t>()(i));
        tg::Generator generator = tg::data::example_generator(2, 9, index);
        const tg::Tensor example =
            tg::tensor(xt::xarray<float>(xt::view(data_tensors.images.value<float>(), index)));
        const tg::Tensor expected = transform(example, generator);
        REQUIRE(bool(
            xt::all(xt::equal(xt::view(batch.images.value<float>(), i), expected.value<float>()))));
      }
    }
  }
}

TEST_CASE("batches are bitwise the same with and without prefetch, at 1 and 2 threads",
          "[data][dataloader][prefetch]") {
  const RandomImages data_tensors;
  const tg::data::TensorDataset data(data_tensors.images, data_tensors.labels);
  tg::data::DataLoader prefetching(data, {.batch_size = 6, .seed = 1, .transform = augmentation()});
  tg::data::DataLoader plain(
      data, {.batch_size = 6, .seed = 1, .transform = augmentation(), .prefetch = false});
  for (std::uint64_t epoch : {0, 1}) {
    prefetching.set_epoch(epoch);
    plain.set_epoch(epoch);
    const auto reference = epoch_batches(plain, 1);
    REQUIRE(reference.size() == 9);
    CHECK(bitwise_equal(epoch_batches(prefetching, 2), reference));
    CHECK(bitwise_equal(epoch_batches(prefetching, 1), reference));
    CHECK(bitwise_equal(epoch_batches(plain, 2), reference));
    // And batch(i), made on the calling thread.
    for (std::size_t i = 0; i < reference.size(); ++i) {
      CHECK(bitwise_equal({prefetching.batch(i)}, {reference[i]}));
    }
  }
}

TEST_CASE("prefetch reads examples on another thread only when the knob allows 2",
          "[data][dataloader][prefetch]") {
  const auto reader_threads = [](bool prefetch, int threads) {
    const Watched data;
    tg::data::DataLoader loader(data, {.batch_size = 4, .prefetch = prefetch});
    tg::set_num_threads(threads);
    for (const auto& batch : loader) {
      (void)batch;
      // A training step's worth of time, in which a free thread of the pool takes the next batch
      // (a loop that asks for it at once may find it not yet taken, and make it itself).
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    tg::set_num_threads(0);
    return data.threads();
  };
  const std::set<std::thread::id> here{std::this_thread::get_id()};
  CHECK(reader_threads(false, 2) == here);
  CHECK(reader_threads(true, 1) == here);  // the knob's one thread: no other reads examples
  const auto both = reader_threads(true, 2);
  CHECK(both.size() == 2);  // the first batch here, the others in the background
  CHECK(both.count(std::this_thread::get_id()) == 1);
}

TEST_CASE("an error making a batch surfaces as tg::Error at that batch, prefetched or not",
          "[data][dataloader][prefetch][errors]") {
  for (const auto kind : {Watched::Throw::tg_error, Watched::Throw::std_error}) {
    for (const bool prefetch : {true, false}) {
      CAPTURE(prefetch, kind == Watched::Throw::tg_error);
      const Watched data(kind, 21);  // in batch 5 (batch size 4, no shuffle)
      tg::data::DataLoader loader(data, {.batch_size = 4, .shuffle = false, .prefetch = prefetch});
      tg::set_num_threads(2);
      std::size_t delivered = 0;
      auto it = loader.begin();
      auto next_batch = [&] {
        const tg::data::Batch batch = *it;
        ++it;
        ++delivered;
      };
      for (int i = 0; i < 5; ++i) next_batch();
      REQUIRE_THROWS_AS(next_batch(), tg::Error);
      CHECK(delivered == 5);
      if (kind == Watched::Throw::tg_error) {
        REQUIRE_THROWS_WITH(*it, Catch::Contains("Watched: example 21 is bad"));
      } else {
        REQUIRE_THROWS_WITH(*it, Catch::Contains("DataLoader: example 21: disk on fire"));
      }
      // The loop can go on past the bad batch, and end.
      ++it;
      for (; it != loader.end(); ++it) CHECK((*it).labels.numel() == 4);
      tg::set_num_threads(0);
    }
  }
}

TEST_CASE("leaving a prefetching loop early waits for the batch in flight",
          "[data][dataloader][prefetch]") {
  tg::set_num_threads(2);
  const Watched bad_later(Watched::Throw::tg_error, 5);  // in batch 1, prefetched and dropped
  tg::data::DataLoader loader(bad_later, {.batch_size = 4, .shuffle = false});
  for (const auto& batch : loader) {
    CHECK(batch.labels.numel() == 4);
    break;
  }
  const RandomImages data_tensors;
  const tg::data::TensorDataset data(data_tensors.images, data_tensors.labels);
  for (int round = 0; round < 20; ++round) {
    tg::data::DataLoader short_lived(data, {.batch_size = 3, .transform = augmentation()});
    auto it = short_lived.begin();
    CHECK((*it).labels.numel() == 3);
  }  // loader and iterator gone with a batch in flight: no crash, no hang (ASan/TSan builds)
  tg::set_num_threads(0);
}

TEST_CASE("a transform changes the batch shape; examples it cannot take fail at construction",
          "[data][dataloader][errors]") {
  tg::test::TempDir dir;
  tg::test::write_mnist_dir(dir.path(), "train", 12, false);
  tg::data::MNIST data(dir.path(), tg::data::Split::train);
  tg::data::DataLoader cropped(data, {.batch_size = 5, .transform = tg::data::RandomCrop(24)});
  CHECK(cropped.example_shape() == tg::Shape{1, 24, 24});
  CHECK(cropped.batch(2).images.shape() == tg::Shape{2, 1, 24, 24});
  REQUIRE_THROWS_AS(
      tg::data::DataLoader(data, {.transform = tg::data::Normalize({0.5, 0.5, 0.5}, {1, 1, 1})}),
      tg::Error);
  REQUIRE_THROWS_WITH(
      tg::data::DataLoader(data, {.transform = tg::data::Normalize({0.5, 0.5, 0.5}, {1, 1, 1})}),
      Catch::Contains("Normalize: 3 means and stds for an example of 1 channels [1,28,28]"));
  REQUIRE_THROWS_WITH(tg::data::DataLoader(data, {.transform = tg::data::RandomCrop(30, 0)}),
                      Catch::Contains("RandomCrop: crop 30x30") && Catch::Contains("[1,28,28]"));
}
