#include "softmax.hpp"

#include "../autograd/dispatch.hpp"
#include "../autograd/grad_mode.hpp"
#include "../autograd/record.hpp"
#include "arithmetic.hpp"
#include "checks.hpp"
#include "kernels/softmax.hpp"
#include "reduction.hpp"

namespace tg {
namespace {

// x viewed as [outer, dim, inner] around the normalised dim d.
struct View {
  std::size_t outer = 1;
  std::size_t dim = 1;
  std::size_t inner = 1;
};

View view_around(const Shape& shape, std::size_t d) {
  View v;
  for (std::size_t i = 0; i < d; ++i) v.outer *= shape[i];
  v.dim = shape[d];
  for (std::size_t i = d + 1; i < shape.size(); ++i) v.inner *= shape[i];
  return v;
}

template <bool Log>
Tensor softmax_values(const char* op, const Tensor& x, std::int64_t dim) {
  detail::check_floating(op, x, "input");
  const auto rank = static_cast<std::int64_t>(x.dim());
  if (rank == 0) fail("{}: input must have at least 1 dim, got a 0-D tensor []", op);
  if (dim < -rank || dim >= rank) {
    fail("{}: dim {} is out of range for input {} (expected {} to {})", op, dim,
         to_string(x.shape()), -rank, rank - 1);
  }
  const View v = view_around(x.shape(), detail::normalize_dim(op, dim, x.dim()));
  return dispatch_floating(x.dtype(), op, [&]<class T>() {
    auto out = xt::xarray<T>::from_shape(x.shape());
    if constexpr (Log) {
      kernels::log_softmax(x.value<T>().data(), out.data(), v.outer, v.dim, v.inner);
    } else {
      kernels::softmax(x.value<T>().data(), out.data(), v.outer, v.dim, v.inner);
    }
    return tensor(std::move(out));
  });
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) {
  Tensor out = softmax_values<false>("softmax", x, dim);
  // The saved output serves a plain backward; a recorded one (create_graph) recomputes y on
  // the tape so that the second derivative flows through it.
  return record("softmax", out, {x}, [x, y = out, dim](const Tensor& g) {
    const Tensor s = GradMode::is_enabled() ? softmax(x, dim) : y;
    return std::vector<Tensor>{mul(s, sub(g, sum(mul(g, s), {dim}, true)))};
  });
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  Tensor out = softmax_values<true>("log_softmax", x, dim);
  return record("log_softmax", out, {x}, [x, y = out, dim](const Tensor& g) {
    const Tensor l = GradMode::is_enabled() ? log_softmax(x, dim) : y;
    return std::vector<Tensor>{sub(g, mul(exp(l), sum(g, {dim}, true)))};
  });
}

}  // namespace tg
