#pragma once
// A copy of a contiguous array, split across the parallel seam when it is large. Each value is
// copied by one thread, so the result is the same at any thread count.

#include <cstddef>

namespace tg::kernels {

// to[0, n) = from[0, n); the ranges must not overlap.
template <class T>
void copy(const T* from, std::size_t n, T* to);

}  // namespace tg::kernels
