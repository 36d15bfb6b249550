// safetensors files: every input is read or refused with tg::Error; what is read writes back and
// reads again as the same tensors.
#include <cstdint>
#include <cstring>

#include <tapegrad.hpp>

#include "input_file.hpp"

namespace {

bool same(const tg::Tensor& a, const tg::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const std::size_t bytes = a.numel() * (a.dtype() == tg::DType::f32 ? 4 : 8);
  const void* pa = nullptr;
  const void* pb = nullptr;
  switch (a.dtype()) {
    case tg::DType::f32:
      pa = a.value<float>().data(), pb = b.value<float>().data();
      break;
    case tg::DType::f64:
      pa = a.value<double>().data(), pb = b.value<double>().data();
      break;
    case tg::DType::i64:
      pa = a.value<std::int64_t>().data(), pb = b.value<std::int64_t>().data();
      break;
  }
  return bytes == 0 || std::memcmp(pa, pb, bytes) == 0;  // bits: NaNs compare too
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tg::SafeTensors file;
  const auto path = tg::fuzz::input_file(data, size);
  try {
    file = tg::read_safetensors(path);
  } catch (const tg::Error&) {
    return 0;
  }
  const auto copy = std::filesystem::path(path.string() + ".again");
  tg::write_safetensors(copy, {file.tensors.begin(), file.tensors.end()}, file.metadata);
  const tg::SafeTensors again = tg::read_safetensors(copy);
  if (again.metadata != file.metadata || again.tensors.size() != file.tensors.size()) {
    tg::fuzz::violated("a file read and written back reads differently");
  }
  for (const auto& [name, tensor] : file.tensors) {
    if (!same(tensor, again.tensors.at(name))) tg::fuzz::violated("a tensor changed on rewrite");
  }
  return 0;
}
