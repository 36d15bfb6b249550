#pragma once
// Option structs of the spatial ops. Every field takes an int or {h, w}:
//   tg::conv2d(x, w, b, {.stride = 2, .padding = {1, 2}});
//   tg::max_pool2d(x, {.kernel = {3, 2}, .stride = {2, 1}});   // stride defaults to the kernel

#include <cstdint>
#include <optional>
#include <string>

// GCC before 12.3 miscompiles some constants when it moves and stores 256 bits at a time by
// pieces (AVX-512, or an Intel tuning since Ice Lake): {2, 2, 0, 0} becomes {2, 2, 2, 2}, so that
// Conv2dOptions{.stride = 2} gets padding 2 (seen with Debian 12's GCC 12.2 on a Zen 5 and on an
// Intel Xeon). tapegrad's own build compiles with -mmove-max=128 -mstore-max=128 and leaves
// AVX-512 out with such a compiler (cmake/tapegrad_options.cmake); code built with it must
// avoid the bug too.
#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__) && \
    (__GNUC__ < 12 || (__GNUC__ == 12 && __GNUC_MINOR__ < 3))
#warning "GCC < 12.3 miscompiles option structs here: add -mmove-max=128 -mstore-max=128"
#endif

namespace tg {

struct Size2 {
  std::int64_t h = 0;
  std::int64_t w = 0;
  constexpr Size2(std::int64_t both) : h(both), w(both) {}  // NOLINT: implicit by design, "= 2"
  constexpr Size2(std::int64_t height, std::int64_t width) : h(height), w(width) {}
  constexpr bool operator==(const Size2&) const = default;
};

// "(2, 1)": the form error messages use.
std::string to_string(const Size2& size);

// A Size2 that may be left out (a pool's stride, which then takes the kernel's value). It is a
// type of its own because std::optional<Size2> cannot be initialised from a braced {h, w}.
class OptionalSize2 {
 public:
  constexpr OptionalSize2() = default;                                 // left out
  constexpr OptionalSize2(std::int64_t both) : value_(Size2(both)) {}  // NOLINT: as Size2
  constexpr OptionalSize2(std::int64_t height, std::int64_t width) : value_(Size2(height, width)) {}
  constexpr OptionalSize2(Size2 size) : value_(size) {}  // NOLINT: as Size2
  constexpr bool has_value() const { return value_.has_value(); }
  constexpr explicit operator bool() const { return has_value(); }
  constexpr Size2 value_or(Size2 fallback) const { return value_.value_or(fallback); }
  constexpr void reset() { value_.reset(); }
  constexpr bool operator==(const OptionalSize2&) const = default;

 private:
  std::optional<Size2> value_;
};

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  // Input and output channels in `groups` groups, each convolved with its own slice of the
  // weight [C_out, C_in / groups, kH, kW]; groups = C_in = C_out is a depthwise convolution.
  std::int64_t groups = 1;
};

struct MaxPool2dOptions {
  Size2 kernel = 1;
  OptionalSize2 stride;    // defaults to kernel
  Size2 padding = 0;       // implicit -inf padding, at most half the kernel
  Size2 dilation = 1;      // spacing between the window's taps
  bool ceil_mode = false;  // round the output size up: a last, partial window (as PyTorch)
};

struct AvgPool2dOptions {
  Size2 kernel = 1;
  OptionalSize2 stride;           // defaults to kernel
  Size2 padding = 0;              // zero padding, at most half the kernel
  bool count_include_pad = true;  // divide by the whole window, padding included (PyTorch)
};

}  // namespace tg
