#include "random.hpp"

#include <cmath>
#include <numbers>

namespace tg {

double Generator::normal() {
  // 1 - u keeps the logarithm's argument in (0, 1].
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::uint64_t Generator::below(std::uint64_t n) {
  // Rejection sampling: no modulo bias.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x = next();
  while (x >= limit) x = next();
  return x % n;
}

Generator& global_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(std::uint64_t seed) { global_generator().seed(seed); }

}  // namespace tg
