#pragma once
// Transforms of image examples [C, H, W] (f32), as torchvision's: Normalize, RandomCrop with zero
// padding, RandomHorizontalFlip, and Compose to chain them. A DataLoader applies them to every
// example it batches:
//
//   using namespace tg::data;
//   DataLoader train(train_set, {.batch_size = 128, .seed = seed,
//                                .transform = Compose{RandomCrop(28, 4), RandomHorizontalFlip(),
//                                                     Normalize({0.2860}, {0.3530})}});
//   DataLoader test(test_set, {.batch_size = 100, .shuffle = false,
//                              .transform = Compose{Normalize({0.2860}, {0.3530})}});
//
// or to a tensor, an example [C,H,W] or a batch [B,C,H,W]:
//
//   tg::Generator generator(7);
//   tg::Tensor flipped = RandomHorizontalFlip(1.0)(images, generator);
//
// Randomness: a transform draws only from the Generator it is handed. The DataLoader hands each
// example a generator of its own, example_generator(seed, epoch, dataset index), so an example's
// augmentation depends on nothing else: not on the batch size, the batch order, other examples,
// the thread count or whether batches are prefetched. A run is reproducible from its seed, and a
// resumed run (set_epoch) augments as the uninterrupted one did.
//
// Transforms run per example, not on a whole batch: every example needs its own crop offset and
// flip anyway, and the loader transforms an example right after the dataset wrote it, while it is
// still in cache (one pass over the batch, no batch-sized temporaries, no tape). Crop, flip and
// normalise together, generator included, take about 1.4 us per 1x28x28 example and 4 us per
// 3x32x32 one on one core here: a percent or two of the time per image even at 10,000 images/s,
// and hidden behind training when the loader prefetches.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../autograd/random.hpp"
#include "../../autograd/tensor.hpp"
#include "../../ops/options.hpp"

namespace tg::data {

class Transform {
 public:
  virtual ~Transform() = default;

  // "RandomCrop(size=(24, 24), padding=(4, 4))": error messages and printing use it.
  virtual std::string name() const = 0;
  // The shape of the transform of an example of `shape`. Throws tg::Error naming the transform
  // and the shape when it cannot take such an example (wrong rank, channel count, crop size).
  virtual Shape output_shape(const Shape& shape) const = 0;
  // Writes the transform of `in` (an example of `shape`, accepted by output_shape) to `out`
  // (output_shape(shape) floats, not overlapping `in`). Random choices come from `generator`
  // only. Safe to call from several threads at once (transforms are immutable).
  virtual void apply(const float* in, float* out, const Shape& shape,
                     Generator& generator) const = 0;

  // The transform of an f32 example [C,H,W] or of each example of a batch [B,C,H,W] (drawing
  // from `generator` in turn), as a new tensor without the tape.
  Tensor operator()(const Tensor& images, Generator& generator) const;
};

// The generator the DataLoader gives example `index` (of the dataset) in `epoch`: a hash of the
// three, independent of the shuffle's generator.
Generator example_generator(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index);

// (x - mean[c]) / std[c] for each channel c, in float as torchvision's Normalize. One mean and
// std serve every channel; otherwise there is one per channel.
class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  std::string name() const override;
  Shape output_shape(const Shape& shape) const override;
  void apply(const float* in, float* out, const Shape& shape, Generator& generator) const override;

 private:
  std::vector<float> mean_;
  std::vector<float> std_;
};

// A random size.h x size.w window of the example zero-padded by `padding` on each side, as
// torchvision's RandomCrop(size, padding). The window's top row is generator.below(H + 2 ph -
// size.h + 1), then its left column generator.below(W + 2 pw - size.w + 1), in the padded
// example; nothing is drawn when the window is the whole padded example (as torchvision).
// RandomCrop(32, 4) is square; a non-square one is RandomCrop({24, 20}, 0) (a lone braced size
// would also read as a copy of RandomCrop{24, 20}).
class RandomCrop : public Transform {
 public:
  explicit RandomCrop(Size2 size, Size2 padding = 0);
  std::string name() const override;
  Shape output_shape(const Shape& shape) const override;
  void apply(const float* in, float* out, const Shape& shape, Generator& generator) const override;

  // The crop whose top-left corner is (top, left) in the padded example: what apply does once
  // it has drawn the corner.
  void crop(const float* in, float* out, const Shape& shape, std::size_t top,
            std::size_t left) const;

 private:
  Size2 size_;
  Size2 padding_;
};

// Mirrors the example left to right with probability p: if generator.uniform() < p (one draw
// per example, whatever p).
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  std::string name() const override;
  Shape output_shape(const Shape& shape) const override;
  void apply(const float* in, float* out, const Shape& shape, Generator& generator) const override;

 private:
  double p_;
};

// The transforms in order, each drawing from the same generator after the one before. An empty
// Compose is the identity (the DataLoader's default).
class Compose : public Transform {
 public:
  Compose() = default;
  // Compose{RandomCrop(32, 4), RandomHorizontalFlip()}: copies of the transforms, shared by
  // copies of the Compose (they are immutable).
  template <class... T>
  requires(sizeof...(T) > 0 && (std::derived_from<std::decay_t<T>, Transform> && ...) &&
           !(sizeof...(T) == 1 && (std::same_as<std::decay_t<T>, Compose> && ...)))
      Compose(
          T&&... transforms)  // NOLINT: implicit, so that `.transform = RandomCrop(28, 4)` works
      : transforms_{std::make_shared<const std::decay_t<T>>(std::forward<T>(transforms))...} {}
  explicit Compose(std::vector<std::shared_ptr<const Transform>> transforms);

  bool empty() const { return transforms_.empty(); }
  const std::vector<std::shared_ptr<const Transform>>& transforms() const { return transforms_; }

  std::string name() const override;
  Shape output_shape(const Shape& shape) const override;
  void apply(const float* in, float* out, const Shape& shape, Generator& generator) const override;

 private:
  std::vector<std::shared_ptr<const Transform>> transforms_;
};

}  // namespace tg::data
