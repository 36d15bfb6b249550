#include "op_context.hpp"

#include "error.hpp"

namespace tg {
namespace detail {
namespace {

struct Outermost {
  std::string_view name;
  std::string_view suffix;
  bool set = false;
};

thread_local Outermost outermost;

}  // namespace

OpContext::OpContext(std::string_view name, std::string_view suffix) noexcept
    : outermost_(!outermost.set) {
  if (outermost_) outermost = {name, suffix, true};
}

OpContext::~OpContext() {
  if (outermost_) outermost = {};
}

std::string current_op() {
  if (!outermost.set) return {};
  std::string name(outermost.name);
  name += outermost.suffix;
  return name;
}

std::string in_op_context(std::string message) {
  const std::string op = current_op();
  if (op.empty() || (message.starts_with(op) && message.compare(op.size(), 2, ": ") == 0)) {
    return message;
  }
  return op + ": " + message;
}

}  // namespace detail
}  // namespace tg
