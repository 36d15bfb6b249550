#include "normalization.hpp"

#include <algorithm>
#include <array>

#include "parallel.hpp"

namespace tg::kernels {
namespace {

// Independent partial sums, so that the adds of a run overlap instead of each waiting for the
// last; they are combined in a fixed order.
constexpr std::size_t kPartials = 8;

template <class T, class Term>
double sum_channel(const T* x, std::size_t outer, std::size_t channels, std::size_t inner,
                   std::size_t c, const Term& term) {
  std::array<double, kPartials> partial{};
  for (std::size_t o = 0; o < outer; ++o) {
    const T* run = x + (o * channels + c) * inner;
    std::size_t i = 0;
    for (; i + kPartials <= inner; i += kPartials) {
      for (std::size_t k = 0; k < kPartials; ++k) partial[k] += term(run[i + k]);
    }
    for (; i < inner; ++i) partial[i % kPartials] += term(run[i]);
  }
  double total = 0.0;
  for (const double p : partial) total += p;
  return total;
}

// Channels per task: about elementwise_grain values each.
std::size_t channel_grain(std::size_t values_per_channel) {
  return std::max<std::size_t>(1, elementwise_grain / std::max<std::size_t>(1, values_per_channel));
}

}  // namespace

template <class T>
void channel_moments(const T* x, std::size_t outer, std::size_t channels, std::size_t inner,
                     double* mean, double* var) {
  const std::size_t count = outer * inner;
  const double n = static_cast<double>(count);
  parallel_for(channels, channel_grain(count), [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      const double mu =
          sum_channel(x, outer, channels, inner, c, [](T v) { return static_cast<double>(v); }) / n;
      mean[c] = mu;
      var[c] = sum_channel(x, outer, channels, inner, c,
                           [mu](T v) {
                             const double d = static_cast<double>(v) - mu;
                             return d * d;
                           }) /
               n;
    }
  });
}

template <class T>
void channel_affine(const T* x, std::size_t outer, std::size_t channels, std::size_t inner,
                    const T* scale, const T* shift, T* out) {
  parallel_for(outer * channels, channel_grain(inner), [&](std::size_t begin, std::size_t end) {
    for (std::size_t run = begin; run < end; ++run) {
      const std::size_t c = run % channels;
      const T a = scale[c];
      const T b = shift[c];
      const T* in = x + run * inner;
      T* o = out + run * inner;
      for (std::size_t i = 0; i < inner; ++i) o[i] = in[i] * a + b;
    }
  });
}

template <class T>
void channel_grad_sums(const T* g, const T* x, std::size_t outer, std::size_t channels,
                       std::size_t inner, const double* mean, const double* invstd, double* sum_g,
                       double* sum_g_xhat) {
  parallel_for(channels, channel_grain(2 * outer * inner), [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      std::array<double, kPartials> partial_g{};
      std::array<double, kPartials> partial_gx{};
      const double mu = mean[c];
      const double s = invstd[c];
      for (std::size_t o = 0; o < outer; ++o) {
        const T* g_run = g + (o * channels + c) * inner;
        const T* x_run = x + (o * channels + c) * inner;
        for (std::size_t i = 0; i < inner; ++i) {
          const auto gi = static_cast<double>(g_run[i]);
          partial_g[i % kPartials] += gi;
          partial_gx[i % kPartials] += gi * (static_cast<double>(x_run[i]) - mu) * s;
        }
      }
      sum_g[c] = 0.0;
      sum_g_xhat[c] = 0.0;
      for (std::size_t k = 0; k < kPartials; ++k) {
        sum_g[c] += partial_g[k];
        sum_g_xhat[c] += partial_gx[k];
      }
    }
  });
}

template <class T>
void channel_linear(const T* g, const T* x, std::size_t outer, std::size_t channels,
                    std::size_t inner, const T* k_g, const T* k_x, const T* k_1, T* out) {
  parallel_for(outer * channels, channel_grain(inner), [&](std::size_t begin, std::size_t end) {
    for (std::size_t run = begin; run < end; ++run) {
      const std::size_t c = run % channels;
      const T a = k_g[c];
      const T b = k_x[c];
      const T d = k_1[c];
      const T* g_run = g + run * inner;
      const T* x_run = x + run * inner;
      T* o = out + run * inner;
      for (std::size_t i = 0; i < inner; ++i) o[i] = g_run[i] * a + x_run[i] * b + d;
    }
  });
}

template void channel_grad_sums<float>(const float*, const float*, std::size_t, std::size_t,
                                       std::size_t, const double*, const double*, double*, double*);
template void channel_grad_sums<double>(const double*, const double*, std::size_t, std::size_t,
                                        std::size_t, const double*, const double*, double*,
                                        double*);
template void channel_linear<float>(const float*, const float*, std::size_t, std::size_t,
                                    std::size_t, const float*, const float*, const float*, float*);
template void channel_linear<double>(const double*, const double*, std::size_t, std::size_t,
                                     std::size_t, const double*, const double*, const double*,
                                     double*);
template void channel_moments<float>(const float*, std::size_t, std::size_t, std::size_t, double*,
                                     double*);
template void channel_moments<double>(const double*, std::size_t, std::size_t, std::size_t, double*,
                                      double*);
template void channel_affine<float>(const float*, std::size_t, std::size_t, std::size_t,
                                    const float*, const float*, float*);
template void channel_affine<double>(const double*, std::size_t, std::size_t, std::size_t,
                                     const double*, const double*, double*);

}  // namespace tg::kernels
