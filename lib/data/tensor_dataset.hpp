#pragma once
// A dataset held in memory as two tensors: images [N, ...] (f32 or f64) and labels i64 [N].
// Wherever an MNIST dataset goes, this one goes too:
//
//   tg::data::TensorDataset train_set(images, labels);  // e.g. [50000,3,32,32] f32, [50000] i64
//   tg::data::DataLoader loader(train_set, {.batch_size = 128, .seed = seed});
//
// Example i is images[i] (shape images.shape()[1:]), as f32 (f64 images are converted once, here:
// batches are f32). The arrays are shared with the tensors passed in (no copy for f32), as
// torch.utils.data.TensorDataset shares them: change them in place and the examples change.

#include "dataset.hpp"

namespace tg::data {

class TensorDataset : public Dataset {
 public:
  TensorDataset(const Tensor& images, const Tensor& labels);

  std::size_t size() const override { return size_; }
  Shape example_shape() const override { return example_shape_; }
  std::int64_t get(std::size_t index, float* out) const override;

  const Tensor& images() const { return images_; }  // f32, without the tape
  const Tensor& labels() const { return labels_; }

 private:
  Tensor images_;
  Tensor labels_;
  std::size_t size_ = 0;
  Shape example_shape_;
  std::size_t example_size_ = 1;
};

}  // namespace tg::data
