#pragma once
// DataLoader: batches of a Dataset, reshuffled every epoch, optionally transformed (augmented)
// example by example, the next batch made in the background while the current one trains.
//
//   using namespace tg::data;
//   DataLoader loader(train_set,
//                     {.batch_size = 128, .seed = 1, .drop_last = true,
//                      .transform = Compose{RandomCrop(28, 4), RandomHorizontalFlip()}});
//   for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.set_epoch(epoch);
//     for (const auto& batch : loader) { ... batch.images [B,1,28,28] f32, batch.labels [B] i64 }
//   }
//
// An epoch's batches depend only on (seed, epoch): the order on the shuffle's generator, each
// example's augmentation on example_generator(seed, epoch, its index in the dataset)
// (transforms.hpp). So a resumed run sees the same batches, and they are bitwise the same with
// or without prefetch and at any thread count.
//
// Prefetch: while the loop body trains on batch i, batch i + 1 is made by a task on the parallel
// seam's threads (kernels::BackgroundTask): it takes one of the tg::set_num_threads threads while
// it runs, and with one thread it is made when the loop asks for it. An error while making a batch
// (a dataset's, a transform's) is thrown by the iterator's operator* of that batch, on the
// calling thread, as tg::Error. While a loop runs, the dataset's get() is called from the
// background thread: it must not change the dataset (MNIST and TensorDataset do not), and the
// dataset must not be changed (truncate) until the loop ends. Leaving a loop early waits for the
// batch in flight.

#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "dataset.hpp"
#include "distributed_sampler.hpp"
#include "transforms.hpp"

namespace tg::data {

struct DataLoaderOptions {
  std::size_t batch_size = 64;
  bool shuffle = true;
  std::uint64_t seed = 0;  // of the shuffle and of the transforms' random choices
  bool drop_last = false;  // drop a last batch smaller than batch_size (as PyTorch)
  Compose transform;       // applied to every example (empty: none)
  bool prefetch = true;    // make the next batch in the background (see above)
  // Data-parallel training: this rank's share of each epoch's order (distributed_sampler.hpp);
  // batch_size is then per rank.
  std::optional<DistributedSampler> sampler;
};

struct Batch {
  Tensor images;  // f32 [B, example shape after the transform...]
  Tensor labels;  // i64 [B]
};

class DataLoader {
  struct Prefetch;  // the state of a loop that prefetches (dataloader.cpp)

 public:
  // The dataset must outlive the loader (a temporary one is refused at compile time). A
  // transform that cannot take the dataset's examples (a channel count, a crop size) is a
  // tg::Error here.
  DataLoader(const Dataset& dataset, DataLoaderOptions options);
  DataLoader(const Dataset&& dataset, DataLoaderOptions options) = delete;

  // Not while a loop over the loader runs: a prefetched batch would belong to the old epoch.
  void set_epoch(std::uint64_t epoch);
  std::uint64_t epoch() const { return epoch_; }
  std::size_t num_batches() const;
  std::size_t num_examples() const;  // in the batches of an epoch (after drop_last)
  // Shape of one example of a batch (after the transform).
  const Shape& example_shape() const { return example_shape_; }
  const DataLoaderOptions& options() const { return options_; }
  // Batch `index` of the epoch, made on the calling thread.
  Batch batch(std::size_t index) const;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    iterator(const DataLoader* loader, std::size_t index,
             std::shared_ptr<Prefetch> prefetch = nullptr)
        : loader_(loader), index_(index), prefetch_(std::move(prefetch)) {}
    Batch operator*() const;
    iterator& operator++() {
      ++index_;
      return *this;
    }
    bool operator==(const iterator& other) const { return index_ == other.index_; }

   private:
    const DataLoader* loader_;
    std::size_t index_;
    std::shared_ptr<Prefetch> prefetch_;  // null: each batch made on demand
  };
  iterator begin() const;
  iterator end() const { return {this, num_batches()}; }

 private:
  // A batch of `count` examples with its tensors allocated, not yet filled.
  Batch allocate(std::size_t count) const;
  // Writes the examples of the dataset at `indices` (transformed) and their labels. Touches
  // nothing but the dataset, the transform and the two arrays (no tensor, no loader state that
  // set_epoch changes), so it may run on the prefetch thread.
  void fill(std::span<const std::size_t> indices, std::uint64_t epoch, float* images,
            std::int64_t* labels) const;
  // The dataset indices of batch `index` in this epoch's order.
  std::span<const std::size_t> indices(std::size_t index) const;

  const Dataset& dataset_;
  DataLoaderOptions options_;
  Shape input_shape_;    // of the dataset's examples
  Shape example_shape_;  // after the transform
  std::uint64_t epoch_ = 0;
  std::vector<std::size_t> order_;
};

}  // namespace tg::data
