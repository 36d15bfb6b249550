#include "gemm.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "parallel.hpp"
#include "scratch.hpp"
#include "sizes.hpp"

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
  // The register tile: MR rows of NV vectors, MR * NV accumulators beside NV vectors of B and
  // one broadcast of A. AVX-512's 32 registers hold 8 x 3 (24 accumulators; on this Zen 5 it
  // beat 6 x 2, 6 x 4, 12 x 2 and 14 x 2 by 10-15% on the GEMM and mnist_cnn's convolution);
  // AVX2's 16 hold 6 x 2.
#if defined(__AVX512F__)
  static constexpr std::size_t mr = 8;
  static constexpr std::size_t nv = 3;
#else
  static constexpr std::size_t mr = 6;
  static constexpr std::size_t nv = 2;
#endif
  static constexpr std::size_t nr = nv * lanes;  // columns of a register tile
  static constexpr std::size_t kc = 256;         // depth of a packed block
  static constexpr std::size_t mc = 16 * mr;     // rows of a packed A block
  static constexpr std::size_t nc = 256 * nr;    // columns of a packed B block
};

// Packs `count` lines (a multiple of 8, at most W) of a matrix, each contiguous along the depth,
// into a W-wide sliver (out[p * W + i] = line i at depth p) eight depth steps at a time with an 8x8
// transpose in AVX registers; returns how much of the depth it packed (the caller does the rest).
// Scalar code managed one element per load and store, a quarter of LeNet-5's GEMM time (the
// transposed operand of the weight gradient and of linear's forward). Float with AVX only;
// elsewhere it packs nothing.
template <std::size_t W, class T>
std::size_t transpose_lines(const T* lines, std::size_t line_stride, std::size_t depth,
                            std::size_t count, T* out) {
#if defined(__AVX__)
  if constexpr (std::is_same_v<T, float> && W % 8 == 0) {
    std::size_t p = 0;
    for (; p + 8 <= depth; p += 8) {
      for (std::size_t block = 0; block + 8 <= count; block += 8) {
        const float* l = lines + block * line_stride + p;
        __m256 r[8];
        for (std::size_t i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(l + i * line_stride);
        __m256 t[8];
        for (std::size_t i = 0; i < 8; i += 2) {
          t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
          t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        __m256 u[8];
        for (std::size_t i = 0; i < 8; i += 4) {
          u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
          u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
          u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
          u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
        }
        float* o = out + p * W + block;
        for (std::size_t q = 0; q < 4; ++q) {
          _mm256_storeu_ps(o + q * W, _mm256_permute2f128_ps(u[q], u[q + 4], 0x20));
          _mm256_storeu_ps(o + (q + 4) * W, _mm256_permute2f128_ps(u[q], u[q + 4], 0x31));
        }
      }
    }
    return p;
  }
#endif
  (void)lines, (void)line_stride, (void)depth, (void)count, (void)out;
  return 0;
}

// Packs a matrix into W-wide slivers, the layout the micro-kernel streams: sliver s holds,
// for each p in [0, depth), the W values x[(s*W + i) * stride_w + p * stride_p], i < W; values
// past `width` are 0. The source is read along its contiguous direction: a sliver whose W values
// are adjacent (stride_w == 1) is copied row by row of depth; otherwise each of its W lines is
// read along the depth and written strided into the sliver, which sits in L1 (gathering W
// values from W lines per depth step was a third of LeNet-5's GEMM time).
template <std::size_t W, class T>
void pack_slivers(const T* x, std::size_t width, std::size_t depth, std::size_t stride_w,
                  std::size_t stride_p, T* out) {
  for (std::size_t s = 0; s < width; s += W, out += W * depth) {
    const std::size_t count = std::min(W, width - s);
    const T* sliver = x + s * stride_w;
    if (stride_w == 1) {
      for (std::size_t p = 0; p < depth; ++p) {
        const T* from = sliver + p * stride_p;
        T* to = out + p * W;
        if (count == W) {
          // A fixed-length loop the compiler turns into a few vector moves (std::copy_n here
          // became a call to memmove for every sliver row).
          for (std::size_t i = 0; i < W; ++i) to[i] = from[i];
        } else {
          for (std::size_t i = 0; i < count; ++i) to[i] = from[i];
          for (std::size_t i = count; i < W; ++i) to[i] = T(0);
        }
      }
      continue;
    }
    // The lines in whole groups of eight go through the 8x8 transposes, even in a partial
    // sliver (a weight gradient's last: LeNet-5's first layer has 25 lines for 48 lanes); the
    // rest, and the depth the transposes leave, element by element.
    const std::size_t grouped = stride_p == 1 ? count / 8 * 8 : 0;
    const std::size_t done = transpose_lines<W>(sliver, stride_w, depth, grouped, out);
    for (std::size_t i = 0; i < count; ++i) {
      const T* line = sliver + i * stride_w;
      for (std::size_t p = i < grouped ? done : 0; p < depth; ++p) {
        out[p * W + i] = line[p * stride_p];
      }
    }
    if (count < W) {
      for (std::size_t p = 0; p < depth; ++p) {
        // Fixed length, so it compiles to masked vector stores rather than a memset call.
        T* to = out + p * W;
        for (std::size_t i = 0; i < W; ++i) {
          if (i >= count) to[i] = T(0);
        }
      }
    }
  }
}

// Rows [0, m) x depth [0, k) of op(A) (already offset to the block), in MR-row slivers.
template <class T>
void pack_a(Trans trans, std::size_t m, std::size_t k, const T* a, std::size_t lda, T* out) {
  // op(A)[i, p] is a[i * lda + p], or a[p * lda + i] when transposed.
  const bool t = trans == Trans::yes;
  pack_slivers<Blocking<T>::mr>(a, m, k, t ? 1 : lda, t ? lda : 1, out);
}

// Depth [0, k) x columns [0, n) of op(B), in NR-column slivers.
template <class T>
void pack_b(Trans trans, std::size_t k, std::size_t n, const T* b, std::size_t ldb, T* out) {
  // op(B)[p, j] is b[p * ldb + j], or b[j * ldb + p] when transposed.
  const bool t = trans == Trans::yes;
  pack_slivers<Blocking<T>::nr>(b, n, k, t ? ldb : 1, t ? 1 : ldb, out);
}

// C[0:R, 0:cols] += alpha * (the first R rows of a packed A sliver) x (the first V vectors of
// a packed B sliver), over depth k; with `overwrite`, C = that product + 0 instead, C not read
// (the first depth block of a product with beta = 0: C may hold NaN, and zeroing it first was
// another pass over C). Adding the zero keeps the bits of zeroing first: a -0 product becomes +0
// either way. R and V are template parameters so that an edge tile costs its own rows and
// vectors only: LeNet-5's 6 and 16 output channels are edges of an 8-row tile, and a 256-column
// C ends in a tile of one vector, which three vectors made 11% of a 256-square product.
template <std::size_t R, std::size_t V, class T>
void micro_kernel(std::size_t k, T alpha, const T* __restrict a, const T* __restrict b,
                  T* __restrict c, std::size_t ldc, std::size_t cols, bool overwrite) {
  constexpr std::size_t mr = Blocking<T>::mr;
  constexpr std::size_t nv = Blocking<T>::nv;
  constexpr std::size_t lanes = Blocking<T>::lanes;
  Vec<T> acc[R][V];
  for (auto& row : acc) {
    for (auto& v : row) v = Vec<T>(T(0));
  }
  for (std::size_t p = 0; p < k; ++p) {
    Vec<T> bv[V];
    for (std::size_t v = 0; v < V; ++v) bv[v] = Vec<T>::load_aligned(b + v * lanes);
    for (std::size_t r = 0; r < R; ++r) {
      const Vec<T> ar(a[r]);
      for (std::size_t v = 0; v < V; ++v) acc[r][v] = xsimd::fma(ar, bv[v], acc[r][v]);
    }
    a += mr;
    b += nv * lanes;
  }
  const Vec<T> scale(alpha);
  if (cols == V * lanes) {
    for (std::size_t r = 0; r < R; ++r) {
      for (std::size_t v = 0; v < V; ++v) {
        T* at = c + r * ldc + v * lanes;
        const Vec<T> old = overwrite ? Vec<T>(T(0)) : Vec<T>::load_unaligned(at);
        xsimd::fma(acc[r][v], scale, old).store_unaligned(at);
      }
    }
    return;
  }
  // An edge tile: through a buffer, so only the elements of C that exist are touched, with
  // the same fused multiply-add as a full tile.
  alignas(64) T tile[R][V * lanes];
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t v = 0; v < V; ++v) acc[r][v].store_aligned(tile[r] + v * lanes);
  }
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t j = 0; j < cols; ++j) {
      c[r * ldc + j] = std::fma(tile[r][j], alpha, overwrite ? T(0) : c[r * ldc + j]);
    }
  }
}

// micro_kernel<r, v> for r = 1 .. MR and v = 1 .. NV, at (v - 1) * MR + r - 1.
template <class T, std::size_t... I>
constexpr auto micro_kernels(std::index_sequence<I...> /*(v - 1) * MR + r - 1*/) {
  constexpr std::size_t mr = Blocking<T>::mr;
  return std::array{&micro_kernel<I % mr + 1, I / mr + 1, T>...};
}

template <class T>
void run_micro_kernel(std::size_t rows, std::size_t k, T alpha, const T* a, const T* b, T* c,
                      std::size_t ldc, std::size_t cols, bool overwrite) {
  using B = Blocking<T>;
  static constexpr auto tiles = micro_kernels<T>(std::make_index_sequence<B::mr * B::nv>{});
  const std::size_t vectors = (cols + B::lanes - 1) / B::lanes;
  tiles[(vectors - 1) * B::mr + rows - 1](k, alpha, a, b, c, ldc, cols, overwrite);
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
  if (m == 0 || n == 0 || k == 0 || alpha == T(0)) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  // With beta = 0 the first depth block overwrites C (see micro_kernel).
  const bool overwrite_c = beta == T(0);
  if (!overwrite_c) scale_c(m, n, beta, c, ldc);

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
            run_micro_kernel(std::min(B::mr, mb - ir), kb, alpha, packed_a + ir * kb,
                             packed_b + jr * kb, c + (ic + ir) * ldc + jc + jr, ldc,
                             std::min(B::nr, nb - jr), overwrite_c && pc == 0);
          }
        }
      }
    }
  }
}

namespace {

// Depth of the chunks a deep product with a small C is cut into: whole KC blocks. Two of them:
// linear's forward in mnist_cnn (64 x 128 x 9216) made 9 chunks of four blocks, so that at two
// threads one ran five while the other waited out the last (the op scaled 1.78-1.91x from one
// thread to two); 18 chunks of 4.2 MFLOP leave it at most half as long a wait.
template <class T>
constexpr std::size_t depth_chunk = 2 * Blocking<T>::kc;

// C = alpha op(A) op(B) + beta C as the sum of the products of depth_chunk-deep slices of the
// depth, each computed by one task into its own buffer, then added to C in slice order. The
// slices depend on k alone, so the bits do not depend on the thread count; they differ from
// gemm's (which sums each element along the whole depth in one run).
template <class T>
void gemm_depth_chunks(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                       T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta,
                       T* c, std::size_t ldc) {
  const std::size_t chunk = depth_chunk<T>;
  const std::size_t chunks = (k + chunk - 1) / chunk;
  Scratch<T> partial(chunks * m * n);
  parallel_for(chunks, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const std::size_t from = i * chunk;
      const T* a_slice = trans_a == Trans::yes ? a + from * lda : a + from;
      const T* b_slice = trans_b == Trans::yes ? b + from : b + from * ldb;
      gemm(trans_a, trans_b, m, n, std::min(chunk, k - from), alpha, a_slice, lda, b_slice, ldb,
           T(0), partial.data() + i * m * n, n);
    }
  });
  // Each row of C sums its slices in slice order, rows across the seam.
  const std::size_t grain = std::max<std::size_t>(1, elementwise_grain / (chunks * n));
  parallel_for(m, grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      T* row = c + r * ldc;
      for (std::size_t i = 0; i < chunks; ++i) {
        const T* add = partial.data() + (i * m + r) * n;
        if (i > 0) {
          for (std::size_t j = 0; j < n; ++j) row[j] += add[j];
        } else if (beta == T(0)) {
          std::copy_n(add, n, row);  // C is not read: it may hold NaN
        } else {
          for (std::size_t j = 0; j < n; ++j) row[j] = beta * row[j] + add[j];
        }
      }
    }
  });
}

}  // namespace

template <class T>
void gemm_parallel(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                   T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
                   std::size_t ldc) {
  // Every task packs the whole of the operand it does not split, so C is cut along its longer
  // side, into blocks of at least 1 MFLOP and at least 96 rows or columns: linear's products
  // (64 x 128 x 9216 in mnist_cnn) were cut into eight 8-row tasks, each transposing the whole
  // 4.7 MB weight again, six times its own arithmetic. Each element of C is still summed by one
  // task in the order gemm sums it, so the bits do not depend on the cut.
  static constexpr std::size_t min_side = 96;
  auto block = [](std::size_t flops_per_line, std::size_t multiple) {
    const std::size_t lines =
        std::max(min_side, flops_per_task / std::max<std::size_t>(1, flops_per_line));
    return (lines + multiple - 1) / multiple * multiple;
  };
  // A C too small to cut into two blocks of that size (linear's forward in mnist_cnn, 64 x 128
  // x 9216, ran one 96-column and one 32-column task) is cut along a deep enough depth instead.
  if (std::max(m, n) < 2 * min_side && k >= 2 * depth_chunk<T>) {
    gemm_depth_chunks(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (m >= n) {
    parallel_for(m, block(2 * n * k, Blocking<T>::mr), [&](std::size_t begin, std::size_t end) {
      const T* a_rows = trans_a == Trans::yes ? a + begin : a + begin * lda;
      gemm(trans_a, trans_b, end - begin, n, k, alpha, a_rows, lda, b, ldb, beta, c + begin * ldc,
           ldc);
    });
  } else {
    parallel_for(n, block(2 * m * k, Blocking<T>::nr), [&](std::size_t begin, std::size_t end) {
      const T* b_cols = trans_b == Trans::yes ? b + begin * ldb : b + begin;
      gemm(trans_a, trans_b, m, end - begin, k, alpha, a, lda, b_cols, ldb, beta, c + begin, ldc);
    });
  }
}

template <class T>
std::size_t gemm_tile_columns() {
  return Blocking<T>::nr;
}

template std::size_t gemm_tile_columns<float>();
template std::size_t gemm_tile_columns<double>();
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
