#pragma once
// A small model and a synthetic dataset for the data-parallel tests.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <tapegrad.hpp>

namespace tg::test {

// `size` images [1, 8, 8] of N(0, 1) values with labels in [0, 10), the same on every rank (a
// generator of its own, seeded by `seed`).
class RandomImages : public data::Dataset {
 public:
  RandomImages(std::size_t size, std::uint64_t seed) : size_(size) {
    Generator generator(seed);
    pixels_.resize(size * 64);
    for (float& p : pixels_) p = static_cast<float>(generator.normal());
    for (std::size_t i = 0; i < size; ++i) {
      labels_.push_back(static_cast<std::int64_t>(generator.below(10)));
    }
  }
  std::size_t size() const override { return size_; }
  Shape example_shape() const override { return {1, 8, 8}; }
  std::int64_t get(std::size_t index, float* out) const override {
    std::copy_n(pixels_.begin() + static_cast<std::ptrdiff_t>(index * 64), 64, out);
    return labels_[index];
  }

 private:
  std::size_t size_;
  std::vector<float> pixels_;
  std::vector<std::int64_t> labels_;
};

// conv 1->4 3x3, ReLU, max-pool 2, flatten, linear 36->10: weights initialised from
// tg::manual_seed(seed).
inline std::shared_ptr<nn::Sequential> small_cnn(std::uint64_t seed, DType dtype = f32) {
  manual_seed(seed);
  auto net = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(1, 4, 3), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(MaxPool2dOptions{.kernel = 2}),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(36, 10));
  net->to(dtype);
  return net;
}

// max |a - b| / max |b| over the tensors of two state dicts of the same names and shapes.
inline double relative_difference(const nn::Module& a, const nn::Module& b) {
  const auto sa = a.state_dict();
  const auto sb = b.state_dict();
  REQUIRE(sa.size() == sb.size());
  double diff = 0;
  double scale = 0;
  for (std::size_t i = 0; i < sa.size(); ++i) {
    REQUIRE(sa[i].first == sb[i].first);
    const Tensor x = sa[i].second.to(f64);
    const Tensor y = sb[i].second.to(f64);
    if (x.dtype() == i64) continue;
    REQUIRE(x.shape() == y.shape());
    diff = std::max(diff, double(xt::amax(xt::abs(x.value<double>() - y.value<double>()))()));
    scale = std::max(scale, double(xt::amax(xt::abs(y.value<double>()))()));
  }
  return diff / scale;
}

// Whether two tensors hold the same dtype, shape and bits.
inline bool same_bits(const Tensor& x, const Tensor& y) {
  if (x.dtype() != y.dtype() || x.shape() != y.shape()) return false;
  auto equal = [&]<class T>() {  // raw data: xtensor's iterators over an empty array are not safe
    const T* a = x.value<T>().data();
    return std::equal(a, a + x.numel(), y.value<T>().data());
  };
  switch (x.dtype()) {
    case f32:
      return equal.operator()<float>();
    case f64:
      return equal.operator()<double>();
    case i64:
      return equal.operator()<std::int64_t>();
  }
  return false;
}

// Whether every tensor of two state dicts holds the same bits.
inline bool same_bits(const nn::Module& a, const nn::Module& b) {
  const auto sa = a.state_dict();
  const auto sb = b.state_dict();
  if (sa.size() != sb.size()) return false;
  for (std::size_t i = 0; i < sa.size(); ++i) {
    if (!same_bits(sa[i].second, sb[i].second)) return false;
  }
  return true;
}

// A directory for files that one test writes and a later one reads: $TG_TEST_DIR (set by CTest).
inline std::filesystem::path test_dir() {
  const char* dir = std::getenv("TG_TEST_DIR");
  if (!dir) FAIL("TG_TEST_DIR is not set (CTest sets it)");
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace tg::test
