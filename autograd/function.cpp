#include "function.hpp"

#include <cxxabi.h>
#include <cstdlib>

namespace tg::detail {

std::string demangled_name(const std::type_info& type) {
  int status = 0;
  char* readable = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string result = status == 0 && readable ? readable : type.name();
  std::free(readable);
  return result;
}

}  // namespace tg::detail
