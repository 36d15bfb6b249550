// Text forms of shapes and tensors.

// GCC 12 reports a false -Wrestrict inside std::string::insert as inlined into xtensor's
// printer (GCC bug 105329); the code is fine, and the warning would bury real ones.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <xtensor/xio.hpp>

#include "dispatch.hpp"
#include "node.hpp"
#include "tensor.hpp"

namespace tg {

std::string to_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

std::string index_to_string(const Shape& shape, std::size_t flat) {
  std::vector<std::size_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return fmt::format("[{}]", fmt::join(index, ","));
}

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  std::string header = fmt::format("tensor({} {}", name(t.dtype()), to_string(t.shape()));
  if (t.grad_fn()) {
    header += fmt::format(", grad_fn={}", t.grad_fn()->name());
  } else if (t.requires_grad()) {
    header += ", requires_grad";
  }
  std::ostringstream values;
  dispatch_any(t.dtype(), [&]<class T>() { values << t.value<T>(); });
  return header + ")\n" + values.str();
}

}  // namespace tg
