#pragma once
// Random shapes and tensors for the tests, from one seeded generator per test.

#include <cstdint>

#include <tapegrad.hpp>

namespace tg::test {

// A random integer in [lo, hi].
inline std::int64_t uniform_int(Generator& gen, std::int64_t lo, std::int64_t hi) {
  return lo + static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(hi - lo + 1)));
}

inline Shape random_shape(Generator& gen, std::size_t min_rank, std::size_t max_rank,
                          std::size_t max_dim = 4) {
  Shape shape(static_cast<std::size_t>(
      uniform_int(gen, static_cast<std::int64_t>(min_rank), static_cast<std::int64_t>(max_rank))));
  for (auto& d : shape)
    d = static_cast<std::size_t>(uniform_int(gen, 1, static_cast<std::int64_t>(max_dim)));
  return shape;
}

// A shape that broadcasts with `shape`: some leading dims dropped, some dims set to 1.
inline Shape broadcast_partner(Generator& gen, const Shape& shape) {
  const auto drop =
      static_cast<std::size_t>(uniform_int(gen, 0, static_cast<std::int64_t>(shape.size())));
  Shape partner(shape.begin() + static_cast<std::ptrdiff_t>(drop), shape.end());
  for (auto& d : partner) {
    if (gen.below(3) == 0) d = 1;
  }
  return partner;
}

// f64 values from N(0, 1) (from the global generator: seed it with tg::manual_seed).
inline Tensor randn64(const Shape& shape, bool requires_grad = true) {
  return randn(shape, {.dtype = f64, .requires_grad = requires_grad});
}

// f64 values bounded away from 0 (for division and log).
inline Tensor positive64(const Shape& shape, bool requires_grad = true) {
  Tensor t = rand(shape, {.dtype = f64});
  t.value<double>() = t.value<double>() + 0.5;
  t.set_requires_grad(requires_grad);
  return t;
}

}  // namespace tg::test
