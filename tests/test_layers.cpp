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

TEST_CASE("BatchNorm2d trains on batch statistics and evaluates on its running ones",
          "[nn][layers]") {
  tg::manual_seed(9);
  tg::nn::BatchNorm2d bn(2, {.momentum = 0.5});
  Tensor x = tg::randn({4, 2, 3, 3}, {.dtype = tg::f32}) * 2.0 + 3.0;
  Tensor y = bn(x);
  // Training: per-channel mean 0 and variance 1 (weight 1, bias 0 at first).
  const Tensor mean = tg::mean(y, {0, 2, 3});
  REQUIRE(bool(xt::allclose(mean.value<float>(), xt::zeros<float>({2}), 1e-5, 1e-5)));
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);
  // running_mean = 0.5 * 0 + 0.5 * batch mean.
  const Tensor batch_mean = tg::mean(x, {0, 2, 3});
  REQUIRE(bool(xt::allclose(bn.running_mean.value<float>(), batch_mean.value<float>() * 0.5f)));
  bn.eval();
  Tensor z = bn(x);
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);  // evaluation counts nothing
  Tensor expected = tg::batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias);
  REQUIRE(bool(xt::allclose(z.value<float>(), expected.value<float>())));
  // A refused batch is not counted.
  bn.train();
  REQUIRE_THROWS_AS(bn(tg::randn({4, 3, 3, 3})), tg::Error);
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);
  REQUIRE_THROWS_WITH(bn(tg::randn({4, 2})), Catch::Contains("BatchNorm2d") &&
                                                 Catch::Contains("4-D") &&
                                                 Catch::Contains("[4,2]"));

  // Without running estimates, evaluation uses the batch's statistics (as PyTorch).
  tg::nn::BatchNorm2d untracked(2, {.affine = false, .track_running_stats = false});
  CHECK(untracked.parameters().empty());
  CHECK(untracked.buffers().empty());
  untracked.eval();
  Tensor u = untracked(x);
  REQUIRE(
      bool(xt::allclose(tg::mean(u, {0, 2, 3}).value<float>(), xt::zeros<float>({2}), 1e-5, 1e-5)));
  CHECK(untracked.describe() ==
        "BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
}

TEST_CASE("LayerNorm and the activation modules compute their functional ops", "[nn][layers]") {
  tg::manual_seed(10);
  Tensor x = tg::randn({3, 4, 5}, {.dtype = tg::f32});
  tg::nn::LayerNorm ln({4, 5});
  CHECK(ln.weight.shape() == tg::Shape{4, 5});
  ln.weight.value<float>().fill(2.0f);
  ln.weight.bump_version();
  REQUIRE(bool(xt::allclose(ln(x).value<float>(),
                            tg::layer_norm(x, {4, 5}, ln.weight, ln.bias).value<float>())));
  CHECK(ln.describe() == "LayerNorm((4, 5,), eps=1e-05, elementwise_affine=True)");
  REQUIRE_THROWS_AS(tg::nn::LayerNorm({}), tg::Error);
  REQUIRE_THROWS_AS(tg::nn::LayerNorm({4, 0}), tg::Error);
  auto same = [](const Tensor& a, const Tensor& b) {
    return bool(xt::all(xt::equal(a.value<float>(), b.value<float>())));
  };
  CHECK(same(tg::nn::GELU()(x), tg::gelu(x)));
  CHECK(same(tg::nn::GELU(tg::GeluApproximate::tanh)(x), tg::gelu(x, tg::GeluApproximate::tanh)));
  CHECK(same(tg::nn::SiLU()(x), tg::silu(x)));
  CHECK(same(tg::nn::ELU(0.5)(x), tg::elu(x, 0.5)));
  CHECK(same(tg::nn::Softplus(2.0, 10.0)(x), tg::softplus(x, 2.0, 10.0)));
  CHECK(same(tg::nn::LeakyReLU(0.2)(x), tg::leaky_relu(x, 0.2)));
  CHECK(same(tg::nn::Sigmoid()(x), tg::sigmoid(x)));
  CHECK(same(tg::nn::Tanh()(x), tg::tanh(x)));
  CHECK(same(tg::nn::ReLU()(x), tg::relu(x)));
  Tensor images = tg::randn({2, 3, 5, 5});
  CHECK(same(tg::nn::AdaptiveAvgPool2d(1)(images), tg::adaptive_avg_pool2d(images, 1)));
}
