#pragma once
// The readers under fuzzing take paths: each input is written to a file of this process's own
// (in the system's temporary directory), replaced at every call.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace tg::fuzz {

inline std::filesystem::path input_file(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("tapegrad-fuzz-" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Stops the fuzzer with a finding: libFuzzer reports an abort as a crash and saves the input.
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "fuzz: invariant violated: %s\n", what);
  std::abort();
}

}  // namespace tg::fuzz
