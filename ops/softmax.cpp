#include "softmax.hpp"

#include "../autograd/dispatch.hpp"
#include "../autograd/record.hpp"
#include "../autograd/storage.hpp"
#include "arithmetic.hpp"
#include "around_dim.hpp"
#include "checks.hpp"
#include "kernels/softmax.hpp"
#include "reduction.hpp"

namespace tg {
namespace {

template <bool Log>
Tensor softmax_values(const char* op, const Tensor& x, std::int64_t dim) {
  detail::check_floating(op, x, "input");
  const detail::AroundDim v =
      detail::around_dim(x.shape(), detail::normalize_dim(op, dim, x.shape()));
  return dispatch_floating(x.dtype(), op, [&]<class T>() {
    auto out = detail::new_array<T>(x.shape());
    if constexpr (Log) {
      kernels::log_softmax(x.value<T>().data(), out.data(), v.outer, v.length, v.inner);
    } else {
      kernels::softmax(x.value<T>().data(), out.data(), v.outer, v.length, v.inner);
    }
    return tensor(std::move(out));
  });
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) {
  Tensor out = softmax_values<false>("softmax", x, dim);
  return record("softmax", out, {x}, [dim](const Tensor& g, const Tensor& y) {
    return std::vector<Tensor>{mul(y, sub(g, sum(mul(g, y), {dim}, true)))};
  });
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  Tensor out = softmax_values<true>("log_softmax", x, dim);
  return record("log_softmax", out, {x}, [dim](const Tensor& g, const Tensor& y) {
    return std::vector<Tensor>{sub(g, mul(exp(y), sum(g, {dim}, true)))};
  });
}

}  // namespace tg
