#pragma once
// Writes IDX files (raw or gzip) for the data tests.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <zlib.h>

namespace tg::test {

inline std::string idx_bytes(const std::vector<std::uint32_t>& dims,
                             const std::vector<std::uint8_t>& values) {
  std::string bytes{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  bytes.append(values.begin(), values.end());
  return bytes;
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void write_gzip(const std::filesystem::path& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

// A small MNIST-format directory: `count` 28x28 images whose pixel p of image i is
// (i + p) % 256, labels i % 10.
inline void write_mnist_dir(const std::filesystem::path& dir, const std::string& prefix,
                            std::uint32_t count, bool gzip) {
  std::vector<std::uint8_t> images(count * 28 * 28);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t p = 0; p < 28 * 28; ++p)
      images[i * 784 + p] = static_cast<std::uint8_t>((i + p) % 256);
  }
  std::vector<std::uint8_t> labels(count);
  for (std::size_t i = 0; i < count; ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  const std::string suffix = gzip ? ".gz" : "";
  auto write = gzip ? write_gzip : write_file;
  write(dir / (prefix + "-images-idx3-ubyte" + suffix), idx_bytes({count, 28, 28}, images));
  write(dir / (prefix + "-labels-idx1-ubyte" + suffix), idx_bytes({count}, labels));
}

}  // namespace tg::test
