#pragma once
// MNIST-format datasets (MNIST, Fashion-MNIST): the four standard IDX files of a directory,
// with or without .gz:
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte t10k-labels-idx1-ubyte
// Examples are [1, rows, cols] floats in [0, 1] (byte / 255); labels 0-9.

#include <filesystem>
#include <string>
#include <vector>

#include "dataset.hpp"

namespace tg::data {

enum class Split { train, test };

class MNIST : public Dataset {
 public:
  MNIST(const std::filesystem::path& directory, Split split);

  std::size_t size() const override { return labels_.size(); }
  Shape example_shape() const override { return {1, rows_, cols_}; }
  std::int64_t get(std::size_t index, float* out) const override;

  // Keeps the first n examples only (as --limit N).
  void truncate(std::size_t n);

  // The path of `stem` in `directory`, raw or .gz; throws tg::Error saying how to fetch the
  // data if neither exists.
  static std::filesystem::path find_file(const std::filesystem::path& directory,
                                         const std::string& stem);

 private:
  std::vector<std::uint8_t> images_;
  std::vector<std::uint8_t> labels_;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
};

}  // namespace tg::data
