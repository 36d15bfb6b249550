#include "transforms.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "../../autograd/error.hpp"

namespace tg::data {
namespace {

// splitmix64's finaliser: every input bit moves every output bit, so neighbouring indices or
// epochs give unrelated streams.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Keeps the augmentation's streams apart from anything else seeded with the same number.
constexpr std::uint64_t augmentation_stream = 0x6175676d656e7461ull;  // "augmenta"

std::size_t numel(const Shape& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

// The image transforms take examples [C, H, W].
void check_image(const std::string& transform, const Shape& shape) {
  if (shape.size() != 3) {
    fail("{}: expected an example [C,H,W], got {}", transform, to_string(shape));
  }
}

}  // namespace

Generator example_generator(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index) {
  return Generator(mix(mix(mix(seed ^ augmentation_stream) ^ epoch) ^ index));
}

Tensor Transform::operator()(const Tensor& images, Generator& generator) const {
  if (images.dtype() != DType::f32) {
    fail("{}: expected f32 images, got {} {}", name(), tg::name(images.dtype()),
         to_string(images.shape()));
  }
  const Shape& shape = images.shape();
  if (shape.size() != 3 && shape.size() != 4) {
    fail("{}: expected an example [C,H,W] or a batch [B,C,H,W], got {}", name(), to_string(shape));
  }
  const bool batched = shape.size() == 4;
  const Shape example(shape.begin() + (batched ? 1 : 0), shape.end());
  const Shape example_out = output_shape(example);
  Shape out_shape = example_out;
  if (batched) out_shape.insert(out_shape.begin(), shape[0]);

  Tensor out = zeros(out_shape);
  const float* in = images.value<float>().data();
  float* dst = out.value<float>().data();
  const std::size_t count = batched ? shape[0] : 1;
  for (std::size_t i = 0; i < count; ++i) {
    apply(in + i * numel(example), dst + i * numel(example_out), example, generator);
  }
  return out;
}

// ---- Normalize ----

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) {
  const std::string shapes = fmt::format("mean [{}], std [{}]", mean.size(), std.size());
  if (mean.empty() || mean.size() != std.size()) {
    fail("Normalize: expected as many means as stds, at least one ({})", shapes);
  }
  for (std::size_t c = 0; c < mean.size(); ++c) {
    if (!std::isfinite(mean[c]) || !std::isfinite(std[c])) {
      fail("Normalize: mean[{}] = {} and std[{}] = {} must be finite ({})", c, mean[c], c, std[c],
           shapes);
    }
    // In float, as the division is: a std below float's range would divide by zero too.
    if (static_cast<float>(std[c]) == 0.0f) {
      fail("Normalize: std[{}] is 0, which would divide by zero ({})", c, shapes);
    }
    mean_.push_back(static_cast<float>(mean[c]));
    std_.push_back(static_cast<float>(std[c]));
  }
}

std::string Normalize::name() const {
  return fmt::format("Normalize(mean={}, std={})", mean_, std_);
}

Shape Normalize::output_shape(const Shape& shape) const {
  check_image("Normalize", shape);
  if (mean_.size() != 1 && mean_.size() != shape[0]) {
    fail("Normalize: {} means and stds for an example of {} channels {}", mean_.size(), shape[0],
         to_string(shape));
  }
  return shape;
}

void Normalize::apply(const float* in, float* out, const Shape& shape, Generator&) const {
  const std::size_t plane = shape[1] * shape[2];
  for (std::size_t c = 0; c < shape[0]; ++c) {
    const std::size_t k = mean_.size() == 1 ? 0 : c;
    const float mean = mean_[k];
    const float std = std_[k];
    const float* src = in + c * plane;
    float* dst = out + c * plane;
    // A division, not a multiplication by 1/std: bitwise torchvision's sub_(mean).div_(std).
    for (std::size_t i = 0; i < plane; ++i) dst[i] = (src[i] - mean) / std;
  }
}

// ---- RandomCrop ----

RandomCrop::RandomCrop(Size2 size, Size2 padding) : size_(size), padding_(padding) {
  if (size.h <= 0 || size.w <= 0) {
    fail("RandomCrop: size {} must be positive", to_string(size));
  }
  if (padding.h < 0 || padding.w < 0) {
    fail("RandomCrop: padding {} must be >= 0", to_string(padding));
  }
}

std::string RandomCrop::name() const {
  return fmt::format("RandomCrop(size={}, padding={})", to_string(size_), to_string(padding_));
}

Shape RandomCrop::output_shape(const Shape& shape) const {
  check_image("RandomCrop", shape);
  const auto padded_h = static_cast<std::int64_t>(shape[1]) + 2 * padding_.h;
  const auto padded_w = static_cast<std::int64_t>(shape[2]) + 2 * padding_.w;
  if (size_.h > padded_h || size_.w > padded_w) {
    fail("RandomCrop: crop {}x{} is larger than the padded example {}x{} (example {}, padding {})",
         size_.h, size_.w, padded_h, padded_w, to_string(shape), to_string(padding_));
  }
  return {shape[0], static_cast<std::size_t>(size_.h), static_cast<std::size_t>(size_.w)};
}

void RandomCrop::apply(const float* in, float* out, const Shape& shape,
                       Generator& generator) const {
  const auto padded_h = shape[1] + 2 * static_cast<std::size_t>(padding_.h);
  const auto padded_w = shape[2] + 2 * static_cast<std::size_t>(padding_.w);
  const auto h = static_cast<std::size_t>(size_.h);
  const auto w = static_cast<std::size_t>(size_.w);
  std::size_t top = 0;
  std::size_t left = 0;
  if (h != padded_h || w != padded_w) {
    top = generator.below(padded_h - h + 1);
    left = generator.below(padded_w - w + 1);
  }
  crop(in, out, shape, top, left);
}

void RandomCrop::crop(const float* in, float* out, const Shape& shape, std::size_t top,
                      std::size_t left) const {
  const auto channels = shape[0];
  const auto in_h = static_cast<std::int64_t>(shape[1]);
  const auto in_w = static_cast<std::int64_t>(shape[2]);
  const std::int64_t h = size_.h;
  const std::int64_t w = size_.w;
  // Output column x reads input column left + x - pw: the columns that land inside the input
  // are [x_begin, x_end); the rest are padding.
  const std::int64_t shift_x = static_cast<std::int64_t>(left) - padding_.w;
  const std::int64_t x_begin = std::clamp<std::int64_t>(-shift_x, 0, w);
  const std::int64_t x_end = std::clamp<std::int64_t>(in_w - shift_x, x_begin, w);
  for (std::size_t c = 0; c < channels; ++c) {
    for (std::int64_t y = 0; y < h; ++y) {
      float* row = out + (static_cast<std::int64_t>(c) * h + y) * w;
      const std::int64_t source_y = static_cast<std::int64_t>(top) + y - padding_.h;
      if (source_y < 0 || source_y >= in_h) {
        std::fill(row, row + w, 0.0f);
        continue;
      }
      const float* source = in + (static_cast<std::int64_t>(c) * in_h + source_y) * in_w;
      std::fill(row, row + x_begin, 0.0f);
      std::copy(source + x_begin + shift_x, source + x_end + shift_x, row + x_begin);
      std::fill(row + x_end, row + w, 0.0f);
    }
  }
}

// ---- RandomHorizontalFlip ----

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  if (!(p >= 0.0 && p <= 1.0)) fail("RandomHorizontalFlip: p = {} is not in [0, 1]", p);
}

std::string RandomHorizontalFlip::name() const {
  return fmt::format("RandomHorizontalFlip(p={})", p_);
}

Shape RandomHorizontalFlip::output_shape(const Shape& shape) const {
  check_image("RandomHorizontalFlip", shape);
  return shape;
}

void RandomHorizontalFlip::apply(const float* in, float* out, const Shape& shape,
                                 Generator& generator) const {
  const std::size_t n = numel(shape);
  if (!(generator.uniform() < p_)) {
    std::memcpy(out, in, n * sizeof(float));
    return;
  }
  const std::size_t w = shape[2];
  for (std::size_t row = 0; row < n; row += w) std::reverse_copy(in + row, in + row + w, out + row);
}

// ---- Compose ----

Compose::Compose(std::vector<std::shared_ptr<const Transform>> transforms)
    : transforms_(std::move(transforms)) {
  for (std::size_t i = 0; i < transforms_.size(); ++i) {
    if (!transforms_[i]) fail("Compose: transform {} of {} is null", i, transforms_.size());
  }
}

std::string Compose::name() const {
  std::vector<std::string> names;
  for (const auto& t : transforms_) names.push_back(t->name());
  return fmt::format("Compose({})", fmt::join(names, ", "));
}

Shape Compose::output_shape(const Shape& shape) const {
  Shape out = shape;
  for (const auto& t : transforms_) out = t->output_shape(out);
  return out;
}

void Compose::apply(const float* in, float* out, const Shape& shape, Generator& generator) const {
  if (transforms_.empty()) {
    std::memcpy(out, in, numel(shape) * sizeof(float));
    return;
  }
  // Each transform reads the one before's result from one buffer and writes the other; the last
  // writes `out`. A handful of kilobytes per example: allocating them is cheap beside a step.
  std::vector<float> buffers[2];
  Shape current = shape;
  const float* source = in;
  for (std::size_t i = 0; i < transforms_.size(); ++i) {
    const Shape next = transforms_[i]->output_shape(current);
    float* target = out;
    if (i + 1 < transforms_.size()) {
      buffers[i % 2].resize(numel(next));
      target = buffers[i % 2].data();
    }
    transforms_[i]->apply(source, target, current, generator);
    source = target;
    current = next;
  }
}

}  // namespace tg::data
