// conv2d_relu_max_pool2d and nn::ConvReLUMaxPool2d: the fused op gives max_pool2d(conv2d_relu)'s
// bits, argmax choices and gradients, pooled as Winograd stores or after any other kernel;
// gradchecks in f64; rejects bad input under its own name.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <tapegrad.hpp>

#include "support/fused.hpp"

namespace {

using tg::Tensor;

struct Layer {
  std::string name;
  tg::Shape input, weight;
  tg::Conv2dOptions conv;
  tg::MaxPool2dOptions pool;
};

// The 2x2 windows that Winograd pools as it stores (even and odd outputs: a last tile row and
// column past the windows), other windows on a Winograd layer, and 2x2 windows after the
// channel-vector, shifted and im2col + GEMM kernels and a batch of one.
const std::vector<Layer>& layers() {
  static const std::vector<Layer> all = {
      {"winograd, 2x2", {3, 32, 12, 12}, {64, 32, 3, 3}, {}, {.kernel = 2}},
      {"winograd, odd output", {2, 16, 13, 11}, {16, 16, 3, 3}, {}, {.kernel = 2}},
      {"winograd, padded", {2, 16, 9, 9}, {32, 16, 3, 3}, {.padding = 1}, {.kernel = 2}},
      {"winograd, 3x3 stride 2", {2, 16, 12, 12}, {16, 16, 3, 3}, {}, {.kernel = 3, .stride = 2}},
      {"winograd, 2x2 stride 1", {2, 16, 8, 8}, {16, 16, 3, 3}, {}, {.kernel = 2, .stride = 1}},
      {"winograd, padded window", {2, 16, 10, 10}, {16, 16, 3, 3}, {}, {.kernel = 2, .padding = 1}},
      {"channel vector", {3, 6, 14, 14}, {16, 6, 5, 5}, {}, {.kernel = 2}},
      {"shifted", {3, 1, 12, 12}, {6, 1, 5, 5}, {.padding = 2}, {.kernel = 2}},
      {"gemm",
       {2, 3, 11, 9},
       {5, 3, 3, 2},
       {.stride = 2, .padding = {1, 0}, .dilation = {1, 2}},
       {.kernel = 2}},
      {"batch of one", {1, 16, 10, 10}, {16, 16, 3, 3}, {.padding = 1}, {.kernel = 2}},
  };
  return all;
}

template <class T>
void check_same_as_unfused(const Layer& layer, bool with_nan) {
  const auto dtype = std::is_same_v<T, float> ? tg::f32 : tg::f64;
  const tg::TensorOptions options{.dtype = dtype, .requires_grad = true};
  Tensor x = tg::randn(layer.input, options);
  if (with_nan) x.value<T>()(0, 0, 1, 1) = std::numeric_limits<T>::quiet_NaN();
  Tensor w = tg::randn(layer.weight, options);
  Tensor b = tg::randn({layer.weight[0]}, options);

  // A gradient at every pooled value: through the argmax it lands where the window's maximum
  // was, so the input and weight gradients also check each window's choice.
  tg::test::check_same_bits<T>(
      [&](const std::vector<Tensor>& in) {
        return tg::conv2d_relu_max_pool2d(in[0], in[1], in[2], layer.conv, layer.pool);
      },
      [&](const std::vector<Tensor>& in) {
        return tg::max_pool2d(tg::conv2d_relu(in[0], in[1], in[2], layer.conv), layer.pool);
      },
      {x, w, b});
}

}  // namespace

TEST_CASE("conv2d_relu_max_pool2d gives max_pool2d(conv2d_relu)'s bits and gradients", "[conv]") {
  tg::manual_seed(41);
  for (const Layer& layer : layers()) {
    for (const bool with_nan : {false, true}) {
      INFO(layer.name << (with_nan ? ", a NaN in the input" : ""));
      check_same_as_unfused<float>(layer, with_nan);
      check_same_as_unfused<double>(layer, with_nan);
    }
  }
}

TEST_CASE("conv2d_relu_max_pool2d breaks ties as max_pool2d does", "[conv]") {
  // A zero weight makes every output its channel's bias, so each window holds four equal values:
  // positive ones (bias 1), or zeros from the relu (bias -1). The first of them must be the
  // argmax, and the weight's gradient, the sum of delta times the input under each argmax,
  // tells which one was taken.
  tg::manual_seed(42);
  const tg::TensorOptions options{.requires_grad = true};
  Tensor x = tg::randn({2, 16, 10, 10}, options);
  Tensor w = tg::zeros({16, 16, 3, 3}, options);
  Tensor b = tg::zeros({16}, options);
  for (std::size_t o = 0; o < 16; ++o) b.value<float>()(o) = o % 2 == 0 ? 1.0f : -1.0f;
  tg::test::check_same_bits<float>(
      [](const std::vector<Tensor>& in) {
        return tg::conv2d_relu_max_pool2d(in[0], in[1], in[2], {}, {.kernel = 2});
      },
      [](const std::vector<Tensor>& in) {
        return tg::max_pool2d(tg::conv2d_relu(in[0], in[1], in[2]), {.kernel = 2});
      },
      {x, w, b});
}

TEST_CASE("conv2d_relu_max_pool2d gradchecks in f64 on random shapes and options", "[conv]") {
  tg::manual_seed(43);
  tg::Generator gen(44);
  auto pick = [&](std::size_t lo, std::size_t hi) { return lo + gen.below(hi - lo + 1); };
  auto i64 = [](std::size_t v) { return static_cast<std::int64_t>(v); };
  for (int trial = 0; trial < 16; ++trial) {
    const std::size_t kh = pick(1, 3);
    const std::size_t kw = pick(1, 3);
    const tg::Conv2dOptions conv{.stride = {i64(pick(1, 2)), i64(pick(1, 2))},
                                 .padding = {i64(pick(0, kh / 2)), i64(pick(0, kw / 2))}};
    const std::size_t ph = pick(1, 3);
    const std::size_t pw = pick(1, 3);
    const tg::MaxPool2dOptions pool{.kernel = {i64(ph), i64(pw)},
                                    .stride = tg::Size2{i64(pick(1, 2)), i64(pick(1, 2))},
                                    .padding = {i64(pick(0, ph / 2)), i64(pick(0, pw / 2))}};
    // Large enough that the convolution's output holds a window.
    const tg::Shape input{pick(1, 2), pick(1, 3), 2 * (kh + ph) + pick(0, 3),
                          2 * (kw + pw) + pick(0, 3)};
    const tg::Shape weight{pick(1, 4), input[1], kh, kw};
    INFO(fmt::format("trial {}: input [{}] weight [{}] pool {}x{}", trial, fmt::join(input, ","),
                     fmt::join(weight, ","), ph, pw));
    const tg::TensorOptions f64{.dtype = tg::f64, .requires_grad = true};
    const bool bias = trial % 2 == 0;
    auto result = tg::gradcheck(
        [conv, pool](const std::vector<Tensor>& in) {
          return tg::conv2d_relu_max_pool2d(in[0], in[1], in[2], conv, pool);
        },
        {tg::randn(input, f64), tg::randn(weight, f64),
         bias ? tg::randn({weight[0]}, f64) : Tensor{}},
        {.check_grad_grad = trial % 3 == 0});
    INFO(result.message);
    CHECK(result);
  }
}

TEST_CASE("nn::ConvReLUMaxPool2d is Conv2d, relu and max_pool2d, with Conv2d's parameters",
          "[conv]") {
  tg::manual_seed(45);
  auto fused = std::make_shared<tg::nn::ConvReLUMaxPool2d>(
      16, 16, 3, tg::MaxPool2dOptions{.kernel = 2}, tg::Conv2dOptions{.padding = 1});
  tg::manual_seed(45);
  auto plain = std::make_shared<tg::nn::Conv2d>(16, 16, 3, tg::Conv2dOptions{.padding = 1});
  std::vector<std::string> fused_names;
  std::vector<std::string> plain_names;
  for (const auto& [name, p] : fused->named_parameters()) fused_names.push_back(name);
  for (const auto& [name, p] : plain->named_parameters()) plain_names.push_back(name);
  CHECK(fused_names == plain_names);
  Tensor x = tg::randn({2, 16, 8, 8});
  CHECK(tg::test::same_bits<float>((*fused)(x),
                                   tg::max_pool2d(tg::relu((*plain)(x)), {.kernel = 2})));
}

TEST_CASE("conv2d_relu_max_pool2d rejects bad input", "[conv]") {
  Tensor x = tg::zeros({2, 3, 8, 8});
  Tensor w = tg::zeros({4, 3, 3, 3});
  CHECK_THROWS_WITH(tg::conv2d_relu_max_pool2d(x, tg::zeros({4, 2, 3, 3}), {}, {}, {.kernel = 2}),
                    "conv2d_relu_max_pool2d: input has 3 channels but weight expects 2 (input "
                    "[2,3,8,8], weight [4,2,3,3])");
  CHECK_THROWS_WITH(tg::conv2d_relu_max_pool2d(x, w, tg::zeros({3}), {}, {.kernel = 2}),
                    Catch::Contains("conv2d_relu_max_pool2d") && Catch::Contains("bias") &&
                        Catch::Contains("[3]"));
  CHECK_THROWS_WITH(tg::conv2d_relu_max_pool2d(x.to(tg::f64), w, {}, {}, {.kernel = 2}),
                    Catch::Contains("conv2d_relu_max_pool2d") && Catch::Contains("[2,3,8,8]"));
  // The window is checked against the convolution's output, 6x6 here.
  CHECK_THROWS_WITH(tg::conv2d_relu_max_pool2d(x, w, {}, {}, {.kernel = 7}),
                    Catch::Contains("conv2d_relu_max_pool2d") && Catch::Contains("[2,4,6,6]") &&
                        Catch::Contains("kernel"));
  CHECK_THROWS_WITH(tg::conv2d_relu_max_pool2d(x, w, {}, {}, {.kernel = 2, .padding = 2}),
                    Catch::Contains("conv2d_relu_max_pool2d") && Catch::Contains("padding"));
  CHECK_THROWS_WITH(tg::conv2d_relu_max_pool2d(x, w, {}, {.stride = 0}, {.kernel = 2}),
                    Catch::Contains("conv2d_relu_max_pool2d") && Catch::Contains("stride"));
  CHECK_THROWS_WITH(tg::conv2d_relu_max_pool2d(x, w, {}, {}, {.kernel = 0}),
                    Catch::Contains("conv2d_relu_max_pool2d") && Catch::Contains("kernel"));
}
