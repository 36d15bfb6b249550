// The option contract: every field of every options struct takes an int or {h, w}. The
// static_asserts are the test: a spelling that stopped compiling breaks the build.
#include <catch2/catch.hpp>

#include <tapegrad.hpp>

namespace {

using tg::Size2;

// Conv2dOptions: stride, padding, dilation.
static_assert(tg::Conv2dOptions{.stride = 2}.stride == Size2{2, 2});
static_assert(tg::Conv2dOptions{.stride = {2, 1}}.stride == Size2{2, 1});
static_assert(tg::Conv2dOptions{.padding = 3}.padding == Size2{3, 3});
static_assert(tg::Conv2dOptions{.padding = {0, 3}}.padding == Size2{0, 3});
static_assert(tg::Conv2dOptions{.dilation = 2}.dilation == Size2{2, 2});
static_assert(tg::Conv2dOptions{.dilation = {1, 2}}.dilation == Size2{1, 2});
static_assert(tg::Conv2dOptions{.stride = {2, 1}, .padding = 1, .dilation = {3, 2}}.padding ==
              Size2{1, 1});

// MaxPool2dOptions: kernel, stride (defaults to the kernel), padding.
static_assert(tg::MaxPool2dOptions{.kernel = 2}.kernel == Size2{2, 2});
static_assert(tg::MaxPool2dOptions{.kernel = {3, 2}}.kernel == Size2{3, 2});
static_assert(tg::MaxPool2dOptions{.kernel = 2, .stride = 1}.stride.value_or(0) == Size2{1, 1});
static_assert(tg::MaxPool2dOptions{.kernel = 2, .stride = {2, 1}}.stride.value_or(0) ==
              Size2{2, 1});
static_assert(!tg::MaxPool2dOptions{.kernel = {3, 2}}.stride.has_value());
static_assert(tg::MaxPool2dOptions{.kernel = 2, .padding = 1}.padding == Size2{1, 1});
static_assert(tg::MaxPool2dOptions{.kernel = 2, .padding = {1, 0}}.padding == Size2{1, 0});

// AvgPool2dOptions: kernel, stride (defaults to the kernel), padding.
static_assert(tg::AvgPool2dOptions{.kernel = 2}.kernel == Size2{2, 2});
static_assert(tg::AvgPool2dOptions{.kernel = {3, 2}}.kernel == Size2{3, 2});
static_assert(tg::AvgPool2dOptions{.kernel = 2, .stride = 1}.stride.value_or(0) == Size2{1, 1});
static_assert(tg::AvgPool2dOptions{.kernel = 2, .stride = {2, 1}}.stride.value_or(0) ==
              Size2{2, 1});
static_assert(!tg::AvgPool2dOptions{.kernel = {3, 2}}.stride.has_value());
static_assert(tg::AvgPool2dOptions{.kernel = 2, .padding = 1}.padding == Size2{1, 1});
static_assert(tg::AvgPool2dOptions{.kernel = 2, .padding = {1, 0}}.padding == Size2{1, 0});

// Options passed by value among other arguments, as to nn::Conv2d's constructor.
[[gnu::noinline]] Size2 padding_of(std::int64_t, Size2, tg::Conv2dOptions options, bool) {
  return options.padding;
}

}  // namespace

TEST_CASE("options built at run time keep the fields that were left out", "[options]") {
  // GCC 12.2 storing 256 bits by pieces built {.stride = 2} as stride (2, 2), padding (2, 2): the
  // splat of the low half filled the whole 256-bit constant. cmake/tapegrad_options.cmake avoids
  // it.
  CHECK(padding_of(3, 3, {.stride = 2}, true) == Size2{0, 0});
  CHECK(padding_of(3, 3, {.dilation = 3}, true) == Size2{0, 0});
  CHECK(tg::nn::Conv2d(3, 4, 3, {.stride = 2}).options.padding == Size2{0, 0});
  CHECK(tg::nn::Conv2d(1, 6, 5, {.padding = 2}).options.stride == Size2{1, 1});
  // With AVX-512 left out, an Intel tuning (256-bit stores by pieces) still did it here.
  const tg::nn::Conv2d conv(3, 4, 3, {.stride = 2});
  CHECK(conv.options.padding == Size2{0, 0});
}

TEST_CASE("both spellings reach the ops", "[options]") {
  const tg::Tensor x = tg::zeros({1, 1, 6, 5});
  CHECK(tg::max_pool2d(x, {.kernel = {2, 2}, .stride = {2, 1}}).shape() == tg::Shape{1, 1, 3, 4});
  CHECK(tg::max_pool2d(x, {.kernel = {3, 2}}).shape() == tg::Shape{1, 1, 2, 2});
  CHECK(tg::avg_pool2d(x, {.kernel = 2, .stride = {1, 3}, .padding = {1, 0}}).shape() ==
        tg::Shape{1, 1, 7, 2});
  const tg::Tensor w = tg::zeros({1, 1, 3, 3});
  CHECK(tg::conv2d(x, w, {}, {.stride = {2, 1}, .padding = {1, 0}}).shape() ==
        tg::Shape{1, 1, 3, 3});
}

TEST_CASE("a Size2 prints as (h, w)", "[options]") {
  CHECK(tg::to_string(Size2{2, 1}) == "(2, 1)");
  CHECK(tg::to_string(Size2(3)) == "(3, 3)");
}
