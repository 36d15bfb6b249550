#include "tapegrad/ops/kernels/gemm.hpp"

#include <algorithm>
#include <vector>

#include "tapegrad/ops/kernels/parallel.hpp"

namespace tg::kernels {
namespace {

// Rows of C per cache block and depth per block: a block of op(B) (kBlock x n) stays in
// cache while a block of C rows is updated from it.
constexpr std::size_t row_block = 64;
constexpr std::size_t depth_block = 256;

// Copies op(X) ([rows, cols] as used) into a dense row-major buffer.
template <class T>
void pack(Trans trans, std::size_t rows, std::size_t cols, const T* x, std::size_t ldx,
          std::vector<T>& out) {
  out.resize(rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      out[r * cols + c] = trans == Trans::yes ? x[c * ldx + r] : x[r * ldx + c];
    }
  }
}

}  // namespace

template <class T>
void gemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) {
      std::fill(row, row + n, T(0));
    } else if (beta != T(1)) {
      for (std::size_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
  if (m == 0 || n == 0 || k == 0 || alpha == T(0)) return;

  // Transposed operands are packed so that the inner loop always runs along contiguous rows
  // of B and C (which the compiler vectorises).
  thread_local std::vector<T> packed_a;
  thread_local std::vector<T> packed_b;
  if (trans_a == Trans::yes) {
    pack(trans_a, m, k, a, lda, packed_a);
    a = packed_a.data();
    lda = k;
  }
  if (trans_b == Trans::yes) {
    pack(trans_b, k, n, b, ldb, packed_b);
    b = packed_b.data();
    ldb = n;
  }

  for (std::size_t i0 = 0; i0 < m; i0 += row_block) {
    const std::size_t i1 = std::min(m, i0 + row_block);
    for (std::size_t p0 = 0; p0 < k; p0 += depth_block) {
      const std::size_t p1 = std::min(k, p0 + depth_block);
      for (std::size_t i = i0; i < i1; ++i) {
        T* __restrict row = c + i * ldc;
        for (std::size_t p = p0; p < p1; ++p) {
          const T scale = alpha * a[i * lda + p];
          const T* __restrict b_row = b + p * ldb;
          for (std::size_t j = 0; j < n; ++j) row[j] += scale * b_row[j];
        }
      }
    }
  }
}

template <class T>
void gemm_parallel(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                   T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
                   std::size_t ldc) {
  // About 1 MFLOP per task: enough to amortise scheduling.
  const std::size_t rows_per_task =
      std::max<std::size_t>(1, (1u << 20) / std::max<std::size_t>(1, n * k));
  parallel_for(m, rows_per_task, [&](std::size_t begin, std::size_t end) {
    const T* a_rows = trans_a == Trans::yes ? a + begin : a + begin * lda;
    gemm(trans_a, trans_b, end - begin, n, k, alpha, a_rows, lda, b, ldb, beta, c + begin * ldc,
         ldc);
  });
}

template void gemm<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float, const float*,
                          std::size_t, const float*, std::size_t, float, float*, std::size_t);
template void gemm<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double,
                           const double*, std::size_t, const double*, std::size_t, double, double*,
                           std::size_t);
template void gemm_parallel<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float,
                                   const float*, std::size_t, const float*, std::size_t, float,
                                   float*, std::size_t);
template void gemm_parallel<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double,
                                    const double*, std::size_t, const double*, std::size_t, double,
                                    double*, std::size_t);

}  // namespace tg::kernels
