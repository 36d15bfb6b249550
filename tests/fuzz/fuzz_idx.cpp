// IDX files (raw or gzip): every input is read or refused with tg::Error; what is read holds as
// many values as its dims say.
#include <cstdint>

#include <tapegrad.hpp>

#include "input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tg::data::IdxArray array = tg::data::read_idx(tg::fuzz::input_file(data, size));
    std::size_t count = 1;
    for (std::size_t d : array.dims) count *= d;
    if (array.dims.empty() || count != array.values.size()) {
      tg::fuzz::violated("the values do not fill the dims");
    }
  } catch (const tg::Error&) {
  }
  return 0;
}
