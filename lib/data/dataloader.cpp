#include "dataloader.hpp"

#include <numeric>

#include "../../autograd/random.hpp"

namespace tg::data {

DataLoader::DataLoader(const Dataset& dataset, DataLoaderOptions options)
    : dataset_(dataset), options_(options) {
  if (options.batch_size == 0) fail("DataLoader: batch_size must be positive");
  if (dataset.size() == 0) fail("DataLoader: the dataset is empty");
  set_epoch(0);
}

void DataLoader::set_epoch(std::uint64_t epoch) {
  order_.resize(dataset_.size());
  std::iota(order_.begin(), order_.end(), std::size_t{0});
  if (!options_.shuffle) return;
  // A generator of its own per epoch: the order does not depend on what else drew numbers.
  Generator generator(options_.seed * 0x9E3779B97F4A7C15ull + epoch);
  for (std::size_t i = order_.size(); i > 1; --i) {
    std::swap(order_[i - 1], order_[generator.below(i)]);
  }
}

std::size_t DataLoader::num_batches() const {
  const std::size_t n = dataset_.size();
  return options_.drop_last ? n / options_.batch_size
                            : (n + options_.batch_size - 1) / options_.batch_size;
}

std::size_t DataLoader::num_examples() const {
  return options_.drop_last ? num_batches() * options_.batch_size : dataset_.size();
}

Batch DataLoader::batch(std::size_t index) const {
  if (index >= num_batches()) {
    fail("DataLoader: batch {} out of range for {} batches", index, num_batches());
  }
  const std::size_t begin = index * options_.batch_size;
  const std::size_t count = std::min(options_.batch_size, dataset_.size() - begin);
  const Shape example = dataset_.example_shape();
  Shape shape{count};
  shape.insert(shape.end(), example.begin(), example.end());
  std::size_t example_size = 1;
  for (std::size_t d : example) example_size *= d;

  Batch batch{zeros(shape), zeros({count}, {.dtype = DType::i64})};
  float* images = batch.images.value<float>().data();
  std::int64_t* labels = batch.labels.value<std::int64_t>().data();
  for (std::size_t i = 0; i < count; ++i) {
    labels[i] = dataset_.get(order_[begin + i], images + i * example_size);
  }
  return batch;
}

}  // namespace tg::data
