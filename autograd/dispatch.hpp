#pragma once
// Runs a template lambda for a tensor's runtime dtype:
//   dispatch_floating(x.dtype(), "relu", [&]<class T>() { ... x.value<T>() ... });

#include <cstdint>
#include <string_view>
#include <utility>

#include "dtype.hpp"
#include "error.hpp"
#include "op_context.hpp"
#include "profiler.hpp"

namespace tg {

// For ops defined on f32 and f64 only; i64 is an error naming the op. Every built-in op
// dispatches once, so this is also where its forward is timed (autograd/profiler.hpp) and where
// it becomes the op that errors name (op_context.hpp).
template <class F>
decltype(auto) dispatch_floating(DType dtype, std::string_view op, F&& f) {
  const detail::OpContext op_context(op);
  const profiler::Scope timed(op);
  switch (dtype) {
    case DType::f32:
      return std::forward<F>(f).template operator()<float>();
    case DType::f64:
      return std::forward<F>(f).template operator()<double>();
    case DType::i64:
      break;
  }
  fail("{}: expected a floating tensor (f32 or f64), got {}", op, name(dtype));
}

// For code that works on every dtype (copies, printing, factories).
template <class F>
decltype(auto) dispatch_any(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return std::forward<F>(f).template operator()<float>();
    case DType::f64:
      return std::forward<F>(f).template operator()<double>();
    case DType::i64:
      break;
  }
  return std::forward<F>(f).template operator()<std::int64_t>();
}

}  // namespace tg
