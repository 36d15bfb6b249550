#include "dataloader.hpp"

#include <exception>
#include <numeric>
#include <optional>

#include "../../autograd/random.hpp"
#include "../../ops/kernels/parallel.hpp"

namespace tg::data {
namespace {

std::size_t numel(const Shape& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

}  // namespace

// The batch in flight of a loop that prefetches.
struct DataLoader::Prefetch {
  bool in_flight = false;
  std::size_t index = 0;             // of the batch in flight
  std::vector<std::size_t> indices;  // its examples, copied: set_epoch may reorder the loader's
  Batch batch;                       // allocated here, filled by the task
  // Last, so that it is destroyed first: its destructor waits for the work that writes the
  // members above.
  std::optional<kernels::BackgroundTask> task;
};

DataLoader::DataLoader(const Dataset& dataset, DataLoaderOptions options)
    : dataset_(dataset), options_(std::move(options)) {
  if (options_.batch_size == 0) fail("DataLoader: batch_size must be positive");
  if (dataset.size() == 0) fail("DataLoader: the dataset is empty");
  input_shape_ = dataset.example_shape();
  example_shape_ = options_.transform.output_shape(input_shape_);
  set_epoch(0);
}

void DataLoader::set_epoch(std::uint64_t epoch) {
  epoch_ = epoch;
  order_.resize(dataset_.size());
  std::iota(order_.begin(), order_.end(), std::size_t{0});
  if (options_.shuffle) {
    // A generator of its own per epoch: the order does not depend on what else drew numbers.
    Generator generator(options_.seed * 0x9E3779B97F4A7C15ull + epoch);
    for (std::size_t i = order_.size(); i > 1; --i) {
      std::swap(order_[i - 1], order_[generator.below(i)]);
    }
  }
  if (options_.sampler) order_ = options_.sampler->shard(order_);
}

std::size_t DataLoader::num_batches() const {
  const std::size_t n = order_.size();  // this rank's share under a sampler
  return options_.drop_last ? n / options_.batch_size
                            : (n + options_.batch_size - 1) / options_.batch_size;
}

std::size_t DataLoader::num_examples() const {
  return options_.drop_last ? num_batches() * options_.batch_size : order_.size();
}

std::span<const std::size_t> DataLoader::indices(std::size_t index) const {
  if (index >= num_batches()) {
    fail("DataLoader: batch {} out of range for {} batches", index, num_batches());
  }
  const std::size_t begin = index * options_.batch_size;
  const std::size_t count = std::min(options_.batch_size, order_.size() - begin);
  return {order_.data() + begin, count};
}

Batch DataLoader::allocate(std::size_t count) const {
  Shape shape{count};
  shape.insert(shape.end(), example_shape_.begin(), example_shape_.end());
  return {zeros(shape), zeros({count}, {.dtype = DType::i64})};
}

void DataLoader::fill(std::span<const std::size_t> indices, std::uint64_t epoch, float* images,
                      std::int64_t* labels) const {
  const std::size_t out_size = numel(example_shape_);
  // Without a transform the dataset writes straight into the batch.
  std::vector<float> example(options_.transform.empty() ? 0 : numel(input_shape_));
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const std::size_t index = indices[i];
    float* out = images + i * out_size;
    try {
      if (options_.transform.empty()) {
        labels[i] = dataset_.get(index, out);
      } else {
        labels[i] = dataset_.get(index, example.data());
        Generator generator = example_generator(options_.seed, epoch, index);
        options_.transform.apply(example.data(), out, input_shape_, generator);
      }
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      // A dataset's own exception type becomes a tg::Error, as everything tapegrad throws.
      fail("DataLoader: example {}: {}", index, e.what());
    } catch (...) {
      fail("DataLoader: example {}: an exception that is not a std::exception", index);
    }
  }
}

Batch DataLoader::batch(std::size_t index) const {
  const auto examples = indices(index);
  Batch batch = allocate(examples.size());
  fill(examples, epoch_, batch.images.value<float>().data(),
       batch.labels.value<std::int64_t>().data());
  return batch;
}

DataLoader::iterator DataLoader::begin() const {
  std::shared_ptr<Prefetch> prefetch;
  if (options_.prefetch && num_batches() > 1) prefetch = std::make_shared<Prefetch>();
  return {this, 0, std::move(prefetch)};
}

Batch DataLoader::iterator::operator*() const {
  if (!prefetch_) return loader_->batch(index_);
  Prefetch& p = *prefetch_;
  Batch current;
  if (p.in_flight && p.index == index_) {
    p.in_flight = false;
    // Rethrows the error of making this batch, here; the task is done with either way.
    struct Done {
      std::optional<kernels::BackgroundTask>& task;
      ~Done() { task.reset(); }
    } done{p.task};
    p.task->wait();
    current = std::move(p.batch);
  } else {
    // Not the batch in flight (the first, or one dereferenced twice): made here.
    current = loader_->batch(index_);
  }
  const std::size_t next = index_ + 1;
  if (!p.in_flight && next < loader_->num_batches()) {
    const auto examples = loader_->indices(next);
    p.indices.assign(examples.begin(), examples.end());
    p.batch = loader_->allocate(p.indices.size());
    p.index = next;
    p.in_flight = true;
    // The job gets the batch's raw arrays: its tensors (their reference counts) stay on this
    // thread.
    p.task.emplace([loader = loader_, indices = std::span<const std::size_t>(p.indices),
                    epoch = loader_->epoch_, images = p.batch.images.value<float>().data(),
                    labels = p.batch.labels.value<std::int64_t>().data()] {
      loader->fill(indices, epoch, images, labels);
    });
  }
  return current;
}

}  // namespace tg::data
