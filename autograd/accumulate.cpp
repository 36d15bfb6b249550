#include "accumulate.hpp"

#include "dispatch.hpp"
#include "record.hpp"
#include "storage.hpp"

namespace tg::detail {

// d(a + b)/da = d(a + b)/db = 1: the gradient passes through to both.
Tensor accumulate(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) {
    fail("accumulate_grad: gradients of shape {} {} and {} {} cannot be summed",
         to_string(a.shape()), name(a.dtype()), to_string(b.shape()), name(b.dtype()));
  }
  Tensor sum = dispatch_floating(a.dtype(), "accumulate_grad", [&]<class T>() {
    return tensor(new_array<T>(a.shape(), a.value<T>() + b.value<T>()));
  });
  return record("accumulate_grad", sum, {a, b}, [](const Tensor& grad) {
    return std::vector<Tensor>{grad, grad};
  });
}

Tensor recorded_clone(const Tensor& t) {
  return record("clone", t.clone(), {t},
                [](const Tensor& grad) { return std::vector<Tensor>{grad}; });
}

}  // namespace tg::detail
