#pragma once
// to[0, n) = from[0, n) and to[n, width) = 0, for the short rows of the convolution kernels' copies
// (10 to 28 values): in whole vectors and, with AVX-512, a masked one. A call to memmove (or
// memset) for each row was a sixth of a first layer's weight gradient, and the copies of the
// pooled rows (12 values) 1.2% of a one-thread mnist_cnn step.

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace tg::kernels {
// Internal linkage: each translation unit keeps its own copy, built for its own instruction set
// (cmake/tapegrad_options.cmake keeps AVX-512 in some and not in others; one shared instance
// would run the code of whichever the linker kept).
namespace {

template <class T>
void copy_row(const T* from, std::size_t n, T* to, std::size_t width) {
  using Vec = xsimd::batch<T>;
  constexpr std::size_t lanes = Vec::size;
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) Vec::load_unaligned(from + i).store_unaligned(to + i);
#if defined(__AVX512F__)
  // The mask of the first k lanes, all of them for k >= lanes (BMI2's bzhi keeps the low k bits).
  const auto lanes_below = [](std::size_t k) {
    return _bzhi_u32((1U << lanes) - 1, static_cast<unsigned>(std::min<std::size_t>(k, 32)));
  };
  for (; i < width; i += lanes) {
    const unsigned values = lanes_below(n - std::min(n, i));
    const unsigned stores = lanes_below(width - i);
    if constexpr (std::is_same_v<T, float>) {
      _mm512_mask_storeu_ps(to + i, static_cast<__mmask16>(stores),
                            _mm512_maskz_loadu_ps(static_cast<__mmask16>(values), from + i));
    } else {
      _mm512_mask_storeu_pd(to + i, static_cast<__mmask8>(stores),
                            _mm512_maskz_loadu_pd(static_cast<__mmask8>(values), from + i));
    }
  }
#else
  std::copy(from + i, from + n, to + i);
  std::fill(to + n, to + width, T(0));
#endif
}

}  // namespace
}  // namespace tg::kernels
