#include "options.hpp"

#include <fmt/format.h>

namespace tg {

std::string to_string(const Size2& size) { return fmt::format("({}, {})", size.h, size.w); }

}  // namespace tg
