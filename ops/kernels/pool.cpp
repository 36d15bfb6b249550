#include "pool.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include <xsimd/xsimd.hpp>

#include "parallel.hpp"

namespace tg::kernels {
namespace {

using Index = std::ptrdiff_t;

// Enough work per task to amortise scheduling; planes are never split, so the chunking cannot
// change any result.
std::size_t planes_per_task(std::size_t work_per_plane) {
  constexpr std::size_t work_per_task = 1u << 15;
  return std::max<std::size_t>(1, work_per_task / std::max<std::size_t>(1, work_per_plane));
}

// The input rows [begin, end) one window covers, padding cut off.
struct Span {
  Index begin;
  Index end;
};

Span window(std::size_t out_index, std::size_t stride, std::size_t pad, std::size_t kernel,
            std::size_t in_size) {
  const Index start = static_cast<Index>(out_index * stride) - static_cast<Index>(pad);
  return {std::max<Index>(start, 0),
          std::min<Index>(start + static_cast<Index>(kernel), static_cast<Index>(in_size))};
}

template <class T>
T divisor(const Pool2dGeometry& g, bool count_include_pad, Span rows, Span cols) {
  // Without ceil_mode a window never reaches past the padding, so with count_include_pad the
  // divisor is the whole kernel (PyTorch clips it to the padded input, which is the same).
  if (count_include_pad) return static_cast<T>(g.kernel_h * g.kernel_w);
  return static_cast<T>((rows.end - rows.begin) * (cols.end - cols.begin));
}

// In vectors: written as a scalar loop (nan |= v != v) it did not vectorise, and was half of
// max-pooling's time.
template <class T>
bool has_nan(const T* values, std::size_t n) {
  using Vec = xsimd::batch<T>;
  xsimd::batch_bool<T> nan(false);
  std::size_t i = 0;
  for (; i + Vec::size <= n; i += Vec::size) {
    const Vec v = Vec::load_unaligned(values + i);
    nan = nan | xsimd::isnan(v);
  }
  bool tail_nan = false;
  for (; i < n; ++i) tail_nan |= std::isnan(values[i]);
  return tail_nan || xsimd::any(nan);
}

// The taps of one max-pooling window along a dim that fall inside the input: `count` positions
// first, first + step, ... (the window's taps are start + k * dilation, k < kernel).
struct Taps {
  Index first;
  Index step;
  Index count;
};

Taps taps(std::size_t out_index, std::size_t stride, std::size_t pad, std::size_t kernel,
          std::size_t dilation, std::size_t in_size) {
  const Index start = static_cast<Index>(out_index * stride) - static_cast<Index>(pad);
  const auto d = static_cast<Index>(dilation);
  const Index k_begin = start < 0 ? (-start + d - 1) / d : 0;
  const Index k_end = std::min<Index>(static_cast<Index>(kernel),
                                      (static_cast<Index>(in_size) - start + d - 1) / d);
  return {start + k_begin * d, d, std::max<Index>(0, k_end - k_begin)};
}

// One plane. Strict > keeps the first of equal values. With `nan_aware`, a NaN also replaces
// the maximum (PyTorch's rule, so that NaN propagates instead of being skipped by >); planes
// without NaN (nearly all) take the other path, where the select compiles to vmaxss and a
// conditional move: the outcome of > on real activations is unpredictable, and a mispredicted
// branch per element used to cost more than the rest of the window.
template <class T, bool with_argmax, bool nan_aware>
void max_plane(const Pool2dGeometry& g, const T* in, T* out, std::int32_t* argmax) {
  const auto in_w = static_cast<Index>(g.in_w);
  for (std::size_t oh = 0; oh < g.out_h; ++oh) {
    const Taps rows = taps(oh, g.stride_h, g.pad_h, g.kernel_h, g.dilation_h, g.in_h);
    for (std::size_t ow = 0; ow < g.out_w; ++ow) {
      const Taps cols = taps(ow, g.stride_w, g.pad_w, g.kernel_w, g.dilation_w, g.in_w);
      T best = -std::numeric_limits<T>::infinity();
      Index best_index = rows.first * in_w + cols.first;
      Index h = rows.first;
      for (Index r = 0; r < rows.count; ++r, h += rows.step) {
        const T* row = in + h * in_w;
        Index w = cols.first;
        for (Index c = 0; c < cols.count; ++c, w += cols.step) {
          const T v = row[w];
          if constexpr (nan_aware) {
            if (v > best || std::isnan(v)) {
              best = v;
              best_index = h * in_w + w;
            }
          } else {
            const bool greater = v > best;
            best_index = greater ? h * in_w + w : best_index;
            best = greater ? v : best;
          }
        }
      }
      const std::size_t j = oh * g.out_w + ow;
      out[j] = best;
      if constexpr (with_argmax) argmax[j] = static_cast<std::int32_t>(best_index);
    }
  }
}

// The window of nearly every CNN, 2x2 with stride 2 and no padding, on a plane without NaN:
// the four candidates in row-major order, no window bounds to work out. The same rule as above
// (strict >, first of equal values); the first candidate stands in for -inf.
template <class T, bool with_argmax>
void max_plane_2x2(const Pool2dGeometry& g, const T* in, T* out, std::int32_t* argmax) {
  const std::size_t w = g.in_w;
  const auto w32 = static_cast<std::int32_t>(w);
  for (std::size_t oh = 0; oh < g.out_h; ++oh) {
    const T* top = in + 2 * oh * w;
    const T* bottom = top + w;
    T* out_row = out + oh * g.out_w;
    std::int32_t* argmax_row = with_argmax ? argmax + oh * g.out_w : nullptr;
    const auto top_index = static_cast<std::int32_t>(2 * oh * w);
    // Straight-line selects over int32 indices, which GCC vectorises (the loads of even and odd
    // columns become shuffles): as a loop over the four candidates with size_t indices it ran
    // one window at a time, a tenth of LeNet-5's training step.
    for (std::size_t ow = 0; ow < g.out_w; ++ow) {
      const auto column = static_cast<std::int32_t>(2 * ow);
      T best = top[2 * ow];
      std::int32_t index = top_index + column;
      const T b = top[2 * ow + 1];
      index = b > best ? top_index + column + 1 : index;
      best = b > best ? b : best;
      const T c = bottom[2 * ow];
      index = c > best ? top_index + w32 + column : index;
      best = c > best ? c : best;
      const T d = bottom[2 * ow + 1];
      index = d > best ? top_index + w32 + column + 1 : index;
      best = d > best ? d : best;
      out_row[ow] = best;
      if constexpr (with_argmax) argmax_row[ow] = index;
    }
  }
}

template <class T, bool with_argmax>
void max_plane(const Pool2dGeometry& g, const T* in, T* out, std::int32_t* argmax) {
  if (has_nan(in, g.in_h * g.in_w)) {
    max_plane<T, with_argmax, true>(g, in, out, argmax);
  } else if (is_window_2x2(g)) {
    max_plane_2x2<T, with_argmax>(g, in, out, argmax);
  } else {
    max_plane<T, with_argmax, false>(g, in, out, argmax);
  }
}

}  // namespace

bool is_window_2x2(const Pool2dGeometry& g) {
  return g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
         g.pad_w == 0 && g.dilation_h == 1 && g.dilation_w == 1 && 2 * g.out_h <= g.in_h &&
         2 * g.out_w <= g.in_w;
}

template <class T>
void max_pool2d_planes(const Pool2dGeometry& g, std::size_t planes, const T* input, T* output,
                       std::int32_t* argmax) {
  const std::size_t in_plane = g.in_h * g.in_w;
  const std::size_t out_plane = g.out_h * g.out_w;
  for (std::size_t p = 0; p < planes; ++p) {
    max_plane<T, true>(g, input + p * in_plane, output + p * out_plane, argmax + p * out_plane);
  }
}

template <class T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* input, T* output, std::int32_t* argmax) {
  const std::size_t in_plane = g.in_h * g.in_w;
  const std::size_t out_plane = g.out_h * g.out_w;
  parallel_for(g.planes, planes_per_task(out_plane * g.kernel_h * g.kernel_w),
               [&](std::size_t begin, std::size_t end) {
                 for (std::size_t p = begin; p < end; ++p) {
                   if (argmax) {
                     max_plane<T, true>(g, input + p * in_plane, output + p * out_plane,
                                        argmax + p * out_plane);
                   } else {
                     max_plane<T, false>(g, input + p * in_plane, output + p * out_plane, nullptr);
                   }
                 }
               });
}

template <class T>
void max_pool2d_scatter(const Pool2dGeometry& g, const T* grad_output, const std::int32_t* argmax,
                        T* grad_input) {
  const std::size_t in_plane = g.in_h * g.in_w;
  const std::size_t out_plane = g.out_h * g.out_w;
  // A plane's argmax only points into that plane, so planes are independent: no races, and
  // positions shared by several windows sum in the fixed order j = 0, 1, ...
  parallel_for(g.planes, planes_per_task(in_plane + out_plane),
               [&](std::size_t begin, std::size_t end) {
                 for (std::size_t p = begin; p < end; ++p) {
                   T* gi = grad_input + p * in_plane;
                   const T* go = grad_output + p * out_plane;
                   const std::int32_t* a = argmax + p * out_plane;
                   std::fill(gi, gi + in_plane, T(0));
                   for (std::size_t j = 0; j < out_plane; ++j) gi[a[j]] += go[j];
                 }
               });
}

template <class T>
void max_pool2d_gather(const Pool2dGeometry& g, const T* grad_input, const std::int32_t* argmax,
                       T* grad_output) {
  const std::size_t in_plane = g.in_h * g.in_w;
  const std::size_t out_plane = g.out_h * g.out_w;
  parallel_for(g.planes, planes_per_task(out_plane), [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      const T* gi = grad_input + p * in_plane;
      T* go = grad_output + p * out_plane;
      const std::int32_t* a = argmax + p * out_plane;
      for (std::size_t j = 0; j < out_plane; ++j) go[j] = gi[a[j]];
    }
  });
}

template <class T>
void avg_pool2d_forward(const Pool2dGeometry& g, bool count_include_pad, const T* input,
                        T* output) {
  const std::size_t in_plane = g.in_h * g.in_w;
  const std::size_t out_plane = g.out_h * g.out_w;
  const auto in_w = static_cast<Index>(g.in_w);
  parallel_for(g.planes, planes_per_task(out_plane * g.kernel_h * g.kernel_w),
               [&](std::size_t begin, std::size_t end) {
                 for (std::size_t p = begin; p < end; ++p) {
                   const T* in = input + p * in_plane;
                   T* out = output + p * out_plane;
                   for (std::size_t oh = 0; oh < g.out_h; ++oh) {
                     const Span rows = window(oh, g.stride_h, g.pad_h, g.kernel_h, g.in_h);
                     for (std::size_t ow = 0; ow < g.out_w; ++ow) {
                       const Span cols = window(ow, g.stride_w, g.pad_w, g.kernel_w, g.in_w);
                       T sum = 0;
                       for (Index h = rows.begin; h < rows.end; ++h) {
                         for (Index w = cols.begin; w < cols.end; ++w) sum += in[h * in_w + w];
                       }
                       out[oh * g.out_w + ow] = sum / divisor<T>(g, count_include_pad, rows, cols);
                     }
                   }
                 }
               });
}

template <class T>
void avg_pool2d_backward(const Pool2dGeometry& g, bool count_include_pad, const T* grad_output,
                         T* grad_input) {
  const std::size_t in_plane = g.in_h * g.in_w;
  const std::size_t out_plane = g.out_h * g.out_w;
  const auto in_w = static_cast<Index>(g.in_w);
  parallel_for(g.planes, planes_per_task(in_plane + out_plane * g.kernel_h * g.kernel_w),
               [&](std::size_t begin, std::size_t end) {
                 for (std::size_t p = begin; p < end; ++p) {
                   T* gi = grad_input + p * in_plane;
                   const T* go = grad_output + p * out_plane;
                   std::fill(gi, gi + in_plane, T(0));
                   for (std::size_t oh = 0; oh < g.out_h; ++oh) {
                     const Span rows = window(oh, g.stride_h, g.pad_h, g.kernel_h, g.in_h);
                     for (std::size_t ow = 0; ow < g.out_w; ++ow) {
                       const Span cols = window(ow, g.stride_w, g.pad_w, g.kernel_w, g.in_w);
                       const T share =
                           go[oh * g.out_w + ow] / divisor<T>(g, count_include_pad, rows, cols);
                       for (Index h = rows.begin; h < rows.end; ++h) {
                         for (Index w = cols.begin; w < cols.end; ++w) gi[h * in_w + w] += share;
                       }
                     }
                   }
                 }
               });
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, which cannot be parenthesised.
namespace {

// Adaptive window i of `out` over `in` positions, as PyTorch's start_index / end_index.
Span adaptive_window(std::size_t i, std::size_t out, std::size_t in) {
  return {static_cast<Index>(i * in / out), static_cast<Index>(((i + 1) * in + out - 1) / out)};
}

}  // namespace

template <class T>
void adaptive_avg_pool2d_forward(const Pool2dGeometry& g, const T* input, T* output) {
  const std::size_t in_plane = g.in_h * g.in_w;
  const std::size_t out_plane = g.out_h * g.out_w;
  const auto in_w = static_cast<Index>(g.in_w);
  parallel_for(
      g.planes, planes_per_task(in_plane + out_plane), [&](std::size_t begin, std::size_t end) {
        for (std::size_t p = begin; p < end; ++p) {
          const T* in = input + p * in_plane;
          T* out = output + p * out_plane;
          for (std::size_t oh = 0; oh < g.out_h; ++oh) {
            const Span rows = adaptive_window(oh, g.out_h, g.in_h);
            for (std::size_t ow = 0; ow < g.out_w; ++ow) {
              const Span cols = adaptive_window(ow, g.out_w, g.in_w);
              T total = 0;
              for (Index h = rows.begin; h < rows.end; ++h) {
                for (Index w = cols.begin; w < cols.end; ++w) total += in[h * in_w + w];
              }
              const auto count = static_cast<T>((rows.end - rows.begin) * (cols.end - cols.begin));
              out[oh * g.out_w + ow] = total / count;
            }
          }
        }
      });
}

template <class T>
void adaptive_avg_pool2d_backward(const Pool2dGeometry& g, const T* grad_output, T* grad_input) {
  const std::size_t in_plane = g.in_h * g.in_w;
  const std::size_t out_plane = g.out_h * g.out_w;
  const auto in_w = static_cast<Index>(g.in_w);
  // Planes are independent, and within one the windows add in the fixed order j = 0, 1, ...
  parallel_for(
      g.planes, planes_per_task(in_plane + out_plane), [&](std::size_t begin, std::size_t end) {
        for (std::size_t p = begin; p < end; ++p) {
          T* gi = grad_input + p * in_plane;
          const T* go = grad_output + p * out_plane;
          std::fill(gi, gi + in_plane, T(0));
          for (std::size_t oh = 0; oh < g.out_h; ++oh) {
            const Span rows = adaptive_window(oh, g.out_h, g.in_h);
            for (std::size_t ow = 0; ow < g.out_w; ++ow) {
              const Span cols = adaptive_window(ow, g.out_w, g.in_w);
              const auto count = static_cast<T>((rows.end - rows.begin) * (cols.end - cols.begin));
              const T share = go[oh * g.out_w + ow] / count;
              for (Index h = rows.begin; h < rows.end; ++h) {
                for (Index w = cols.begin; w < cols.end; ++w) gi[h * in_w + w] += share;
              }
            }
          }
        }
      });
}

#define TG_INSTANTIATE_POOL(T)                                                                   \
  template void max_pool2d_forward<T>(const Pool2dGeometry&, const T*, T*, std::int32_t*);       \
  template void max_pool2d_planes<T>(const Pool2dGeometry&, std::size_t, const T*, T*,           \
                                     std::int32_t*);                                             \
  template void max_pool2d_scatter<T>(const Pool2dGeometry&, const T*, const std::int32_t*, T*); \
  template void max_pool2d_gather<T>(const Pool2dGeometry&, const T*, const std::int32_t*, T*);  \
  template void avg_pool2d_forward<T>(const Pool2dGeometry&, bool, const T*, T*);                \
  template void avg_pool2d_backward<T>(const Pool2dGeometry&, bool, const T*, T*);               \
  template void adaptive_avg_pool2d_forward<T>(const Pool2dGeometry&, const T*, T*);             \
  template void adaptive_avg_pool2d_backward<T>(const Pool2dGeometry&, const T*, T*);

TG_INSTANTIATE_POOL(float)
TG_INSTANTIATE_POOL(double)
// NOLINTEND(bugprone-macro-parentheses)

#undef TG_INSTANTIATE_POOL

}  // namespace tg::kernels
