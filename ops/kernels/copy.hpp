#pragma once
// Copies of contiguous arrays, split across the parallel seam when they are large. Each value is
// copied by one thread, so the result is the same at any thread count.

#include <cstddef>

namespace tg::kernels {

// to[0, n) = from[0, n); the ranges must not overlap.
template <class T>
void copy(const T* from, std::size_t n, T* to);

// out, of shape to[0, rank), = from broadcast: from_shape has the same rank, each dim equal to
// to's or 1 (then repeated). Runs along the last dim are copied or filled whole.
template <class T>
void broadcast_copy(const T* from, const std::size_t* from_shape, const std::size_t* to,
                    std::size_t rank, T* out);

}  // namespace tg::kernels
