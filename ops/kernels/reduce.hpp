#pragma once
// Reductions over raw arrays. sum_dims: the sum over a set of dimensions of a row-major array,
// in one pass over the input.
// Each output element adds its inputs in a fixed order (contiguous runs in vector lanes, the
// runs in row-major order), so the result depends on the data and the shape only, never on the
// thread count.

#include <cstddef>
#include <span>

#include <xsimd/xsimd.hpp>

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

// How sum_runs sums a run of n values: its whole vectors, in groups of four, into four vector
// accumulators (vector i into acc[i mod 4]; those after the last whole group into acc[0]); then
// this fold across the accumulators and the lanes (by halves, xsimd::hadd: a tree); then the last
// n mod lanes values, one after another. A kernel that sums runs as it reads them for something
// else follows these steps to get sum_runs's bits.
// GCC 12 takes the undefined upper half of an AVX-512 extraction inside hadd for an
// uninitialised read; it is never used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <class T>
T fold_run_accumulators(const xsimd::batch<T> (&acc)[4]) {
  return xsimd::hadd((acc[0] + acc[1]) + (acc[2] + acc[3]));
}
#pragma GCC diagnostic pop

// Whether none of values[0, n) is infinite or NaN (in vectors, on the calling thread).
template <class T>
bool all_finite(const T* values, std::size_t n);

}  // namespace tg::kernels
