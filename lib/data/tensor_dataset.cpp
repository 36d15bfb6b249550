#include "tensor_dataset.hpp"

#include <algorithm>

#include "../../autograd/error.hpp"
#include "../../autograd/grad_mode.hpp"

namespace tg::data {

TensorDataset::TensorDataset(const Tensor& images, const Tensor& labels) {
  if (!images.defined() || !labels.defined()) {
    fail("TensorDataset: expected images and labels, got an undefined {}",
         images.defined() ? "labels tensor" : "images tensor");
  }
  const std::string shapes =
      fmt::format("images {} {}, labels {} {}", name(images.dtype()), to_string(images.shape()),
                  name(labels.dtype()), to_string(labels.shape()));
  if (images.dtype() != DType::f32 && images.dtype() != DType::f64) {
    fail("TensorDataset: expected f32 or f64 images ({})", shapes);
  }
  if (images.dim() == 0) fail("TensorDataset: expected images [N, ...], got a scalar ({})", shapes);
  if (labels.dtype() != DType::i64 || labels.dim() != 1) {
    fail("TensorDataset: expected i64 labels [N] ({})", shapes);
  }
  if (images.shape()[0] != labels.shape()[0]) {
    fail("TensorDataset: {} images but {} labels ({})", images.shape()[0], labels.shape()[0],
         shapes);
  }
  NoGradGuard no_grad;  // the data is not a parameter: converting it records nothing
  images_ = images.detach().to(DType::f32);
  labels_ = labels.detach();
  size_ = images.shape()[0];
  example_shape_ = Shape(images.shape().begin() + 1, images.shape().end());
  for (std::size_t d : example_shape_) example_size_ *= d;
}

std::int64_t TensorDataset::get(std::size_t index, float* out) const {
  if (index >= size_) fail("TensorDataset: index {} out of range for {} examples", index, size_);
  const float* example = images_.value<float>().data() + index * example_size_;
  std::copy(example, example + example_size_, out);
  return labels_.value<std::int64_t>().data()[index];
}

}  // namespace tg::data
