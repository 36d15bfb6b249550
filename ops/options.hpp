#pragma once
// Option structs of the spatial ops. Each field takes an int or {h, w}:
//   tg::conv2d(x, w, b, {.stride = 2, .padding = {1, 2}});
//   tg::max_pool2d(x, {.kernel = 2});          // stride defaults to the kernel size

#include <cstdint>
#include <optional>

namespace tg {

struct Size2 {
  std::int64_t h = 0;
  std::int64_t w = 0;
  Size2(std::int64_t both) : h(both), w(both) {}  // NOLINT: implicit by design, "= 2"
  Size2(std::int64_t height, std::int64_t width) : h(height), w(width) {}
  bool operator==(const Size2&) const = default;
};

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
};

struct MaxPool2dOptions {
  Size2 kernel = 1;
  std::optional<Size2> stride;  // defaults to kernel
  Size2 padding = 0;            // implicit -inf padding, at most half the kernel
};

struct AvgPool2dOptions {
  Size2 kernel = 1;
  std::optional<Size2> stride;    // defaults to kernel
  Size2 padding = 0;              // zero padding, at most half the kernel
  bool count_include_pad = true;  // divide by the whole window, padding included (PyTorch)
};

}  // namespace tg
