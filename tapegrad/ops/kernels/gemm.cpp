#include "tapegrad/ops/kernels/gemm.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "tapegrad/ops/kernels/parallel.hpp"

// A BLIS-style GEMM: op(A) and op(B) are copied ("packed") block by block into buffers laid
// out exactly as a register-blocked micro-kernel reads them, so the micro-kernel streams
// through contiguous memory whatever the transposes and strides were. The micro-kernel keeps
// an MR x NR tile of C in vector registers for a whole depth block.
//
// Loop nest (BLIS's names): jc over NC columns of C, pc over KC of depth (B block packed:
// KC x NC, fits the L2/L3), ic over MC rows (A block packed: MC x KC, fits the L2), then
// jr/ir over NR/MR tiles calling the micro-kernel (a KC x NR sliver of B stays in L1).
// Each element of C is summed in the same order (pc blocks in turn, k in order inside) however
// the rows are divided between threads, so gemm_parallel gives the bits of gemm.

namespace tg::kernels {
namespace {

template <class T>
using Vec = xsimd::batch<T>;

template <class T>
struct Blocking {
  static constexpr std::size_t lanes = Vec<T>::size;
  static constexpr std::size_t mr = 6;          // rows of a register tile
  static constexpr std::size_t nr = 2 * lanes;  // columns: two vectors (12 accumulators)
  static constexpr std::size_t kc = 256;        // depth of a packed block
  static constexpr std::size_t mc = 16 * mr;    // rows of a packed A block
  static constexpr std::size_t nc = 256 * nr;   // columns of a packed B block
};

// Element (row, col) of op(X), X stored row-major with leading dimension ld.
template <class T>
T at(const T* x, std::size_t ld, Trans trans, std::size_t row, std::size_t col) {
  return trans == Trans::yes ? x[col * ld + row] : x[row * ld + col];
}

// Packs rows [0, m) x depth [0, k) of op(A) (already offset to the block) into MR-row
// slivers: sliver s holds, for each p, the MR values op(A)[s*MR + r, p]; rows past m are 0.
template <class T>
void pack_a(Trans trans, std::size_t m, std::size_t k, const T* a, std::size_t lda, T* out) {
  constexpr std::size_t mr = Blocking<T>::mr;
  for (std::size_t s = 0; s < m; s += mr) {
    const std::size_t rows = std::min(mr, m - s);
    for (std::size_t p = 0; p < k; ++p) {
      for (std::size_t r = 0; r < rows; ++r) out[r] = at(a, lda, trans, s + r, p);
      for (std::size_t r = rows; r < mr; ++r) out[r] = T(0);
      out += mr;
    }
  }
}

// Packs depth [0, k) x columns [0, n) of op(B) into NR-column slivers: sliver s holds, for
// each p, the NR values op(B)[p, s*NR + c]; columns past n are 0.
template <class T>
void pack_b(Trans trans, std::size_t k, std::size_t n, const T* b, std::size_t ldb, T* out) {
  constexpr std::size_t nr = Blocking<T>::nr;
  for (std::size_t s = 0; s < n; s += nr) {
    const std::size_t cols = std::min(nr, n - s);
    for (std::size_t p = 0; p < k; ++p) {
      if (trans == Trans::no && cols == nr) {
        std::copy_n(b + p * ldb + s, nr, out);
      } else {
        for (std::size_t c = 0; c < cols; ++c) out[c] = at(b, ldb, trans, p, s + c);
        for (std::size_t c = cols; c < nr; ++c) out[c] = T(0);
      }
      out += nr;
    }
  }
}

// C[0:rows, 0:cols] += alpha * (packed A sliver) x (packed B sliver), over depth k.
template <class T>
void micro_kernel(std::size_t k, T alpha, const T* __restrict a, const T* __restrict b,
                  T* __restrict c, std::size_t ldc, std::size_t rows, std::size_t cols) {
  constexpr std::size_t mr = Blocking<T>::mr;
  constexpr std::size_t lanes = Blocking<T>::lanes;
  Vec<T> acc[mr][2];
  for (auto& row : acc) row[0] = row[1] = Vec<T>(T(0));
  for (std::size_t p = 0; p < k; ++p) {
    const Vec<T> b0 = Vec<T>::load_aligned(b);
    const Vec<T> b1 = Vec<T>::load_aligned(b + lanes);
    for (std::size_t r = 0; r < mr; ++r) {
      const Vec<T> ar(a[r]);
      acc[r][0] = xsimd::fma(ar, b0, acc[r][0]);
      acc[r][1] = xsimd::fma(ar, b1, acc[r][1]);
    }
    a += mr;
    b += 2 * lanes;
  }
  const Vec<T> scale(alpha);
  if (rows == mr && cols == 2 * lanes) {
    for (std::size_t r = 0; r < mr; ++r) {
      T* row = c + r * ldc;
      xsimd::fma(acc[r][0], scale, Vec<T>::load_unaligned(row)).store_unaligned(row);
      xsimd::fma(acc[r][1], scale, Vec<T>::load_unaligned(row + lanes))
          .store_unaligned(row + lanes);
    }
    return;
  }
  // An edge tile: through a buffer, so only the elements of C that exist are touched, with
  // the same fused multiply-add as a full tile.
  alignas(64) T tile[mr][2 * lanes];
  for (std::size_t r = 0; r < mr; ++r) {
    acc[r][0].store_aligned(tile[r]);
    acc[r][1].store_aligned(tile[r] + lanes);
  }
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < cols; ++j)
      c[r * ldc + j] = std::fma(tile[r][j], alpha, c[r * ldc + j]);
  }
}

// Packing buffers of the calling thread, aligned for the micro-kernel's vector loads. gemm
// never waits on other tasks, so one pair per thread is never shared.
template <class T>
T* packing_buffer(std::size_t which, std::size_t size) {
  struct Buffer {
    std::unique_ptr<T[], decltype(&xsimd::aligned_free)> data{nullptr, &xsimd::aligned_free};
    std::size_t size = 0;
  };
  thread_local Buffer buffers[2];
  Buffer& buffer = buffers[which];
  if (buffer.size < size) {
    buffer.data.reset(static_cast<T*>(xsimd::aligned_malloc(size * sizeof(T), 64)));
    buffer.size = size;
  }
  return buffer.data.get();
}

template <class T>
void scale_c(std::size_t m, std::size_t n, T beta, T* c, std::size_t ldc) {
  if (beta == T(1)) return;
  for (std::size_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) {
      std::fill(row, row + n, T(0));  // not 0 * C: C may hold NaN
    } else {
      for (std::size_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

}  // namespace

template <class T>
void gemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  using B = Blocking<T>;
  scale_c(m, n, beta, c, ldc);
  if (m == 0 || n == 0 || k == 0 || alpha == T(0)) return;

  auto round_up = [](std::size_t x, std::size_t to) { return (x + to - 1) / to * to; };
  T* packed_b = packing_buffer<T>(0, B::kc * round_up(std::min(n, B::nc), B::nr));
  T* packed_a = packing_buffer<T>(1, B::kc * round_up(std::min(m, B::mc), B::mr));
  // Offsets of block (row, depth) in op(A) and (depth, col) in op(B), whatever the transposes.
  auto a_block = [&](std::size_t i, std::size_t p) {
    return trans_a == Trans::yes ? a + p * lda + i : a + i * lda + p;
  };
  auto b_block = [&](std::size_t p, std::size_t j) {
    return trans_b == Trans::yes ? b + j * ldb + p : b + p * ldb + j;
  };

  for (std::size_t jc = 0; jc < n; jc += B::nc) {
    const std::size_t nb = std::min(B::nc, n - jc);
    for (std::size_t pc = 0; pc < k; pc += B::kc) {
      const std::size_t kb = std::min(B::kc, k - pc);
      pack_b(trans_b, kb, nb, b_block(pc, jc), ldb, packed_b);
      for (std::size_t ic = 0; ic < m; ic += B::mc) {
        const std::size_t mb = std::min(B::mc, m - ic);
        pack_a(trans_a, mb, kb, a_block(ic, pc), lda, packed_a);
        for (std::size_t jr = 0; jr < nb; jr += B::nr) {
          for (std::size_t ir = 0; ir < mb; ir += B::mr) {
            micro_kernel(kb, alpha, packed_a + ir * kb, packed_b + jr * kb,
                         c + (ic + ir) * ldc + jc + jr, ldc, std::min(B::mr, mb - ir),
                         std::min(B::nr, nb - jr));
          }
        }
      }
    }
  }
}

template <class T>
void gemm_parallel(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                   T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
                   std::size_t ldc) {
  // About 1 MFLOP per task, in whole register tiles of rows.
  constexpr std::size_t mr = Blocking<T>::mr;
  const std::size_t flops_per_row = std::max<std::size_t>(1, n * k);
  const std::size_t rows_per_task =
      std::max<std::size_t>(1, (std::size_t{1} << 20) / flops_per_row / mr) * mr;
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
