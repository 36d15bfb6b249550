#pragma once
// The safetensors file format (https://github.com/huggingface/safetensors):
//   8 bytes: N, the header length (little-endian u64)
//   N bytes: JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                  "__metadata__": {"key": "string value", ...}}
//   then the raw little-endian data, offsets relative to its start, contiguous, no holes.
// Files are written to a temporary file that is renamed into place: a crash never leaves a
// half-written file under `path`, and the next write removes what a killed writer left. Reading
// validates everything and throws tg::Error with the path and the offending key or byte offset.

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../autograd/tensor.hpp"

namespace tg {

struct SafeTensors {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
SafeTensors read_safetensors(const std::filesystem::path& path);

// Fails with tg::Error unless a file can be written as `path` (its directory exists and takes a
// new file), by creating one beside it and removing it: a program checks where it will save
// before it trains, not after. Like every write, it also removes the temporary files that
// writers killed before their rename left beside `path`.
void check_writable(const std::filesystem::path& path);

}  // namespace tg
