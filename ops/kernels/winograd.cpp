#include "winograd.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "copy_row.hpp"
#include "parallel.hpp"
#include "reduce.hpp"
#include "scratch.hpp"
#include "sizes.hpp"

namespace tg::kernels {
namespace {

template <class T>
using Vec = xsimd::batch<T>;

constexpr std::size_t positions = 16;  // of a transformed 4x4 tile
constexpr std::size_t min_channels = 16;

// G x for a column x of three kernel values, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
// (Written out, not as a constant matrix: see cmake/tapegrad_options.cmake on GCC 12.2 and
// constant aggregates in AVX-512 code.)
std::array<double, 4> times_g(double x0, double x1, double x2) {
  return {x0, (x0 + x1 + x2) / 2, (x0 - x1 + x2) / 2, x2};
}

// U = G w G^T for one 3x3 kernel w (row-major), in double.
std::array<double, positions> transform_kernel(const double* w) {
  std::array<std::array<double, 4>, 3> gw{};  // gw[k] = G times column k of w
  for (std::size_t k = 0; k < 3; ++k) gw[k] = times_g(w[k], w[3 + k], w[6 + k]);
  std::array<double, positions> u{};
  for (std::size_t i = 0; i < 4; ++i) {
    const std::array<double, 4> row = times_g(gw[0][i], gw[1][i], gw[2][i]);
    std::copy(row.begin(), row.end(), u.begin() + static_cast<std::ptrdiff_t>(i * 4));
  }
  return u;
}

// d <- B^T d B for a 4x4 tile of vectors (row-major), B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
// 0 1 0 -1]: the rows, then the columns.
template <class T>
void transform_input(Vec<T> (&d)[positions]) {
  for (std::size_t j = 0; j < 4; ++j) {
    const Vec<T> d0 = d[j], d1 = d[4 + j], d2 = d[8 + j], d3 = d[12 + j];
    d[j] = d0 - d2;
    d[4 + j] = d1 + d2;
    d[8 + j] = d2 - d1;
    d[12 + j] = d1 - d3;
  }
  for (std::size_t i = 0; i < 4; ++i) {
    Vec<T>* row = d + i * 4;
    const Vec<T> t0 = row[0], t1 = row[1], t2 = row[2], t3 = row[3];
    row[0] = t0 - t2;
    row[1] = t1 + t2;
    row[2] = t2 - t1;
    row[3] = t1 - t3;
  }
}

// The 2x2 output tile A^T m A of a 4x4 tile of vectors, A^T = [1 1 1 0; 0 1 -1 -1]:
// y[i * 2 + k] is output pixel (i, k).
template <class T>
void transform_output(const Vec<T> (&m)[positions], Vec<T> (&y)[4]) {
  Vec<T> s[2][4];
  for (std::size_t j = 0; j < 4; ++j) {
    s[0][j] = m[j] + m[4 + j] + m[8 + j];
    s[1][j] = m[4 + j] - m[8 + j] - m[12 + j];
  }
  for (std::size_t i = 0; i < 2; ++i) {
    y[i * 2] = s[i][0] + s[i][1] + s[i][2];
    y[i * 2 + 1] = s[i][1] - s[i][2] - s[i][3];
  }
}

#if defined(__AVX512F__)
// One AVX-512 register of T and the intrinsics the polyphase split and merge use.
template <class T>
struct Wide;  // (each specialisation holds lanes values in 64 bytes: see permutation)
template <>
struct Wide<float> {
  using V = __m512;
  using Mask = __mmask16;
  using Index = std::int32_t;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const float* p, std::size_t n) {
    return _mm512_maskz_loadu_ps(static_cast<Mask>((1U << n) - 1), p);
  }
  static V permute(V a, __m512i index, V b) { return _mm512_permutex2var_ps(a, index, b); }
  static void store(float* p, std::size_t n, V v) {
    _mm512_mask_storeu_ps(p, static_cast<Mask>((1U << n) - 1), v);
  }
  static __m512i indices(const Index* i) { return _mm512_loadu_si512(i); }
};
template <>
struct Wide<double> {
  using V = __m512d;
  using Mask = __mmask8;
  using Index = std::int64_t;
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static V load(const double* p, std::size_t n) {
    return _mm512_maskz_loadu_pd(static_cast<Mask>((1U << n) - 1), p);
  }
  static V permute(V a, __m512i index, V b) { return _mm512_permutex2var_pd(a, index, b); }
  static void store(double* p, std::size_t n, V v) {
    _mm512_mask_storeu_pd(p, static_cast<Mask>((1U << n) - 1), v);
  }
  static __m512i indices(const Index* i) { return _mm512_loadu_si512(i); }
};

// The permutation whose lane i takes lane index(i) of the concatenation of two registers.
template <class T, class F>
__m512i permutation(F index) {
  constexpr std::size_t lanes = Vec<T>::size;
  static_assert(lanes * sizeof(T) == 64, "an AVX-512 register of T");
  typename Wide<T>::Index i[lanes];
  for (std::size_t l = 0; l < lanes; ++l) i[l] = static_cast<typename Wide<T>::Index>(index(l));
  return Wide<T>::indices(i);
}
#endif

// Splits rows into their even and odd values, and merges them back, in whole vectors. Built
// once per image: the permutations are constants of the loop.
template <class T>
class EvenOdd {
 public:
#if defined(__AVX512F__)
  EvenOdd()
      : evens_(permutation<T>([](std::size_t l) { return 2 * l; })),
        odds_(permutation<T>([](std::size_t l) { return 2 * l + 1; })),
        low_(permutation<T>([](std::size_t l) { return l / 2 + (l % 2) * lanes; })),
        high_(permutation<T>([](std::size_t l) { return lanes / 2 + l / 2 + (l % 2) * lanes; })) {}
#endif

  // even[j] = from[2j] and odd[j] = from[2j + 1], for the n values of `from`.
  void split(const T* from, std::size_t n, T* even, T* odd) const {
#if defined(__AVX512F__)
    for (std::size_t i = 0; i < n; i += 2 * lanes, even += lanes, odd += lanes) {
      const std::size_t left = n - i;  // values from `from + i` on
      const auto a = W::load(from + i, std::min(lanes, left));
      const auto b = left > lanes ? W::load(from + i + lanes, std::min(lanes, left - lanes)) : a;
      W::store(even, std::min(lanes, (left + 1) / 2), W::permute(a, evens_, b));
      if (left > 1) W::store(odd, std::min(lanes, left / 2), W::permute(a, odds_, b));
    }
#else
    for (std::size_t i = 0; i < n; ++i) (i % 2 == 0 ? even : odd)[i / 2] = from[i];
#endif
  }

  // to[2j] = even[j] and to[2j + 1] = odd[j], for n values of `to`; even and odd hold n / 2
  // values rounded up to a whole vector.
  void merge(const T* even, const T* odd, std::size_t n, T* to) const {
#if defined(__AVX512F__)
    for (std::size_t i = 0; i < n; i += 2 * lanes, even += lanes, odd += lanes) {
      const auto a = W::load(even);
      const auto b = W::load(odd);
      const std::size_t left = n - i;
      W::store(to + i, std::min(lanes, left), W::permute(a, low_, b));
      if (left > lanes) {
        W::store(to + i + lanes, std::min(lanes, left - lanes), W::permute(a, high_, b));
      }
    }
#else
    for (std::size_t i = 0; i < n; ++i) to[i] = (i % 2 == 0 ? even : odd)[i / 2];
#endif
  }

  // to[p * to_stride + r] = from[r * from_stride + p] for r < rows and p < cols. Blocks of
  // lanes x lanes go through registers (with AVX-512; elsewhere element by element):
  // log2(lanes) rounds of merging row i with row
  // i + lanes / 2, each of which moves one bit of the row index into the lane index.
  void transpose(const T* from, std::size_t rows, std::size_t cols, std::size_t from_stride, T* to,
                 std::size_t to_stride) const {
    for (std::size_t r = 0; r < rows; r += lanes) {
      for (std::size_t p = 0; p < cols; p += lanes) {
#if defined(__AVX512F__)
        if (r + lanes <= rows && p + lanes <= cols) {
          typename W::V x[lanes];
          for (std::size_t i = 0; i < lanes; ++i) x[i] = W::load(from + (r + i) * from_stride + p);
          for (std::size_t round = 1; round < lanes; round *= 2) {
            typename W::V merged[lanes];
            for (std::size_t i = 0; i < lanes / 2; ++i) {
              merged[2 * i] = W::permute(x[i], low_, x[i + lanes / 2]);
              merged[2 * i + 1] = W::permute(x[i], high_, x[i + lanes / 2]);
            }
            std::copy(merged, merged + lanes, x);
          }
          for (std::size_t i = 0; i < lanes; ++i)
            W::store(to + (p + i) * to_stride + r, lanes, x[i]);
          continue;
        }
#endif
        for (std::size_t i = r; i < std::min(rows, r + lanes); ++i) {
          for (std::size_t j = p; j < std::min(cols, p + lanes); ++j) {
            to[j * to_stride + i] = from[i * from_stride + j];
          }
        }
      }
    }
  }

 private:
  static constexpr std::size_t lanes = Vec<T>::size;
#if defined(__AVX512F__)
  using W = Wide<T>;
  __m512i evens_, odds_;  // a's and b's lanes 0, 2, 4, ... and 1, 3, 5, ...
  __m512i low_, high_;    // a0 b0 a1 b1 ..., and the same from the middle lanes on
#endif
};

// V[xi] for `count` tiles from q = 0 on, of one channel: the 4x4 patch values (r, j) are the
// component (r % 2, j % 2) at q + (r / 2) * grid_row + j / 2. Writes v[xi * v_stride + q].
template <class T>
void transform_input_block(const T* __restrict component, std::size_t component_size,
                           std::size_t grid_row, std::size_t count, T* __restrict v,
                           std::size_t v_stride) {
  constexpr std::size_t lanes = Vec<T>::size;
  // Eight runs: the four components, each from its row 0 and its row 1 (r / 2); the column
  // offset j / 2 is a constant displacement. (Sixteen pointers would not fit in registers.)
  const T* runs[8];
  for (std::size_t phase = 0; phase < 4; ++phase) {
    runs[phase * 2] = component + phase * component_size;
    runs[phase * 2 + 1] = runs[phase * 2] + grid_row;
  }
  for (std::size_t q = 0; q < count; q += lanes) {
    Vec<T> d[positions];
    for (std::size_t r = 0; r < 4; ++r) {
      for (std::size_t j = 0; j < 4; ++j) {
        d[r * 4 + j] = Vec<T>::load_unaligned(runs[(r % 2 * 2 + j % 2) * 2 + r / 2] + j / 2 + q);
      }
    }
    transform_input(d);
    T* to = v + q;
    for (std::size_t xi = 0; xi < positions; ++xi, to += v_stride) d[xi].store_aligned(to);
  }
}

// Whether every lane of a probe that output_pixels added to is finite (zero).
template <class T>
bool probe_finite(Vec<T> probe) {
  return !xsimd::any(xsimd::isnan(probe));
}

// activation(the output tile pixels (i, k) + bias) of the `lanes` tiles from q on, from M [16]
// at m[xi * m_stride + q], as pixel[i * 2 + k]. (The activation is a template argument, as in the
// shifted tiles.) `probe` becomes NaN in a lane where a pixel before the bias and activation is
// infinite or NaN, and stays as it was otherwise (see WinogradForward::run): s - s is 0 for a
// finite sum s of the four and NaN for any other, and an infinite or NaN pixel makes s one.
template <Activation A, class T>
void output_pixels(const T* __restrict m, std::size_t m_stride, std::size_t q, Vec<T> bias,
                   Vec<T> (&pixel)[4], Vec<T>& probe) {
  Vec<T> mv[positions];
  for (std::size_t xi = 0; xi < positions; ++xi) {
    mv[xi] = Vec<T>::load_aligned(m + xi * m_stride + q);
  }
  transform_output(mv, pixel);
  const Vec<T> sum = (pixel[0] + pixel[1]) + (pixel[2] + pixel[3]);
  probe += sum - sum;
  for (Vec<T>& p : pixel) p = activate(A, p + bias);
}

// output_pixels of `count` tiles, pixel (i, k) of tile q written to y[(i * 2 + k) * y_stride + q].
// Returns whether they were all finite.
template <Activation A, class T>
bool transform_output_block(const T* __restrict m, std::size_t m_stride, std::size_t count, T bias,
                            T* __restrict y, std::size_t y_stride) {
  Vec<T> probe(T(0));
  for (std::size_t q = 0; q < count; q += Vec<T>::size) {
    Vec<T> pixel[4];
    output_pixels<A>(m, m_stride, q, Vec<T>(bias), pixel, probe);
    for (std::size_t i = 0; i < 4; ++i) pixel[i].store_unaligned(y + i * y_stride + q);
  }
  return probe_finite(probe);
}

// output_pixels of `count` tiles pooled: the maximum of each tile's four (the first of equal
// values in row-major order; a NaN wins) to maxima[q], and its offset in the output plane,
// offsets[i * 2 + k] for pixel (i, k), to where[q]. Returns whether all pixels were finite.
template <Activation A, class T>
bool pool_output_block(const T* __restrict m, std::size_t m_stride, std::size_t count, T bias,
                       const std::array<T, 4>& offsets, T* __restrict maxima, T* __restrict where) {
  Vec<T> probe(T(0));
  for (std::size_t q = 0; q < count; q += Vec<T>::size) {
    Vec<T> pixel[4];
    output_pixels<A>(m, m_stride, q, Vec<T>(bias), pixel, probe);
    Vec<T> best = pixel[0];
    Vec<T> offset(offsets[0]);
    for (std::size_t i = 1; i < 4; ++i) {
      const auto wins = (pixel[i] > best) | xsimd::isnan(pixel[i]);
      best = xsimd::select(wins, pixel[i], best);
      offset = xsimd::select(wins, Vec<T>(offsets[i]), offset);
    }
    best.store_aligned(maxima + q);
    offset.store_aligned(where + q);
  }
  return probe_finite(probe);
}

// The zero-padded planes [channels][height][width] (padding pad_h, pad_w) as their polyphase
// components [channels][row parity][column parity], each `component_size` values: component
// (b, e) at [y][x] holds padded pixel (2y + b, 2x + e), on rows of grid_row values. Image column
// x is padded column x + pad_w: the even columns of the image go to component pad_w % 2 from
// pad_w / 2 on, the odd ones to the other from (pad_w + 1) / 2 on.
template <class T>
void fill_components(const T* planes, std::size_t channels, std::size_t height, std::size_t width,
                     std::size_t pad_h, std::size_t pad_w, std::size_t grid_row,
                     std::size_t component_size, T* components) {
  std::fill_n(components, channels * 4 * component_size, T(0));
  const EvenOdd<T> even_odd;
  const std::size_t even_to = pad_w % 2 * component_size + pad_w / 2;
  const std::size_t odd_to = (pad_w + 1) % 2 * component_size + (pad_w + 1) / 2;
  for (std::size_t c = 0; c < channels; ++c) {
    for (std::size_t y = 0; y < height; ++y) {
      const std::size_t py = y + pad_h;
      T* row = components + (c * 4 + py % 2 * 2) * component_size + py / 2 * grid_row;
      even_odd.split(planes + (c * height + y) * width, width, row + even_to, row + odd_to);
    }
  }
}

// The transformed output gradient A delta A^T of one tile, in vectors of output channels:
// from delta_t [pixel][row] (row values per pixel), the tile's pixel (i, k) at
// delta_t + (i * out_w + k) * row, where `has` says which of its four pixels exist (bit i*2+k);
// writes out[xi * out_stride + o] for o < row. A = [1 0; 1 1; 1 -1; 0 -1]: the output
// transform's transpose, as the gradient of a linear map.
template <class T>
void transform_delta_tile(const T* __restrict delta_t, std::size_t out_w, std::size_t row,
                          unsigned has, T* __restrict out, std::size_t out_stride) {
  constexpr std::size_t lanes = Vec<T>::size;
  auto pixel = [&](std::size_t i, std::size_t k, std::size_t o) {
    return (has >> (i * 2 + k)) & 1U ? Vec<T>::load_aligned(delta_t + (i * out_w + k) * row + o)
                                     : Vec<T>(T(0));
  };
  for (std::size_t o = 0; o < row; o += lanes) {
    const Vec<T> d00 = pixel(0, 0, o), d01 = pixel(0, 1, o);
    const Vec<T> d10 = pixel(1, 0, o), d11 = pixel(1, 1, o);
    // A delta: four rows of two; then each row (p, r) times A^T: (p, p + r, p - r, -r).
    const Vec<T> left[4] = {d00, d00 + d10, d00 - d10, -d10};
    const Vec<T> right[4] = {d01, d01 + d11, d01 - d11, -d11};
    T* to = out + o;
    for (std::size_t i = 0; i < 4; ++i) {
      const Vec<T> values[4] = {left[i], left[i] + right[i], left[i] - right[i], -right[i]};
      for (std::size_t j = 0; j < 4; ++j, to += out_stride) values[j].store_aligned(to);
    }
  }
}

// The weight gradient's register tile: rows of V (broadcast) x vectors of output channels.
template <class T>
struct OuterShape {
#if defined(__AVX512F__)
  static constexpr std::size_t rows = 6;
  static constexpr std::size_t vectors = 4;
#else
  static constexpr std::size_t rows = 4;
  static constexpr std::size_t vectors = 2;
#endif
};

template <class T>
using OuterTile = void (*)(std::size_t depth, const T* a, std::size_t lda, const T* b,
                           std::size_t ldb, T* out, std::size_t ldo);

// out[r * ldo + j] += the sum over t < depth of a[r * lda + t] * b[t * ldb + j], for r < R and
// j < V vectors: a read along its rows (broadcasts), b along its columns; nothing packed.
template <std::size_t R, std::size_t V, class T>
void outer_tile(std::size_t depth, const T* __restrict a, std::size_t lda, const T* __restrict b,
                std::size_t ldb, T* __restrict out, std::size_t ldo) {
  constexpr std::size_t lanes = Vec<T>::size;
  Vec<T> acc[R][V];
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t v = 0; v < V; ++v)
      acc[r][v] = Vec<T>::load_unaligned(out + r * ldo + v * lanes);
  }
  for (std::size_t t = 0; t < depth; ++t, b += ldb) {
    Vec<T> bv[V];
    for (std::size_t v = 0; v < V; ++v) bv[v] = Vec<T>::load_aligned(b + v * lanes);
    for (std::size_t r = 0; r < R; ++r) {
      const Vec<T> ar(a[r * lda + t]);
      for (std::size_t v = 0; v < V; ++v) acc[r][v] = xsimd::fma(ar, bv[v], acc[r][v]);
    }
  }
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t v = 0; v < V; ++v) acc[r][v].store_unaligned(out + r * ldo + v * lanes);
  }
}

// outer_tile<r, v> at (v - 1) * rows + r - 1.
template <class T, std::size_t... I>
constexpr std::array<OuterTile<T>, sizeof...(I)> outer_tiles(std::index_sequence<I...> /*unused*/) {
  using S = OuterShape<T>;
  return {&outer_tile<I % S::rows + 1, I / S::rows + 1, T>...};
}

template <class T>
OuterTile<T> outer_tile_for(std::size_t rows, std::size_t vectors) {
  using S = OuterShape<T>;
  static constexpr auto tiles = outer_tiles<T>(std::make_index_sequence<S::rows * S::vectors>{});
  return tiles[(vectors - 1) * S::rows + rows - 1];
}

// w += G^T u G for one kernel: the gradient of U = G w G^T, u the gradient of U (row-major 4x4),
// w 3x3; in double.
void add_kernel_gradient(const double* u, double* w) {
  double gu[3][4] = {};  // G^T u
  for (std::size_t j = 0; j < 4; ++j) {
    const double u0 = u[j], u1 = u[4 + j], u2 = u[8 + j], u3 = u[12 + j];
    gu[0][j] = u0 + (u1 + u2) / 2;
    gu[1][j] = (u1 - u2) / 2;
    gu[2][j] = (u1 + u2) / 2 + u3;
  }
  for (std::size_t m = 0; m < 3; ++m) {
    const double* r = gu[m];
    w[m * 3] += r[0] + (r[1] + r[2]) / 2;
    w[m * 3 + 1] += (r[1] - r[2]) / 2;
    w[m * 3 + 2] += (r[1] + r[2]) / 2 + r[3];
  }
}

}  // namespace

bool winograd_applies(const ConvGeometry& g, std::size_t out_channels) {
  return g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 &&
         g.dilation_h == 1 && g.dilation_w == 1 && g.channels >= min_channels &&
         out_channels >= min_channels && g.out_h > 0 && g.out_w > 0 &&
         shifted_conv_applies(g);  // the padded image is no larger than im2col's matrix
}

template <class T>
WinogradForward<T>::WinogradForward(const ConvGeometry& g, std::size_t out_channels,
                                    const T* weight)
    : g_(g), out_channels_(out_channels), kernel_(forward_kernel<T>(out_channels)) {
  const std::size_t tile_rows = (g.out_h + 1) / 2;
  const std::size_t tile_cols = (g.out_w + 1) / 2;
  grid_row_ = tile_cols + 1;
  grid_tiles_ = tile_rows * grid_row_;
  blocks_ = (grid_tiles_ + kernel_.pixels - 1) / kernel_.pixels;
  // Tile q reads up to q + grid_row_ + 1 in each component; the last block's spare tiles read
  // past the tile rows (into values no output keeps).
  component_ = round_up(blocks_ * kernel_.pixels + grid_row_ + 1, Vec<T>::size);

  for (std::size_t c = 0; c < g.channels; ++c) offsets_.push_back(c * kernel_.pixels);

  // U[xi] [C_out, C], each in pack_forward_weight's layout (the micro-kernel's), written as each
  // kernel is transformed, across the seam: every training step makes this transform twice for
  // mnist_cnn's second layer (its forward and input gradient), and built position by position
  // through temporary arrays it took about 0.1 ms each in training on a Zen 5 (perf), 0.36-0.96 ms
  // in a harness that allocated them afresh, while the other threads waited.
  const std::size_t rows = kernel_.rows;
  const std::size_t channels = g.channels;
  const std::size_t packed_size = round_up(out_channels, rows) * channels;
  packed_.assign(positions * packed_size, T(0));  // the last block's missing channels stay zero
  auto transform_channels = [&](std::size_t begin, std::size_t end) {
    for (std::size_t o = begin; o < end; ++o) {
      T* block = packed_.data() + o / rows * rows * channels + o % rows;
      for (std::size_t c = 0; c < channels; ++c) {
        std::array<double, 9> w{};
        std::copy_n(weight + (o * channels + c) * 9, 9, w.begin());
        const std::array<double, positions> u = transform_kernel(w.data());
        for (std::size_t xi = 0; xi < positions; ++xi) {
          block[xi * packed_size + c * rows] = static_cast<T>(u[xi]);
        }
      }
    }
  };
  constexpr std::size_t kernels_per_task = 256;  // about 10 us of transforms
  parallel_for(out_channels,
               std::max<std::size_t>(1, kernels_per_task / std::max<std::size_t>(1, channels)),
               transform_channels);
}

template <class T>
template <class Store>
void WinogradForward<T>::run_tiles(const T* image, bool parallel, Store store) const {
  constexpr std::size_t lanes = Vec<T>::size;
  const std::size_t channels = g_.channels;
  const std::size_t pixels = kernel_.pixels;

  Scratch<T, 0> components(channels * 4 * component_);
  T* poly = components.data();
  fill_components(image, channels, g_.height, g_.width, g_.pad_h, g_.pad_w, grid_row_, component_,
                  poly);

  const std::size_t rows = kernel_.rows;
  const std::size_t packed_size = round_up(out_channels_, rows) * channels;
  auto run_blocks = [&](std::size_t begin, std::size_t end) {
    // V [16][C][block] (in L2) and M [16][rows][block] (in L1). Each of the sixteen is one vector
    // longer than its rows: strides of a multiple of 4 KB would make the sixteen streams
    // collide in the caches' sets and in the store buffer's address check.
    const std::size_t v_stride = channels * pixels + lanes;
    const std::size_t m_stride = rows * pixels + lanes;
    Scratch<T, 2> transformed(positions * v_stride);
    Scratch<T, 3> products(positions * m_stride);
    T* v = transformed.data();
    T* m = products.data();
    for (std::size_t b = begin; b < end; ++b) {
      const std::size_t first = b * pixels;
      // The last block may hold fewer vectors of tiles.
      const std::size_t vectors =
          std::min(kernel_.vectors, (grid_tiles_ - first + lanes - 1) / lanes);
      BlockStore whole;
      whole.valid =
          vectors * lanes == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << (vectors * lanes)) - 1;
      for (std::size_t c = 0; c < channels; ++c) {
        transform_input_block(poly + c * 4 * component_ + first, component_, grid_row_,
                              vectors * lanes, v + c * pixels, v_stride);
      }
      // One register tile of output channels at a time through all sixteen products, so that
      // M stays in L1 until its output transform.
      for (std::size_t o = 0; o < out_channels_; o += rows) {
        const std::size_t here = std::min(rows, out_channels_ - o);
        const ForwardTile<T> tile = kernel_.tile(here, vectors);
        for (std::size_t xi = 0; xi < positions; ++xi) {
          tile(channels, offsets_.data(), packed_.data() + xi * packed_size + o * channels,
               v + xi * v_stride, whole, nullptr, m + xi * m_stride, pixels);
        }
        for (std::size_t r = 0; r < here; ++r) {
          store(m + r * pixels, m_stride, vectors * lanes, o + r, first);
        }
      }
    }
  };
  const std::size_t flops =
      std::max<std::size_t>(1, 2 * positions * out_channels_ * channels * pixels);
  parallel_for_if(parallel, blocks_, std::max<std::size_t>(1, flops_per_task / flops), run_blocks);
}

template <class T>
bool WinogradForward<T>::run(const T* image, const T* bias, T* out, bool parallel,
                             Activation activation) const {
  // The output tiles' pixels, as four planes per channel [C_out][i][k] on the grid: (i, k) of
  // tile q at q. Each plane is read in whole vectors, up to `lanes` past the last tile row.
  const std::size_t plane_tiles = blocks_ * kernel_.pixels + Vec<T>::size;
  Scratch<T, 1> tile_pixels(out_channels_ * 4 * plane_tiles);
  T* ys = tile_pixels.data();
  std::atomic<bool> finite{true};
  run_tiles(
      image, parallel,
      [&](const T* m, std::size_t m_stride, std::size_t count, std::size_t o, std::size_t first) {
        const T b = bias ? bias[o] : T(0);
        T* y = ys + o * 4 * plane_tiles + first;
        const bool block_finite = with_activation(activation, [&](auto a) {
          return transform_output_block<a(), T>(m, m_stride, count, b, y, plane_tiles);
        });
        if (!block_finite) finite.store(false, std::memory_order_relaxed);
      });
  if (!finite.load(std::memory_order_relaxed)) return false;

  // Output row 2t + i of each channel interleaves the planes (i, 0) and (i, 1) of tile row t.
  const EvenOdd<T> even_odd;
  for (std::size_t o = 0; o < out_channels_; ++o) {
    for (std::size_t y = 0; y < g_.out_h; ++y) {
      const T* even = ys + (o * 4 + y % 2 * 2) * plane_tiles + y / 2 * grid_row_;
      even_odd.merge(even, even + plane_tiles, g_.out_w, out + (o * g_.out_h + y) * g_.out_w);
    }
  }
  return true;
}

template <class T>
bool WinogradForward<T>::run_pooled(const T* image, const T* bias, const PooledOutput<T>& out,
                                    bool parallel, Activation activation) const {
  // Each tile's maximum and where it lies in the tile, as two planes per channel on the grid.
  const std::size_t plane_tiles = blocks_ * kernel_.pixels + Vec<T>::size;
  Scratch<T, 1> tile_maxima(out_channels_ * 2 * plane_tiles);
  T* ys = tile_maxima.data();
  const auto out_w = static_cast<T>(g_.out_w);
  const std::array<T, 4> offsets{T(0), T(1), out_w, out_w + T(1)};
  std::atomic<bool> finite{true};
  run_tiles(
      image, parallel,
      [&](const T* m, std::size_t m_stride, std::size_t count, std::size_t o, std::size_t first) {
        const T b = bias ? bias[o] : T(0);
        T* y = ys + o * 2 * plane_tiles + first;
        const bool block_finite = with_activation(activation, [&](auto a) {
          return pool_output_block<a(), T>(m, m_stride, count, b, offsets, y, y + plane_tiles);
        });
        if (!block_finite) finite.store(false, std::memory_order_relaxed);
      });
  if (!finite.load(std::memory_order_relaxed)) return false;

  // The pooling windows are the whole tiles: the spare tile of each grid row, and a last tile
  // row or column that reaches past the output, are dropped (max_pool2d's floor).
  const std::size_t pooled_h = g_.out_h / 2;
  const std::size_t pooled_w = g_.out_w / 2;
  for (std::size_t o = 0; o < out_channels_; ++o) {
    for (std::size_t y = 0; y < pooled_h; ++y) {
      const T* maxima = ys + o * 2 * plane_tiles + y * grid_row_;
      const T* where = maxima + plane_tiles;
      const std::size_t to = (o * pooled_h + y) * pooled_w;
      copy_row(maxima, pooled_w, out.values + to, pooled_w);
      const auto top_left = static_cast<std::int32_t>(2 * y * g_.out_w);
      std::int32_t* argmax = out.argmax + to;
      for (std::size_t x = 0; x < pooled_w; ++x) {
        argmax[x] =
            top_left + static_cast<std::int32_t>(2 * x) + static_cast<std::int32_t>(where[x]);
      }
    }
  }
  return true;
}

template <class T>
WinogradWeightGrad<T>::WinogradWeightGrad(const ConvGeometry& g, std::size_t out_channels)
    : g_(g), out_channels_(out_channels) {
  grid_row_ = (g.out_w + 1) / 2 + 1;
  length_ = round_up((g.out_h + 1) / 2 * grid_row_, Vec<T>::size);
  component_ = round_up(length_ + grid_row_ + 1, Vec<T>::size);
  delta_row_ = round_up(out_channels, Vec<T>::size);
}

template <class T>
void WinogradWeightGrad<T>::add(std::size_t count, const T* delta, const T* images, T* grad_weight,
                                T* plane_sums, bool parallel) const {
  constexpr std::size_t lanes = Vec<T>::size;
  using S = OuterShape<T>;
  const std::size_t channels = g_.channels;
  const std::size_t plane = g_.out_h * g_.out_w;
  // V [16][C][length_] and D^T [length_][16][delta_row_] of one image at a time (for mnist_cnn's
  // second layer 327 KB and 655 KB: an L2): dU[xi] [C][delta_row_] += V[xi] x D^T[xi], image after
  // image. D^T keeps a tile's sixteen rows together: its transform writes one contiguous run per
  // tile.
  const std::size_t v_xi = channels * length_;
  const std::size_t d_tile = positions * delta_row_ + lanes;  // not a multiple of 4 KB
  Scratch<T, 0> image_components(channels * 4 * component_);
  Scratch<T, 1> delta_transposed(plane * delta_row_);
  Scratch<T, 2> transformed(positions * v_xi);
  Scratch<T, 3> transformed_delta(length_ * d_tile);
  T* poly = image_components.data();
  T* v = transformed.data();
  T* d = transformed_delta.data();
  T* delta_t = delta_transposed.data();
  std::fill_n(delta_t, plane * delta_row_, T(0));  // the channels past C_out stay zero
  std::vector<T> du(positions * channels * delta_row_, T(0));
  const std::size_t vectors = delta_row_ / lanes;
  auto run_positions = [&](std::size_t begin, std::size_t end) {
    for (std::size_t xi = begin; xi < end; ++xi) {
      for (std::size_t c = 0; c < channels; c += S::rows) {
        const std::size_t rows = std::min(S::rows, channels - c);
        for (std::size_t o = 0; o < vectors; o += S::vectors) {
          const std::size_t here = std::min(S::vectors, vectors - o);
          outer_tile_for<T>(rows, here)(
              length_, v + xi * v_xi + c * length_, length_, d + xi * delta_row_ + o * lanes,
              d_tile, du.data() + (xi * channels + c) * delta_row_ + o * lanes, delta_row_);
        }
      }
    }
  };
  const EvenOdd<T> shuffles;
  for (std::size_t n = 0; n < count; ++n) {
    fill_components(images + n * g_.image_size(), channels, g_.height, g_.width, g_.pad_h, g_.pad_w,
                    grid_row_, component_, poly);
    for (std::size_t c = 0; c < channels; ++c) {
      transform_input_block(poly + c * 4 * component_, component_, grid_row_, length_,
                            v + c * length_, v_xi);
    }
    const T* delta_n = delta + n * out_channels_ * plane;
    if (plane_sums != nullptr)
      sum_runs(delta_n, plane, out_channels_, plane, plane_sums + n * out_channels_);
    shuffles.transpose(delta_n, out_channels_, plane, plane, delta_t, delta_row_);
    // Tile q of the grid; the spare tile of each row and those past the grid add nothing.
    for (std::size_t q = 0; q < length_; ++q) {
      T* to = d + q * d_tile;
      const std::size_t y = q / grid_row_ * 2;
      const std::size_t x = q % grid_row_ * 2;
      if (y >= g_.out_h || x >= g_.out_w) {
        std::fill_n(to, d_tile, T(0));
        continue;
      }
      const bool right = x + 1 < g_.out_w;
      const bool down = y + 1 < g_.out_h;
      const unsigned has = 1U | (right ? 2U : 0U) | (down ? 4U : 0U) | (right && down ? 8U : 0U);
      transform_delta_tile(delta_t + (y * g_.out_w + x) * delta_row_, g_.out_w, delta_row_, has, to,
                           delta_row_);
    }
    parallel_for_if(parallel, positions, 1, run_positions);
  }

  const std::size_t pairs = channels * delta_row_;
  for (std::size_t o = 0; o < out_channels_; ++o) {
    for (std::size_t c = 0; c < channels; ++c) {
      double u[positions];
      for (std::size_t xi = 0; xi < positions; ++xi) u[xi] = du[xi * pairs + c * delta_row_ + o];
      double w[9] = {};
      add_kernel_gradient(u, w);
      T* to = grad_weight + (o * channels + c) * 9;
      for (std::size_t k = 0; k < 9; ++k) to[k] += static_cast<T>(w[k]);
    }
  }
}

template class WinogradForward<float>;
template class WinogradForward<double>;
template class WinogradWeightGrad<float>;
template class WinogradWeightGrad<double>;

}  // namespace tg::kernels
