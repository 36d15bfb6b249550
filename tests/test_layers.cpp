#include <catch2/catch.hpp>

#include <cmath>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

using tg::Tensor;

TEST_CASE("Conv2d and Linear have PyTorch's shapes and default init bounds", "[nn][layers]") {
  tg::manual_seed(2);
  tg::nn::Conv2d conv(3, 8, {5, 3}, {.padding = 1});
  CHECK(conv.weight.shape() == tg::Shape{8, 3, 5, 3});
  CHECK(conv.bias.shape() == tg::Shape{8});
  const float conv_bound = 1.0f / std::sqrt(3.0f * 5 * 3);
  CHECK(xt::amax(xt::abs(conv.weight.value<float>()))() <= conv_bound);
  CHECK(xt::amax(xt::abs(conv.bias.value<float>()))() <= conv_bound);
  // Uniform over [-bound, bound]: its standard deviation is bound / sqrt(3).
  CHECK(xt::stddev(conv.weight.value<float>())() ==
        Approx(conv_bound / std::sqrt(3.0f)).epsilon(0.15));

  tg::nn::Linear linear(400, 120);
  CHECK(linear.weight.shape() == tg::Shape{120, 400});
  CHECK(xt::amax(xt::abs(linear.weight.value<float>()))() <= 1.0f / 20.0f);
  CHECK(xt::amax(xt::abs(linear.weight.value<float>()))() > 0.9f / 20.0f);
  tg::nn::Linear no_bias(4, 2, false);
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.parameters().size() == 1);
}

TEST_CASE("initialisation is reproducible from tg::manual_seed", "[nn][layers]") {
  tg::manual_seed(9);
  tg::nn::Linear a(10, 5);
  tg::manual_seed(9);
  tg::nn::Linear b(10, 5);
  REQUIRE(bool(xt::all(xt::equal(a.weight.value<float>(), b.weight.value<float>()))));
}

TEST_CASE("layers compute what their functional ops compute", "[nn][layers]") {
  tg::manual_seed(3);
  Tensor x = tg::randn({2, 3, 8, 8});
  tg::nn::Conv2d conv(3, 4, 3, {.stride = 2});
  REQUIRE(bool(xt::allclose(conv(x).value<float>(),
                            tg::conv2d(x, conv.weight, conv.bias, {.stride = 2}).value<float>())));
  CHECK(tg::nn::MaxPool2d({.kernel = 2})(x).shape() == tg::Shape{2, 3, 4, 4});
  CHECK(tg::nn::AvgPool2d({.kernel = 4, .stride = 2})(x).shape() == tg::Shape{2, 3, 3, 3});
  CHECK(tg::nn::Flatten()(x).shape() == tg::Shape{2, 192});
  CHECK(xt::amin(tg::nn::ReLU()(x).value<float>())() >= 0.0f);
}

TEST_CASE("Dropout is active in training only", "[nn][layers]") {
  tg::manual_seed(4);
  Tensor x = tg::ones({1000});
  tg::nn::Dropout dropout(0.5);
  const auto zeros = xt::sum(xt::equal(dropout(x).value<float>(), 0.0f))();
  CHECK(zeros > 400);
  CHECK(zeros < 600);
  dropout.eval();
  REQUIRE(bool(xt::all(xt::equal(dropout(x).value<float>(), 1.0f))));
  CHECK_THROWS_WITH(tg::nn::Dropout(1.5), Catch::Contains("Dropout") && Catch::Contains("1.5"));
}

TEST_CASE("layer constructors reject non-positive sizes", "[nn][layers][errors]") {
  CHECK_THROWS_WITH(tg::nn::Conv2d(0, 4, 3),
                    Catch::Contains("Conv2d") && Catch::Contains("in_channels"));
  CHECK_THROWS_WITH(tg::nn::Conv2d(1, 4, {3, 0}), Catch::Contains("kernel width"));
  CHECK_THROWS_WITH(tg::nn::Linear(4, -1),
                    Catch::Contains("Linear") && Catch::Contains("out_features"));
}
