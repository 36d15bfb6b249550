#pragma once
// lane_numbers<T>(): the vector {0, 1, ..., lanes - 1}, from which the kernels build the masks of
// a range of lanes by comparison (the aligned copy's rows split across output rows, the
// weight-gradient tiles' partial last vectors).

#include <array>
#include <cstddef>

#include <xsimd/xsimd.hpp>

namespace tg::kernels {
// Internal linkage, as in copy_row.hpp: each translation unit's own vector width.
namespace {

template <class T>
xsimd::batch<T> lane_numbers() {
  constexpr std::size_t lanes = xsimd::batch<T>::size;
  alignas(64) std::array<T, lanes> numbers{};
  for (std::size_t i = 0; i < lanes; ++i) numbers[i] = T(i);
  return xsimd::batch<T>::load_aligned(numbers.data());
}

}  // namespace
}  // namespace tg::kernels
