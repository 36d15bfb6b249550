#pragma once
// Per-channel statistics and affine maps of an array laid out [outer, channels, inner]: batch
// norm's [N, C, H*W] (a channel's values are N runs of H*W), and layer norm's [1, rows, row]
// (each row one channel).

#include <cstddef>

namespace tg::kernels {

// mean[c] and the biased variance var[c] of channel c's outer * inner values. Two passes (the
// mean, then the squared deviations from it), accumulated in double in a fixed order, so the
// result is accurate for float inputs with a large mean and does not depend on the thread count.
template <class T>
void channel_moments(const T* x, std::size_t outer, std::size_t channels, std::size_t inner,
                     double* mean, double* var);

// out[o, c, i] = x[o, c, i] * scale[c] + shift[c].
template <class T>
void channel_affine(const T* x, std::size_t outer, std::size_t channels, std::size_t inner,
                    const T* scale, const T* shift, T* out);

// The sums a normalisation's backward needs, per channel c, with xhat = (x - mean[c]) invstd[c]:
// sum_g[c] = sum of g, sum_g_xhat[c] = sum of g xhat (in double, in a fixed order).
template <class T>
void channel_grad_sums(const T* g, const T* x, std::size_t outer, std::size_t channels,
                       std::size_t inner, const double* mean, const double* invstd, double* sum_g,
                       double* sum_g_xhat);

// out[o, c, i] = g * k_g[c] + x * k_x[c] + k_1[c]: the input gradient of a normalisation, whose
// terms are all linear in g and x once the per-channel sums are known.
template <class T>
void channel_linear(const T* g, const T* x, std::size_t outer, std::size_t channels,
                    std::size_t inner, const T* k_g, const T* k_x, const T* k_1, T* out);

}  // namespace tg::kernels
