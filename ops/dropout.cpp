#include "dropout.hpp"

#include "../autograd/dispatch.hpp"
#include "../autograd/random.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "arithmetic.hpp"
#include "checks.hpp"

namespace tg {

Tensor dropout(const Tensor& x, double p, bool training) {
  detail::check_floating("dropout", x, "input");
  if (!(p >= 0.0 && p <= 1.0)) {
    fail("dropout: probability p must be in [0, 1], got {} (input {})", p, to_string(x.shape()));
  }
  if (!training || p == 0.0) return x;

  // The mask holds 0 or 1/(1-p), so one multiplication both drops and rescales. It is drawn
  // on this thread, one uniform per element in row-major order: the seed alone fixes it.
  Tensor mask = dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    xt::xarray<T> values = detail::new_array<T>(x.shape());
    values.fill(T(0));
    if (p < 1.0) {
      const auto scale = static_cast<T>(1.0 / (1.0 - p));
      Generator& generator = global_generator();
      for (T& v : values) v = generator.uniform() < p ? T(0) : scale;
    }
    return tensor(std::move(values));
  });
  Tensor out = dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    return tensor(detail::new_array<T>(x.shape(), x.value<T>() * mask.value<T>()));
  });
  return record("dropout", out, {x},
                [mask](const Tensor& g) { return std::vector<Tensor>{mul(g, mask)}; });
}

}  // namespace tg
