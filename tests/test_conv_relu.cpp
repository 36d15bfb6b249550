// conv2d_relu and nn::ConvReLU2d: the fused op gives relu(conv2d)'s bits and gradients on every
// convolution kernel, gradchecks in f64, and rejects bad input under its own name.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <tapegrad.hpp>

#include "../ops/kernels/column_weight_grad.hpp"
#include "support/fused.hpp"

namespace {

using tg::Tensor;

struct Layer {
  std::string name;
  tg::Shape input, weight;
  tg::Conv2dOptions options;
};

// Layers that reach each forward kernel: Winograd (3x3, many channels), the channel-vector
// kernel (LeNet-5's second layer: whole vectors of output channels, many taps), the shifted
// kernel (LeNet-5's first layer),
// im2col + GEMM (stride 2, dilation), and a batch of one (parallel inside the image).
const std::vector<Layer>& layers() {
  static const std::vector<Layer> all = {
      {"winograd", {3, 32, 12, 12}, {64, 32, 3, 3}, {}},
      {"channel vector", {3, 6, 14, 14}, {16, 6, 5, 5}, {}},
      {"shifted", {3, 1, 12, 12}, {6, 1, 5, 5}, {.padding = 2}},
      {"gemm", {2, 3, 11, 9}, {5, 3, 3, 2}, {.stride = 2, .padding = {1, 0}, .dilation = {1, 2}}},
      {"batch of one", {1, 4, 10, 10}, {8, 4, 3, 3}, {.padding = 1}},
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

  const Tensor fused = tg::test::check_same_bits<T>(
      [&](const std::vector<Tensor>& in) {
        return tg::conv2d_relu(in[0], in[1], in[2], layer.options);
      },
      [&](const std::vector<Tensor>& in) {
        return tg::relu(tg::conv2d(in[0], in[1], in[2], layer.options));
      },
      {x, w, b});
  // Some outputs are cut to zero and some pass, so both sides of the mask are exercised.
  const auto& y = fused.value<T>();
  CHECK(std::count(y.begin(), y.end(), T(0)) > 0);
  CHECK(std::count_if(y.begin(), y.end(), [](T v) { return v > T(0); }) > 0);
}

// The geometry of one image of a layer, as the convolution kernels take it.
tg::kernels::ConvGeometry geometry(const Layer& layer) {
  const Tensor y = tg::conv2d(tg::zeros(layer.input), tg::zeros(layer.weight), {}, layer.options);
  auto size = [](std::int64_t v) { return static_cast<std::size_t>(v); };
  return {.channels = layer.input[1],
          .height = layer.input[2],
          .width = layer.input[3],
          .kernel_h = layer.weight[2],
          .kernel_w = layer.weight[3],
          .stride_h = size(layer.options.stride.h),
          .stride_w = size(layer.options.stride.w),
          .pad_h = size(layer.options.padding.h),
          .pad_w = size(layer.options.padding.w),
          .dilation_h = size(layer.options.dilation.h),
          .dilation_w = size(layer.options.dilation.w),
          .out_h = y.shape()[2],
          .out_w = y.shape()[3]};
}

// conv2d_relu on an input that needs no gradient (a first layer) against relu(conv2d): the
// gradients of the weight and, if with_bias, the bias; a NaN in the input.
template <class T>
void check_first_layer(const Layer& layer, bool with_bias) {
  const auto dtype = std::is_same_v<T, float> ? tg::f32 : tg::f64;
  Tensor x = tg::randn(layer.input, {.dtype = dtype});
  x.value<T>()(0, 0, 1, 1) = std::numeric_limits<T>::quiet_NaN();
  const tg::TensorOptions learned{.dtype = dtype, .requires_grad = true};
  std::vector<Tensor> parameters{tg::randn(layer.weight, learned)};
  if (with_bias) parameters.push_back(tg::randn({layer.weight[0]}, learned));
  auto bias = [&](const std::vector<Tensor>& in) { return with_bias ? in[1] : Tensor{}; };
  tg::test::check_same_bits<T>(
      [&](const std::vector<Tensor>& in) {
        return tg::conv2d_relu(x, in[0], bias(in), layer.options);
      },
      [&](const std::vector<Tensor>& in) {
        return tg::relu(tg::conv2d(x, in[0], bias(in), layer.options));
      },
      parameters);
}

}  // namespace

// A first layer's weight and bias gradients mask grad_output with the ReLU as the column kernel
// reads it (ops/kernels/column_weight_grad.hpp), the masked delta never written; the other
// kernels, and a single output channel's bias gradient (sum_dims), read a masked copy. Each
// gives relu(conv2d)'s bits.
TEST_CASE("conv2d_relu's gradients for a first layer have relu(conv2d)'s bits", "[conv]") {
  tg::manual_seed(35);
  struct FirstLayer {
    Layer layer;
    bool column;  // whether the column kernel computes its weight gradient
  };
  const std::vector<FirstLayer> layers = {
      {{"column kernel (mnist_cnn's first layer)", {3, 1, 28, 28}, {32, 1, 3, 3}, {}}, true},
      // Chunks of 8 images (each takes all the channels in one call, its tiles' rows 16 channels
      // apart with a bias, 11 without on AVX-512) where a batch of 3 splits the channels across
      // threads.
      {{"column kernel, nine images", {9, 1, 28, 28}, {32, 1, 3, 3}, {}}, true},
      {{"column kernel, one output channel", {2, 1, 12, 12}, {1, 1, 1, 1}, {.padding = 1}}, true},
      {{"shifted kernel", {3, 1, 12, 12}, {6, 1, 5, 5}, {.padding = 2}}, false},
      {{"gemm", {2, 3, 11, 9}, {5, 3, 3, 2}, {.stride = 2, .padding = {1, 0}}}, false},
  };
  for (const auto& [layer, column] : layers) {
    const tg::kernels::ConvGeometry g = geometry(layer);
    REQUIRE(tg::kernels::column_weight_grad_applies<float>(g, layer.weight[0]) == column);
    REQUIRE(tg::kernels::column_weight_grad_applies<double>(g, layer.weight[0]) == column);
    for (const bool with_bias : {true, false}) {
      INFO(layer.name << (with_bias ? "" : ", no bias"));
      check_first_layer<float>(layer, with_bias);
      check_first_layer<double>(layer, with_bias);
    }
  }
}

TEST_CASE("conv2d_relu gives relu(conv2d)'s bits and gradients on every kernel", "[conv]") {
  tg::manual_seed(31);
  for (const Layer& layer : layers()) {
    for (const bool with_nan : {false, true}) {
      INFO(layer.name << (with_nan ? ", a NaN in the input" : ""));
      check_same_as_unfused<float>(layer, with_nan);
      check_same_as_unfused<double>(layer, with_nan);
    }
  }
}

TEST_CASE("conv2d_relu gradchecks in f64 on random shapes and options", "[conv]") {
  tg::manual_seed(32);
  tg::Generator gen(33);
  auto pick = [&](std::size_t lo, std::size_t hi) { return lo + gen.below(hi - lo + 1); };
  auto i64 = [](std::size_t v) { return static_cast<std::int64_t>(v); };
  for (int trial = 0; trial < 16; ++trial) {
    const std::size_t kh = pick(1, 3);
    const std::size_t kw = pick(1, 3);
    const tg::Conv2dOptions options{.stride = {i64(pick(1, 2)), i64(pick(1, 2))},
                                    .padding = {i64(pick(0, kh / 2)), i64(pick(0, kw / 2))},
                                    .dilation = {i64(pick(1, 2)), i64(pick(1, 2))}};
    const tg::Shape input{pick(1, 3), pick(1, 3), 2 * kh + pick(0, 3), 2 * kw + pick(0, 3)};
    const tg::Shape weight{pick(1, 4), input[1], kh, kw};
    INFO(fmt::format("trial {}: input [{}] weight [{}] stride ({},{}) padding ({},{})", trial,
                     fmt::join(input, ","), fmt::join(weight, ","), options.stride.h,
                     options.stride.w, options.padding.h, options.padding.w));
    const tg::TensorOptions f64{.dtype = tg::f64, .requires_grad = true};
    const bool bias = trial % 2 == 0;
    // Every fourth input needs no gradient, as a first layer's (the ReLU's mask then goes into
    // the weight gradient's kernel).
    const bool first_layer = trial % 4 == 1;
    auto result = tg::gradcheck(
        [options](const std::vector<Tensor>& in) {
          return tg::conv2d_relu(in[0], in[1], in[2], options);
        },
        {tg::randn(input, {.dtype = tg::f64, .requires_grad = !first_layer}),
         tg::randn(weight, f64), bias ? tg::randn({weight[0]}, f64) : Tensor{}},
        {.check_grad_grad = trial % 3 == 0});
    INFO(result.message);
    CHECK(result);
  }
  // A first layer whose weight gradient runs on the column kernel in f64 too.
  const Layer column{"column kernel", {2, 1, 6, 6}, {8, 1, 3, 3}, {}};
  REQUIRE(tg::kernels::column_weight_grad_applies<double>(geometry(column), 8));
  const tg::TensorOptions learned{.dtype = tg::f64, .requires_grad = true};
  auto result = tg::gradcheck(
      [](const std::vector<Tensor>& in) { return tg::conv2d_relu(in[0], in[1], in[2]); },
      {tg::randn(column.input, {.dtype = tg::f64}), tg::randn(column.weight, learned),
       tg::randn({8}, learned)});
  INFO(result.message);
  CHECK(result);
}

TEST_CASE("nn::ConvReLU2d is Conv2d followed by relu, with Conv2d's parameters", "[conv]") {
  tg::manual_seed(34);
  auto fused = std::make_shared<tg::nn::ConvReLU2d>(2, 3, 3, tg::Conv2dOptions{.padding = 1});
  tg::manual_seed(34);
  auto plain = std::make_shared<tg::nn::Conv2d>(2, 3, 3, tg::Conv2dOptions{.padding = 1});
  std::vector<std::string> fused_names;
  std::vector<std::string> plain_names;
  for (const auto& [name, p] : fused->named_parameters()) fused_names.push_back(name);
  for (const auto& [name, p] : plain->named_parameters()) plain_names.push_back(name);
  CHECK(fused_names == plain_names);
  Tensor x = tg::randn({2, 2, 6, 5});
  CHECK(tg::test::same_bits<float>((*fused)(x), tg::relu((*plain)(x))));
}

TEST_CASE("conv2d_relu and leaky_relu_backward reject bad input", "[conv]") {
  Tensor x = tg::zeros({2, 3, 8, 8});
  Tensor w = tg::zeros({4, 3, 3, 3});
  CHECK_THROWS_WITH(tg::conv2d_relu(x, tg::zeros({4, 2, 3, 3})),
                    "conv2d_relu: input has 3 channels but weight expects 2 (input [2,3,8,8], "
                    "weight [4,2,3,3])");
  CHECK_THROWS_WITH(tg::conv2d_relu(x, w, tg::zeros({3})), Catch::Contains("conv2d_relu") &&
                                                               Catch::Contains("bias") &&
                                                               Catch::Contains("[3]"));
  CHECK_THROWS_WITH(tg::conv2d_relu(x, w, {}, {.stride = 0}),
                    Catch::Contains("conv2d_relu") && Catch::Contains("stride"));
  CHECK_THROWS_WITH(tg::conv2d_relu(x.to(tg::f64), w),
                    Catch::Contains("conv2d_relu") && Catch::Contains("[2,3,8,8]"));
  CHECK_THROWS_WITH(tg::conv2d_relu(tg::zeros({3, 8, 8}), w),
                    Catch::Contains("conv2d_relu") && Catch::Contains("[3,8,8]"));

  CHECK_THROWS_WITH(
      tg::leaky_relu_backward(tg::zeros({2, 3}), tg::zeros({3, 2}), 0.0),
      Catch::Contains("relu_backward") && Catch::Contains("[2,3]") && Catch::Contains("[3,2]"));
  CHECK_THROWS_WITH(tg::leaky_relu_backward(tg::zeros({2}), tg::zeros({2}), std::nan("")),
                    Catch::Contains("leaky_relu_backward") && Catch::Contains("negative_slope"));
  CHECK_THROWS_AS(tg::leaky_relu_backward(tg::zeros({2}), tg::zeros({2}, {.dtype = tg::f64}), 0.0),
                  tg::Error);
}
