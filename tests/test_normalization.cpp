#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/arrays.hpp"
#include "support/random.hpp"

using tg::Tensor;
using tg::test::randn64;
using tg::test::uniform_int;

namespace {

xt::xarray<double> values_of(const Tensor& t) { return t.value<double>(); }

}  // namespace

TEST_CASE("batch_norm normalises each channel by hand-derived values", "[normalization]") {
  // Channel 0 holds 1, 3, 5, 7: mean 4, biased variance (9 + 1 + 1 + 9) / 4 = 5, unbiased 20/3.
  // Channel 1 holds 2, 2, 2, 6: mean 3, biased variance (1 + 1 + 1 + 9) / 4 = 3, unbiased 4.
  Tensor x = tg::tensor(xt::xarray<double>{{{1, 3}, {2, 2}}, {{5, 7}, {2, 6}}});
  Tensor running_mean = tg::zeros({2}, {.dtype = tg::f64});
  Tensor running_var = tg::ones({2}, {.dtype = tg::f64});
  Tensor weight = tg::tensor(xt::xarray<double>{2.0, 1.0});
  Tensor bias = tg::tensor(xt::xarray<double>{0.5, -1.0});
  const std::uint64_t version = running_mean.version();
  Tensor y = tg::batch_norm(x, running_mean, running_var, weight, bias,
                            {.training = true, .momentum = 0.25, .eps = 0.0});
  const double s0 = 1.0 / std::sqrt(5.0);
  const double s1 = 1.0 / std::sqrt(3.0);
  const xt::xarray<double> expected{
      {{2 * -3 * s0 + 0.5, 2 * -1 * s0 + 0.5}, {-1 * s1 - 1, -1 * s1 - 1}},
      {{2 * 1 * s0 + 0.5, 2 * 3 * s0 + 0.5}, {-1 * s1 - 1, 3 * s1 - 1}}};
  REQUIRE(bool(xt::allclose(values_of(y), expected)));
  // running <- 0.75 running + 0.25 batch, the variance unbiased.
  REQUIRE(bool(xt::allclose(values_of(running_mean), xt::xarray<double>{1.0, 0.75})));
  REQUIRE(bool(xt::allclose(values_of(running_var),
                            xt::xarray<double>{0.75 + 0.25 * 20.0 / 3.0, 0.75 + 0.25 * 4.0})));
  CHECK(running_mean.version() > version);

  // Evaluation uses the running estimates: (x - 1) / sqrt(0.75 + 5/3 + eps) * 2 + 0.5 for channel
  // 0.
  Tensor z = tg::batch_norm(x, running_mean, running_var, weight, bias, {.eps = 1e-5});
  const double e0 = 2.0 / std::sqrt(0.75 + 5.0 / 3.0 + 1e-5);
  CHECK(z.value<double>()(1, 0, 1) == Approx((7.0 - 1.0) * e0 + 0.5));
  CHECK(running_mean.value<double>()(0) == 1.0);  // evaluation leaves them alone
}

TEST_CASE("batch_norm's gradient is the header's formula on a hand example", "[normalization]") {
  // m = 2 values 0 and 2 in one channel: mean 1, var 1, xhat = -1, 1 (eps 0). With g = (1, 0):
  // h = g, mean(h) = 1/2, mean(h xhat) = -1/2: dx = (1 - 1/2 - (-1)(-1/2), 0 - 1/2 - (1)(-1/2))
  // = (0, 0): a shift of both values changes nothing, and neither does scaling them.
  Tensor x = tg::tensor(tg::test::column({0.0, 2.0}), true);
  Tensor y =
      tg::batch_norm(x, Tensor{}, Tensor{}, Tensor{}, Tensor{}, {.training = true, .eps = 0.0});
  y.backward(tg::tensor(tg::test::column({1.0, 0.0})));
  REQUIRE(bool(xt::allclose(values_of(x.grad()), tg::test::column({0.0, 0.0}))));
  // Three values 0, 1, 5 with g = (1, 0, 0): mean 2, var 14/3, s = sqrt(3/14).
  Tensor u = tg::tensor(tg::test::column({0.0, 1.0, 5.0}), true);
  tg::batch_norm(u, Tensor{}, Tensor{}, Tensor{}, Tensor{}, {.training = true, .eps = 0.0})
      .backward(tg::tensor(tg::test::column({1.0, 0.0, 0.0})));
  const double s = std::sqrt(3.0 / 14.0);
  const double xh0 = -2.0 * s;
  for (int j = 0; j < 3; ++j) {
    const double xhj = (std::vector<double>{0.0, 1.0, 5.0}[j] - 2.0) * s;
    const double expected = s * ((j == 0 ? 1.0 : 0.0) - 1.0 / 3.0 - xhj * xh0 / 3.0);
    CHECK(u.grad().value<double>()(j, 0) == Approx(expected));
  }
}

TEST_CASE("gradcheck of batch_norm on random shapes and options, second order too",
          "[normalization]") {
  tg::manual_seed(71);
  tg::Generator gen(71);
  for (int trial = 0; trial < 16; ++trial) {
    tg::Shape shape = tg::test::random_shape(gen, 2, 4, 3);
    shape[0] = static_cast<std::size_t>(uniform_int(gen, 2, 3));  // > 1 value per channel
    const std::size_t channels = shape[1];
    const bool has_weight = gen.below(4) != 0;
    const bool has_bias = gen.below(2) != 0;
    const bool training = trial % 4 != 3;
    INFO("trial " << trial << ": " << tg::to_string(shape) << " weight " << has_weight << " bias "
                  << has_bias << " training " << training);
    std::vector<Tensor> inputs{randn64(shape)};
    if (has_weight) inputs.push_back(randn64({channels}));
    if (has_bias) inputs.push_back(randn64({channels}));
    Tensor running_mean = randn64({channels}, false);
    Tensor running_var = tg::test::positive64({channels}, false);
    const tg::BatchNormOptions options{.training = training, .momentum = 0.3, .eps = 1e-3};
    auto fn = [&](const std::vector<Tensor>& in) {
      const Tensor& w = has_weight ? in[1] : Tensor{};
      const Tensor& b = has_bias ? in.back() : Tensor{};
      // The running estimates move at every call; the output of training does not read them.
      return tg::batch_norm(in[0], running_mean, running_var, w, b, options);
    };
    CHECK(tg::gradcheck(fn, inputs, {.check_grad_grad = true}));
  }
}

TEST_CASE("gradcheck of layer_norm on random shapes and normalized_shapes", "[normalization]") {
  tg::manual_seed(72);
  tg::Generator gen(72);
  for (int trial = 0; trial < 16; ++trial) {
    tg::Shape shape = tg::test::random_shape(gen, 1, 4, 3);
    const auto k =
        static_cast<std::size_t>(uniform_int(gen, 1, static_cast<std::int64_t>(shape.size())));
    std::vector<std::int64_t> normalized(shape.end() - static_cast<std::ptrdiff_t>(k), shape.end());
    tg::Shape group_shape(shape.end() - static_cast<std::ptrdiff_t>(k), shape.end());
    std::size_t m = 1;
    for (std::size_t d : group_shape) m *= d;
    if (m < 2) {  // a group of one value normalises to 0 whatever it holds: pad it
      shape.back() += 1;
      group_shape.back() += 1;
      normalized.back() += 1;
    }
    const bool affine = trial % 3 != 0;
    INFO("trial " << trial << ": " << tg::to_string(shape) << " normalized over the last " << k
                  << " affine " << affine);
    std::vector<Tensor> inputs{randn64(shape)};
    if (affine) {
      inputs.push_back(randn64(group_shape));
      inputs.push_back(randn64(group_shape));
    }
    auto fn = [&](const std::vector<Tensor>& in) {
      return affine ? tg::layer_norm(in[0], normalized, in[1], in[2], {.eps = 1e-3})
                    : tg::layer_norm(in[0], normalized, Tensor{}, Tensor{}, {.eps = 1e-3});
    };
    CHECK(tg::gradcheck(fn, inputs, {.check_grad_grad = true}));
  }
}

TEST_CASE("layer_norm normalises each row by hand-derived values", "[normalization]") {
  // Rows (1, 3) and (4, 4, ...): mean 2, var 1 -> (-1, 1); a constant row normalises to 0.
  Tensor x = tg::tensor(xt::xarray<double>{{1.0, 3.0}, {4.0, 4.0}});
  Tensor y = tg::layer_norm(x, {2}, Tensor{}, Tensor{}, {.eps = 0.0 + 1e-12});
  REQUIRE(bool(xt::allclose(values_of(y), xt::xarray<double>{{-1.0, 1.0}, {0.0, 0.0}})));
  Tensor w = tg::tensor(xt::xarray<double>{2.0, 3.0});
  Tensor b = tg::tensor(xt::xarray<double>{0.0, 1.0});
  Tensor z = tg::layer_norm(x, {2}, w, b, {.eps = 1e-12});
  REQUIRE(bool(xt::allclose(values_of(z), xt::xarray<double>{{-2.0, 4.0}, {0.0, 1.0}})));
}

TEST_CASE("normalisation in float agrees with double, also for a large mean", "[normalization]") {
  tg::manual_seed(73);
  Tensor x64 = tg::randn({8, 3, 5, 5}, {.dtype = tg::f64});
  x64.value<double>() += 1000.0;
  Tensor x32 = x64.to(tg::f32);
  const tg::BatchNormOptions options{.training = true};
  Tensor y64 = tg::batch_norm(x64, Tensor{}, Tensor{}, Tensor{}, Tensor{}, options);
  Tensor y32 = tg::batch_norm(x32, Tensor{}, Tensor{}, Tensor{}, Tensor{}, options);
  REQUIRE(bool(xt::allclose(y32.to(tg::f64).value<double>(), values_of(y64), 1e-3, 1e-3)));
}

TEST_CASE("batch_norm and layer_norm reject bad input with the op and the shapes",
          "[normalization]") {
  using Catch::Contains;
  Tensor x = tg::randn({4, 3, 2, 2});
  Tensor c3 = tg::ones({3});
  Tensor c2 = tg::ones({2});
  const tg::BatchNormOptions train{.training = true};
  REQUIRE_THROWS_WITH(tg::batch_norm(tg::randn({4}), c3, c3, {}, {}, train),
                      Contains("batch_norm") && Contains("[N,C,*]") && Contains("[4]"));
  REQUIRE_THROWS_WITH(tg::batch_norm(x, c2, c3, {}, {}, train),
                      Contains("running_mean") && Contains("[3]") && Contains("[2]"));
  REQUIRE_THROWS_WITH(tg::batch_norm(x, c3, c3, c2, {}, train), Contains("weight"));
  REQUIRE_THROWS_WITH(tg::batch_norm(x, c3, c3, {}, tg::ones({3}, {.dtype = tg::f64}), train),
                      Contains("batch_norm") && Contains("bias"));
  REQUIRE_THROWS_WITH(tg::batch_norm(x, c3, {}, {}, {}, train), Contains("both"));
  REQUIRE_THROWS_WITH(tg::batch_norm(x, {}, {}, {}, {}, {.training = false}),
                      Contains("evaluation") && Contains("[4,3,2,2]"));
  REQUIRE_THROWS_WITH(tg::batch_norm(tg::randn({1, 3}), {}, {}, {}, {}, train),
                      Contains("more than 1 value per channel") && Contains("[1,3]"));
  REQUIRE_THROWS_WITH(tg::batch_norm(x, {}, {}, {}, {}, {.training = true, .eps = -1.0}),
                      Contains("eps"));
  REQUIRE_THROWS_WITH(
      tg::batch_norm(x, {}, {}, {}, {}, {.training = true, .momentum = std::nan("")}),
      Contains("momentum"));
  Tensor grad_stat = tg::zeros({3}, {.requires_grad = true});
  REQUIRE_THROWS_WITH(tg::batch_norm(x, grad_stat, c3, {}, {}, train),
                      Contains("must not require grad"));
  REQUIRE_THROWS_AS(tg::batch_norm(tg::zeros({4, 3}, {.dtype = tg::i64}), {}, {}, {}, {}, train),
                    tg::Error);

  REQUIRE_THROWS_WITH(tg::layer_norm(x, {3}), Contains("layer_norm") && Contains("[4,3,2,2]"));
  REQUIRE_THROWS_WITH(tg::layer_norm(x, {}), Contains("normalized_shape"));
  REQUIRE_THROWS_WITH(tg::layer_norm(x, {1, 4, 3, 2, 2}), Contains("last dims"));
  REQUIRE_THROWS_WITH(tg::layer_norm(x, {2, 2}, tg::ones({4})),
                      Contains("weight") && Contains("[2,2]") && Contains("[4]"));
  REQUIRE_THROWS_WITH(tg::layer_norm(tg::zeros({3, 0}), {0}), Contains("no elements"));
  REQUIRE_THROWS_WITH(tg::layer_norm(x, {2}, {}, {}, {.eps = std::nan("")}), Contains("eps"));
}

TEST_CASE("the two-pass backward agrees with the backward written in ops", "[normalization]") {
  // A plain backward takes the fused kernels; under create_graph the closures use ops. Both are
  // the header's formula: their first derivatives agree to rounding, in f64 and f32.
  tg::manual_seed(74);
  for (const tg::DType dtype : {tg::f64, tg::f32}) {
    const double tolerance = dtype == tg::f64 ? 1e-12 : 1e-4;
    Tensor x = tg::randn({4, 3, 5, 5}, {.dtype = dtype, .requires_grad = true});
    Tensor w = tg::randn({3}, {.dtype = dtype, .requires_grad = true});
    Tensor b = tg::randn({3}, {.dtype = dtype, .requires_grad = true});
    Tensor g = tg::randn({4, 3, 5, 5}, {.dtype = dtype});
    auto bn = [&] { return tg::batch_norm(x, Tensor{}, Tensor{}, w, b, {.training = true}); };
    auto plain = tg::grad({bn()}, {x, w, b}, {.grad_outputs = {g}});
    auto recorded = tg::grad({bn()}, {x, w, b}, {.grad_outputs = {g}, .create_graph = true});
    for (std::size_t i = 0; i < 3; ++i) {
      INFO("dtype " << tg::name(dtype) << " input " << i);
      REQUIRE(bool(xt::allclose(plain[i].to(tg::f64).value<double>(),
                                recorded[i].to(tg::f64).value<double>(), tolerance, tolerance)));
    }
    auto ln = [&] { return tg::layer_norm(x, {5, 5}, Tensor{}, Tensor{}); };
    auto ln_plain = tg::grad({ln()}, {x}, {.grad_outputs = {g}});
    auto ln_recorded = tg::grad({ln()}, {x}, {.grad_outputs = {g}, .create_graph = true});
    REQUIRE(bool(xt::allclose(ln_plain[0].to(tg::f64).value<double>(),
                              ln_recorded[0].to(tg::f64).value<double>(), tolerance, tolerance)));
  }
}
