#pragma once
// DataLoader: batches of a Dataset, reshuffled every epoch.
//
//   tg::data::DataLoader loader(train_set, {.batch_size = 64, .seed = 1});
//   for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.set_epoch(epoch);
//     for (const auto& batch : loader) { ... batch.images [B,1,28,28] f32, batch.labels [B] i64 }
//   }
//
// An epoch's order depends only on (seed, epoch), so a resumed run sees the same batches.

#include <cstdint>
#include <iterator>
#include <vector>

#include "dataset.hpp"

namespace tg::data {

struct DataLoaderOptions {
  std::size_t batch_size = 64;
  bool shuffle = true;
  std::uint64_t seed = 0;
  bool drop_last = false;  // drop a last batch smaller than batch_size
};

struct Batch {
  Tensor images;  // f32 [B, example_shape...]
  Tensor labels;  // i64 [B]
};

class DataLoader {
 public:
  // The dataset must outlive the loader (a temporary one is refused at compile time).
  DataLoader(const Dataset& dataset, DataLoaderOptions options);
  DataLoader(const Dataset&& dataset, DataLoaderOptions options) = delete;

  void set_epoch(std::uint64_t epoch);
  std::size_t num_batches() const;
  std::size_t num_examples() const;  // in the batches of an epoch (after drop_last)
  Batch batch(std::size_t index) const;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    iterator(const DataLoader* loader, std::size_t index) : loader_(loader), index_(index) {}
    Batch operator*() const { return loader_->batch(index_); }
    iterator& operator++() {
      ++index_;
      return *this;
    }
    bool operator==(const iterator& other) const { return index_ == other.index_; }

   private:
    const DataLoader* loader_;
    std::size_t index_;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, num_batches()}; }

 private:
  const Dataset& dataset_;
  DataLoaderOptions options_;
  std::vector<std::size_t> order_;
};

}  // namespace tg::data
