// The column forward kernel (ops/kernels/column_forward.hpp), which writes each class of
// equally misaligned output planes in aligned vectors with partial first and last ones: its
// output at every misalignment of the output pointer, against direct loops in double and, bit for
// bit, against the shifted kernel (the same register tiles, summing the taps in the same order);
// the values around the output untouched; and a batch of one split across two threads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <tapegrad.hpp>

#include "../ops/kernels/column_forward.hpp"
#include "../ops/kernels/shifted_conv.hpp"

namespace {

using tg::kernels::Activation;
using tg::kernels::ConvGeometry;

ConvGeometry layer(std::size_t height, std::size_t width, std::size_t kernel_h,
                   std::size_t kernel_w, std::size_t pad, std::size_t dilation) {
  auto out = [&](std::size_t size, std::size_t k) { return size + 2 * pad - dilation * (k - 1); };
  return {.channels = 1,
          .height = height,
          .width = width,
          .kernel_h = kernel_h,
          .kernel_w = kernel_w,
          .pad_h = pad,
          .pad_w = pad,
          .dilation_h = dilation,
          .dilation_w = dilation,
          .out_h = out(height, kernel_h),
          .out_w = out(width, kernel_w)};
}

std::string describe(const ConvGeometry& g, std::size_t out_channels) {
  return fmt::format("{}x{} image, {}x{} kernel, padding {}, dilation {}, {} output channels",
                     g.height, g.width, g.kernel_h, g.kernel_w, g.pad_h, g.dilation_h,
                     out_channels);
}

// out[o, y, x] = activation(bias[o] + the sum over taps (m, k) of w[o, m, k] *
// image[y + m d - pad, x + k d - pad]), in double.
template <class T>
std::vector<double> direct_loops(const ConvGeometry& g, std::size_t out_channels, const T* image,
                                 const T* weight, const T* bias, Activation activation) {
  std::vector<double> out(out_channels * g.out_h * g.out_w);
  for (std::size_t o = 0; o < out_channels; ++o) {
    for (std::size_t y = 0; y < g.out_h; ++y) {
      for (std::size_t x = 0; x < g.out_w; ++x) {
        double sum = bias != nullptr ? double(bias[o]) : 0.0;
        for (std::size_t m = 0; m < g.kernel_h; ++m) {
          for (std::size_t k = 0; k < g.kernel_w; ++k) {
            const std::size_t iy = y + m * g.dilation_h;  // in the padded image
            const std::size_t ix = x + k * g.dilation_w;
            if (iy < g.pad_h || iy >= g.pad_h + g.height || ix < g.pad_w ||
                ix >= g.pad_w + g.width) {
              continue;
            }
            sum += double(weight[(o * g.kernel_h + m) * g.kernel_w + k]) *
                   double(image[(iy - g.pad_h) * g.width + ix - g.pad_w]);
          }
        }
        out[(o * g.out_h + y) * g.out_w + x] =
            activation == Activation::relu ? std::max(sum, 0.0) : sum;
      }
    }
  }
  return out;
}

// Whether `values` are the direct loops' within a few roundings of T (the operands are in
// [-1, 1], at most 9 taps and a bias: sums below 10).
template <class T>
bool near(const std::vector<T>& values, const std::vector<double>& expected) {
  const double tolerance = 64 * double(std::numeric_limits<T>::epsilon());
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::abs(double(values[i]) - expected[i]) > tolerance) return false;
  }
  return values.size() == expected.size();
}

template <class T>
std::vector<T> random_values(tg::Generator& gen, std::size_t n) {
  std::vector<T> values(n);
  for (T& v : values) v = static_cast<T>(gen.below(2001)) / T(1000) - T(1);
  return values;
}

// ColumnForward's output written at each offset of a buffer (every misalignment of a vector),
// checked bit for bit against the shifted kernel's (itself checked against the direct loops),
// with the guard values on both sides of it left as they were.
template <class T>
void check_layer(tg::Generator& gen, const ConvGeometry& g, std::size_t out_channels) {
  INFO(describe(g, out_channels));
  REQUIRE(tg::kernels::column_forward_applies<T>(g, out_channels));
  const std::vector<T> image = random_values<T>(gen, g.image_size());
  const std::vector<T> weight = random_values<T>(gen, out_channels * g.col_rows());
  const std::vector<T> bias = random_values<T>(gen, out_channels);
  const std::size_t size = out_channels * g.col_cols();
  const tg::kernels::ColumnForward<T> columns(g, out_channels, weight.data());
  const tg::kernels::ShiftedForward<T> shifted(g, out_channels, weight.data());
  constexpr std::size_t guard = 64;
  constexpr T sentinel = T(-1234.5);
  for (const Activation activation : {Activation::none, Activation::relu}) {
    for (const bool with_bias : {true, false}) {
      const T* b = with_bias ? bias.data() : nullptr;
      INFO("relu " << (activation == Activation::relu) << ", bias " << with_bias);
      std::vector<T> expected(size);
      shifted.run(image.data(), b, expected.data(), false, activation);
      CHECK(near(expected,
                 direct_loops(g, out_channels, image.data(), weight.data(), b, activation)));
      for (std::size_t offset = 0; offset < 16; ++offset) {
        INFO("output at offset " << offset);
        std::vector<T> buffer(guard + offset + size + guard, sentinel);
        columns.run(image.data(), b, buffer.data() + guard + offset, false, activation);
        const auto out = buffer.begin() + static_cast<std::ptrdiff_t>(guard + offset);
        CHECK(std::vector<T>(out, out + static_cast<std::ptrdiff_t>(size)) == expected);
        CHECK(std::all_of(buffer.begin(), out, [&](T v) { return v == sentinel; }));
        CHECK(std::all_of(out + static_cast<std::ptrdiff_t>(size), buffer.end(),
                          [&](T v) { return v == sentinel; }));
      }
      std::vector<T> two_threads(size);
      tg::set_num_threads(2);
      columns.run(image.data(), b, two_threads.data(), true, activation);
      tg::set_num_threads(0);
      CHECK(two_threads == expected);
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("conv2d's column forward has the shifted kernel's bits at every alignment",
                   "[conv]", float, double) {
  tg::Generator gen(4242);
  // mnist_cnn's first layer: planes of 26x26 = 676 values, 16 bytes apart from a cache line in
  // three of four, its 32 channels four classes of 8 (float) or two of 16 (double).
  check_layer<TestType>(gen, layer(28, 28, 3, 3, 0, 1), 32);
  // Planes of 28x28 = 784: whole vectors, one class.
  check_layer<TestType>(gen, layer(30, 30, 3, 3, 0, 1), 24);
  // 26x26 planes but too few channels to fill a tile per class: in order, unaligned.
  check_layer<TestType>(gen, layer(28, 28, 3, 3, 0, 1), 14);
  // Planes of an odd size (15x13): sixteen classes in float.
  check_layer<TestType>(gen, layer(17, 15, 3, 3, 0, 1), 40);
  auto pick = [&](std::size_t lo, std::size_t hi) { return lo + gen.below(hi - lo + 1); };
  std::size_t ran = 0;
  for (int trial = 0; trial < 12; ++trial) {
    const std::size_t kernel_h = pick(1, 3);
    const std::size_t kernel_w = pick(1, 3);
    const std::size_t dilation = pick(1, 2);
    auto span = [&](std::size_t k) { return dilation * (k - 1) + 1; };
    const ConvGeometry g = layer(span(kernel_h) + pick(3, 20), span(kernel_w) + pick(3, 20),
                                 kernel_h, kernel_w, pick(0, 1), dilation);
    // Enough channels for the copy to be at most a quarter of the output, mostly.
    const std::size_t channels = pick(4 * kernel_w, 48);
    if (!tg::kernels::column_forward_applies<TestType>(g, channels)) continue;
    check_layer<TestType>(gen, g, channels);
    ++ran;
  }
  CHECK(ran >= 8);
}
