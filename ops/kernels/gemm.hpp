#pragma once
// General matrix product on row-major raw arrays, BLAS-style:
//   C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C
// op(X) is X or X^T. lda/ldb/ldc are row strides of A, B, C as stored. With beta == 0, C is
// written without being read (it may hold garbage or NaN).
//
// gemm runs on the calling thread (callers parallelise over batch or rows); gemm_parallel
// splits the rows of C across the parallel seam, which keeps results identical for any
// thread count since each element is computed by one thread in a fixed order.

#include <cstddef>

namespace tg::kernels {

enum class Trans : bool { no = false, yes = true };

template <class T>
void gemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

// Columns of C in the micro-kernel's register tile (48 floats with AVX-512, 16 with AVX2): a
// product whose C has fewer, or not a multiple, leaves lanes idle, so a caller that can compute
// C^T = op(B)^T op(A)^T instead may choose the way round that fills them better.
template <class T>
std::size_t gemm_tile_columns();

template <class T>
void gemm_parallel(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                   T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
                   std::size_t ldc);

}  // namespace tg::kernels
