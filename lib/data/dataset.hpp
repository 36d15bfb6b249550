#pragma once
// A dataset of labelled images, as the DataLoader reads it.

#include <cstddef>
#include <cstdint>

#include "../../autograd/tensor.hpp"

namespace tg::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::size_t size() const = 0;
  // Shape of one example, e.g. [1, 28, 28].
  virtual Shape example_shape() const = 0;
  // Writes example `index` as floats (example_shape().numel() of them) and returns its label.
  // A DataLoader that prefetches calls it from another of the seam's threads while the caller
  // trains: it must only read the dataset.
  virtual std::int64_t get(std::size_t index, float* out) const = 0;
};

}  // namespace tg::data
