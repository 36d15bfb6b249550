#pragma once
// Runtime element types of a tg::Tensor.

#include <cstdint>
#include <string_view>
#include <type_traits>

namespace tg {

enum class DType : std::uint8_t { f32, f64, i64 };

inline constexpr DType f32 = DType::f32;
inline constexpr DType f64 = DType::f64;
inline constexpr DType i64 = DType::i64;

constexpr std::string_view name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::i64:
      return "i64";
  }
  return "?";
}

constexpr bool is_floating(DType dtype) { return dtype == DType::f32 || dtype == DType::f64; }

// The DType of a C++ element type; only float, double and std::int64_t have one.
template <class T>
inline constexpr bool is_element_type_v =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t>;

template <class T>
constexpr DType dtype_of() {
  static_assert(is_element_type_v<T>, "tapegrad tensors hold float, double or std::int64_t");
  if constexpr (std::is_same_v<T, float>)
    return DType::f32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::f64;
  else
    return DType::i64;
}

}  // namespace tg
