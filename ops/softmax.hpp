#pragma once
// Softmax along one dim, computed stably (the maximum is subtracted first).
//   softmax:     y = e^x / sum(e^x);   dx = y * (g - sum(g * y, dim))
//   log_softmax: y = x - logsumexp(x); dx = g - e^y * sum(g, dim)

#include <cstdint>

#include "../autograd/tensor.hpp"

namespace tg {

[[nodiscard]] Tensor softmax(const Tensor& x, std::int64_t dim);
[[nodiscard]] Tensor log_softmax(const Tensor& x, std::int64_t dim);

}  // namespace tg
