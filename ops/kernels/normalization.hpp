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

}  // namespace tg::kernels
