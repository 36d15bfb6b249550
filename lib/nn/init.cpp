#include "init.hpp"

#include <cmath>

#include "../../autograd/dispatch.hpp"
#include "../../autograd/random.hpp"

namespace tg::nn::init {

void uniform(Tensor& t, double bound) {
  Generator& generator = global_generator();
  dispatch_floating(t.dtype(), "init::uniform", [&]<class T>() {
    for (T& v : t.value<T>()) v = static_cast<T>((2.0 * generator.uniform() - 1.0) * bound);
  });
  t.bump_version();
}

double default_bound(std::size_t fan_in) {
  // gain = sqrt(2 / (1 + a^2)) with a = sqrt(5); bound = gain * sqrt(3 / fan_in).
  return fan_in == 0 ? 0.0 : std::sqrt(1.0 / 3.0) * std::sqrt(3.0 / static_cast<double>(fan_in));
}

}  // namespace tg::nn::init
