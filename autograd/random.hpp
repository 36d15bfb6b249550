#pragma once
// The global random generator behind randn, rand, dropout and the initialisers.
// Its stream is fixed by the seed alone (std::mt19937_64 and our own transforms, never the
// standard library's distributions, whose output differs between implementations).

#include <cstdint>
#include <random>

namespace tg {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : engine_(seed) {}
  void seed(std::uint64_t seed) { engine_.seed(seed); }
  std::uint64_t next() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller, one value per two uniforms, so the stream stays simple).
  double normal();
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n);

  const std::mt19937_64& engine() const { return engine_; }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

// Seeds the global generator (and so everything random in tapegrad).
void manual_seed(std::uint64_t seed);
// The global generator. Not thread-safe: draw from it on one thread (tapegrad does).
Generator& global_generator();

}  // namespace tg
