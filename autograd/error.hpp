#pragma once
// tg::Error: the one exception type tapegrad throws for bad calls and bad files.
// Messages name the op (or file), the shapes or values involved and what was expected, e.g.
// "conv2d: input has 3 channels but weight expects 1 (input [64,3,28,28], weight [6,1,5,5])".

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace tg {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// `message` prefixed by the op the user called and ": ", unless it names that op already or no
// op is running (op_context.hpp).
std::string in_op_context(std::string message);
}  // namespace detail

// Throws tg::Error with a fmt-formatted message, in the context of the op the user called.
template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(detail::in_op_context(fmt::format(format, std::forward<Args>(args)...)));
}

}  // namespace tg
