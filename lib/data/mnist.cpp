#include "mnist.hpp"

#include "../../autograd/error.hpp"
#include "idx.hpp"

namespace tg::data {
namespace {
constexpr std::uint8_t num_classes = 10;
}  // namespace

std::filesystem::path MNIST::find_file(const std::filesystem::path& directory,
                                       const std::string& stem) {
  for (const char* suffix : {"", ".gz"}) {
    std::filesystem::path candidate = directory / (stem + suffix);
    if (std::filesystem::exists(candidate)) return candidate;
  }
  fail(
      "MNIST: no {} (or {}.gz) in {}; scripts/mnist.sh fetches MNIST into data/mnist and links "
      "Fashion-MNIST as data/fashion-mnist",
      stem, stem, directory.string());
}

MNIST::MNIST(const std::filesystem::path& directory, Split split) {
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const auto images_path = find_file(directory, prefix + "-images-idx3-ubyte");
  const auto labels_path = find_file(directory, prefix + "-labels-idx1-ubyte");
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3) {
    fail("MNIST: {} has {} dims, expected 3 (count, rows, cols)", images_path.string(),
         images.dims.size());
  }
  if (labels.dims.size() != 1) {
    fail("MNIST: {} has {} dims, expected 1 (count)", labels_path.string(), labels.dims.size());
  }
  if (images.dims[0] != labels.dims[0]) {
    fail("MNIST: {} holds {} images but {} holds {} labels", images_path.string(), images.dims[0],
         labels_path.string(), labels.dims[0]);
  }
  for (std::size_t i = 0; i < labels.values.size(); ++i) {
    if (labels.values[i] >= num_classes) {
      fail("MNIST: {}: label {} at byte offset {} is not a class 0-9", labels_path.string(),
           labels.values[i], 8 + i);
    }
  }
  rows_ = images.dims[1];
  cols_ = images.dims[2];
  images_ = std::move(images.values);
  labels_ = std::move(labels.values);
}

std::int64_t MNIST::get(std::size_t index, float* out) const {
  if (index >= size()) fail("MNIST: index {} out of range for {} examples", index, size());
  const std::size_t pixels = rows_ * cols_;
  const std::uint8_t* image = images_.data() + index * pixels;
  // Divided as float, as torch_ref.py's x.astype(float32) / 255.
  for (std::size_t i = 0; i < pixels; ++i) out[i] = static_cast<float>(image[i]) / 255.0f;
  return labels_[index];
}

void MNIST::truncate(std::size_t n) {
  if (n >= size()) return;
  labels_.resize(n);
  images_.resize(n * rows_ * cols_);
}

}  // namespace tg::data
