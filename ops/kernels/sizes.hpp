#pragma once
// Size arithmetic the kernels share.

#include <cstddef>

namespace tg::kernels {

// x rounded up to a multiple of `to` (which must not be 0): whole vectors, whole register tiles.
constexpr std::size_t round_up(std::size_t x, std::size_t to) { return (x + to - 1) / to * to; }

}  // namespace tg::kernels
