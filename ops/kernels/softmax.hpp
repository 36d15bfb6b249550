#pragma once
// Softmax and log-softmax of a row-major array seen as [outer, dim, inner], along the middle
// dim. The maximum along dim is subtracted before exponentiating, so no finite input
// overflows. Each output element is computed by one thread in a fixed order: results do not
// depend on the thread count.

#include <cstddef>

namespace tg::kernels {

// out[o, k, i] = e^(x[o,k,i] - m) / sum_k e^(x[o,k,i] - m),  m = max_k x[o,k,i]
template <class T>
void softmax(const T* x, T* out, std::size_t outer, std::size_t dim, std::size_t inner);

// out[o, k, i] = x[o,k,i] - m - log(sum_k e^(x[o,k,i] - m))
template <class T>
void log_softmax(const T* x, T* out, std::size_t outer, std::size_t dim, std::size_t inner);

}  // namespace tg::kernels
