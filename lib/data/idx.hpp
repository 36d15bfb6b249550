#pragma once
// The IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed:
//   bytes 0-1: 0, byte 2: element type (0x08 = unsigned byte), byte 3: number of dims,
//   then each dim as a big-endian uint32, then the elements in row-major order.
// Every deviation (bad magic, unsupported type, zero dims, truncated data, bytes after the
// data, corrupt gzip) throws tg::Error naming the file and the byte offset (in the
// decompressed stream).

#include <cstdint>
#include <filesystem>
#include <vector>

namespace tg::data {

struct IdxArray {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> values;  // row-major
};

// Reads an unsigned-byte IDX file (.gz or not: detected from the content).
IdxArray read_idx(const std::filesystem::path& path);

}  // namespace tg::data
