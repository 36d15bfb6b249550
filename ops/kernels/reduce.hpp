#pragma once
// Reductions over raw arrays. sum_dims: the sum over a set of dimensions of a row-major array,
// in one pass over the input.
// Each output element adds its inputs in a fixed order (contiguous runs in vector lanes, the
// runs in row-major order), so the result depends on the data and the shape only, never on the
// thread count.

#include <cstddef>
#include <span>

namespace tg::kernels {

// out has the shape of `shape` with the dims where reduce[d] is true dropped (or kept as 1:
// the layout is the same). out is overwritten.
template <class T>
void sum_dims(const T* in, std::span<const std::size_t> shape, std::span<const bool> reduce,
              T* out);

// out[g] = the sum of x[g * stride, g * stride + n) for g < count, several runs side by side
// (each sum's adds wait for each other; those of different runs overlap). Each run is summed in
// the order sum_dims sums a contiguous run of summed values, so a kernel that sums such runs
// itself (a convolution's bias gradient, plane by plane) gets sum_dims's bits.
template <class T>
void sum_runs(const T* x, std::size_t n, std::size_t count, std::size_t stride, T* out);

// Whether none of values[0, n) is infinite or NaN (in vectors, on the calling thread).
template <class T>
bool all_finite(const T* values, std::size_t n);

}  // namespace tg::kernels
