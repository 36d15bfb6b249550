#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/arrays.hpp"
#include "support/random.hpp"

using tg::Tensor;
using tg::test::broadcast_partner;
using tg::test::positive64;
using tg::test::randn64;
using tg::test::random_shape;

TEST_CASE("binary ops broadcast as PyTorch and compute the right values", "[arithmetic]") {
  Tensor a = tg::tensor(xt::xarray<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});  // [2,3]
  Tensor b = tg::tensor(xt::xarray<double>{10.0, 20.0, 30.0});                  // [3]
  Tensor c = tg::tensor(tg::test::column({2.0, 4.0}));                          // [2,1]
  REQUIRE(bool(xt::allclose((a + b).value<double>(),
                            xt::xarray<double>{{11.0, 22.0, 33.0}, {14.0, 25.0, 36.0}})));
  REQUIRE(bool(xt::allclose((a - c).value<double>(),
                            xt::xarray<double>{{-1.0, 0.0, 1.0}, {0.0, 1.0, 2.0}})));
  REQUIRE(bool(xt::allclose((b * c).value<double>(),
                            xt::xarray<double>{{20.0, 40.0, 60.0}, {40.0, 80.0, 120.0}})));
  REQUIRE(bool(xt::allclose((a / c).value<double>(),
                            xt::xarray<double>{{0.5, 1.0, 1.5}, {1.0, 1.25, 1.5}})));
  REQUIRE(bool(xt::allclose((1.0 - a).value<double>(),
                            xt::xarray<double>{{0.0, -1.0, -2.0}, {-3.0, -4.0, -5.0}})));
  REQUIRE(bool(xt::allclose((a * 2.0).value<double>(), 2.0 * a.value<double>())));
  REQUIRE(bool(xt::allclose((6.0 / c).value<double>(), tg::test::column({3.0, 1.5}))));
}

TEST_CASE("a scalar operand takes the tensor's dtype", "[arithmetic]") {
  Tensor x = tg::ones({2}, {.dtype = tg::f32});
  CHECK((x + 1.5).dtype() == tg::f32);
  CHECK((2.0 * x).dtype() == tg::f32);
  CHECK((x + 1.5).value<float>()(0) == 2.5f);
}

TEST_CASE("broadcast gradients are summed back to each operand's shape", "[arithmetic]") {
  Tensor a = tg::ones({2, 3}, {.dtype = tg::f64, .requires_grad = true});
  Tensor b = tg::ones({3}, {.dtype = tg::f64, .requires_grad = true});
  tg::sum(a * b).backward();
  CHECK(b.grad().shape() == tg::Shape{3});
  REQUIRE(bool(xt::allclose(b.grad().value<double>(), xt::xarray<double>{2.0, 2.0, 2.0})));
}

TEST_CASE("gradcheck of add, sub, mul, div on 24 random broadcasting shapes", "[arithmetic]") {
  tg::manual_seed(11);
  tg::Generator gen(11);
  for (int trial = 0; trial < 24; ++trial) {
    tg::Shape sa = random_shape(gen, 0, 4);
    tg::Shape sb = broadcast_partner(gen, sa);
    if (trial % 2) std::swap(sa, sb);
    Tensor a = randn64(sa);
    Tensor b = positive64(sb);
    INFO("trial " << trial << ": " << tg::to_string(sa) << " with " << tg::to_string(sb));
    const bool second = trial % 3 == 0;
    CHECK(tg::gradcheck([](const auto& in) { return in[0] + in[1]; }, {a, b},
                        {.check_grad_grad = second}));
    CHECK(tg::gradcheck([](const auto& in) { return in[0] - in[1]; }, {a, b},
                        {.check_grad_grad = second}));
    CHECK(tg::gradcheck([](const auto& in) { return in[0] * in[1]; }, {a, b},
                        {.check_grad_grad = second}));
    CHECK(tg::gradcheck([](const auto& in) { return in[0] / in[1]; }, {a, b},
                        {.check_grad_grad = second}));
  }
}

TEST_CASE("gradcheck of neg, exp, log, pow on 20 random shapes", "[arithmetic]") {
  tg::manual_seed(12);
  tg::Generator gen(12);
  for (int trial = 0; trial < 20; ++trial) {
    const tg::Shape shape = random_shape(gen, 0, 4);
    Tensor x = randn64(shape);
    Tensor p = positive64(shape);
    const double exponent =
        static_cast<double>(tg::test::uniform_int(gen, -2, 3)) + 0.5 * (trial % 2);
    INFO("trial " << trial << ": " << tg::to_string(shape) << " exponent " << exponent);
    const tg::GradcheckOptions options{.check_grad_grad = trial % 2 == 0};
    CHECK(tg::gradcheck([](const auto& in) { return -in[0]; }, {x}, options));
    CHECK(tg::gradcheck([](const auto& in) { return tg::exp(in[0]); }, {x}, options));
    CHECK(tg::gradcheck([](const auto& in) { return tg::log(in[0]); }, {p}, options));
    CHECK(tg::gradcheck([exponent](const auto& in) { return tg::pow(in[0], exponent); }, {p},
                        options));
  }
}

TEST_CASE("an operand used twice accumulates (x * x)", "[arithmetic]") {
  Tensor x = tg::tensor(xt::xarray<double>{3.0}, true);
  tg::sum(x * x + x).backward();
  CHECK(x.grad().item() == Approx(7.0));
}

TEST_CASE("arithmetic rejects bad operands with the op's name", "[arithmetic][errors]") {
  Tensor a = tg::ones({2, 3});
  Tensor b = tg::ones({4});
  CHECK_THROWS_WITH(a + b, Catch::Contains("add") && Catch::Contains("[2,3]") &&
                               Catch::Contains("[4]") && Catch::Contains("broadcast"));
  CHECK_THROWS_WITH(a - tg::ones({2}, {.dtype = tg::f64}),
                    Catch::Contains("sub") && Catch::Contains("f64"));
  CHECK_THROWS_WITH(a * Tensor{}, Catch::Contains("mul") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(tg::div(tg::zeros({2}, {.dtype = tg::i64}), a),
                    Catch::Contains("div") && Catch::Contains("i64"));
  CHECK_THROWS_WITH(tg::exp(tg::zeros({2}, {.dtype = tg::i64})), Catch::Contains("exp"));
  CHECK_THROWS_WITH(tg::log(Tensor{}), Catch::Contains("log"));
  CHECK_THROWS_WITH(tg::pow(Tensor{}, 2.0), Catch::Contains("pow"));
  CHECK_THROWS_WITH(tg::neg(tg::zeros({1}, {.dtype = tg::i64})), Catch::Contains("neg"));
}

TEST_CASE("abs, sqrt, clamp compute hand-derived values", "[arithmetic]") {
  const double nan = std::nan("");
  Tensor x = tg::tensor(xt::xarray<double>{-2.0, -0.5, 0.0, 0.5, 3.0});
  REQUIRE(
      bool(xt::allclose(tg::abs(x).value<double>(), xt::xarray<double>{2.0, 0.5, 0.0, 0.5, 3.0})));
  REQUIRE(bool(
      xt::allclose(tg::sqrt(tg::tensor(xt::xarray<double>{0.0, 0.25, 4.0, 9.0})).value<double>(),
                   xt::xarray<double>{0.0, 0.5, 2.0, 3.0})));
  CHECK(std::isnan(tg::sqrt(tg::tensor(xt::xarray<double>{-1.0})).item()));
  REQUIRE(bool(xt::allclose(tg::clamp(x, -1.0, 0.5).value<double>(),
                            xt::xarray<double>{-1.0, -0.5, 0.0, 0.5, 0.5})));
  REQUIRE(bool(xt::allclose(tg::clamp_min(x, 0.0).value<double>(),
                            xt::xarray<double>{0.0, 0.0, 0.0, 0.5, 3.0})));
  REQUIRE(bool(xt::allclose(tg::clamp_max(x, 0.0).value<double>(),
                            xt::xarray<double>{-2.0, -0.5, 0.0, 0.0, 0.0})));
  REQUIRE(bool(xt::allclose(tg::clamp(x, std::nullopt, -1.0).value<double>(),
                            xt::xarray<double>{-2.0, -1.0, -1.0, -1.0, -1.0})));
  // lo == hi is allowed: a constant.
  REQUIRE(bool(xt::allclose(tg::clamp(x, 1.0, 1.0).value<double>(), xt::ones<double>({5}))));
  // A NaN stays NaN (as PyTorch), and f32 stays f32.
  Tensor with_nan = tg::tensor(xt::xarray<float>{std::nanf(""), 5.0f});
  Tensor clamped = tg::clamp(with_nan, 0.0, 1.0);
  CHECK(clamped.dtype() == tg::f32);
  CHECK(std::isnan(clamped.value<float>()(0)));
  CHECK(clamped.value<float>()(1) == 1.0f);
  CHECK(std::isnan(tg::abs(tg::tensor(xt::xarray<double>{nan})).item()));
}

TEST_CASE("abs, sqrt, clamp gradients at the special points match PyTorch", "[arithmetic]") {
  // abs'(0) = 0; d|x| = sign(x).
  Tensor x = tg::tensor(xt::xarray<double>{-2.0, 0.0, 3.0}, true);
  tg::sum(tg::abs(x)).backward();
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{-1.0, 0.0, 1.0})));

  // sqrt'(x) = 1 / (2 sqrt(x)): inf at 0 (as PyTorch), 1/4 at 4.
  Tensor p = tg::tensor(xt::xarray<double>{0.0, 4.0}, true);
  tg::sum(tg::sqrt(p)).backward();
  CHECK(std::isinf(p.grad().value<double>()(0)));
  CHECK(p.grad().value<double>()(1) == Approx(0.25));

  // clamp: 1 inside [lo, hi], the bounds included (as PyTorch); 0 outside and at NaN.
  Tensor c = tg::tensor(xt::xarray<double>{-2.0, -1.0, 0.0, 1.0, 2.0, std::nan("")}, true);
  tg::sum(tg::clamp(c, -1.0, 1.0)).backward();
  REQUIRE(bool(
      xt::allclose(c.grad().value<double>(), xt::xarray<double>{0.0, 1.0, 1.0, 1.0, 0.0, 0.0})));
  // An infinite gradient outside the range gives 0, not NaN (clamp selects, as PyTorch).
  Tensor d = tg::tensor(xt::xarray<double>{-5.0, 0.5}, true);
  const double inf = std::numeric_limits<double>::infinity();
  tg::clamp(d, 0.0, 1.0).backward(tg::tensor(xt::xarray<double>{inf, 2.0}));
  REQUIRE(bool(xt::allclose(d.grad().value<double>(), xt::xarray<double>{0.0, 2.0})));

  // Second derivatives: sqrt'' = -1 / (4 x^(3/2)) = -1/32 at 4; abs'' = clamp'' = 0.
  Tensor q = tg::tensor(xt::xarray<double>{4.0}, true);
  auto first = tg::grad({tg::sum(tg::sqrt(q))}, {q}, {.create_graph = true});
  auto second = tg::grad({tg::sum(first[0])}, {q});
  CHECK(second[0].item() == Approx(-1.0 / 32.0));
  first = tg::grad({tg::sum(tg::abs(q) * q)}, {q}, {.create_graph = true});  // x|x|: 2|x|
  second = tg::grad({tg::sum(first[0])}, {q});                               // 2 sign(x)
  CHECK(second[0].item() == Approx(2.0));
}

TEST_CASE("gradcheck of abs, sqrt, clamp on 20 random shapes and bounds", "[arithmetic]") {
  tg::manual_seed(13);
  tg::Generator gen(13);
  for (int trial = 0; trial < 20; ++trial) {
    const tg::Shape shape = random_shape(gen, 0, 4);
    // |x| in [0.5, 1.5], away from abs's kink at 0.
    Tensor x = randn64(shape, false);
    for (double& v : x.value<double>())
      v = (v < 0 ? -1.0 : 1.0) * (0.5 + std::fmod(std::abs(v), 1.0));
    x.set_requires_grad(true);
    Tensor p = positive64(shape);
    // Bounds at the half-integers +-0.25, +-1.25: the inputs keep 0.05 away from them unless
    // they happen to be closer, which the shift below prevents.
    const double lo = -0.25 - static_cast<double>(tg::test::uniform_int(gen, 0, 1));
    const double hi = 0.25 + static_cast<double>(tg::test::uniform_int(gen, 0, 1));
    Tensor c = randn64(shape, false);
    for (double& v : c.value<double>()) {
      if (std::abs(v - lo) < 0.05 || std::abs(v - hi) < 0.05) v += 0.1;
    }
    c.set_requires_grad(true);
    INFO("trial " << trial << ": " << tg::to_string(shape) << " [" << lo << ", " << hi << "]");
    const tg::GradcheckOptions options{.check_grad_grad = true};
    CHECK(tg::gradcheck([](const auto& in) { return tg::abs(in[0]); }, {x}, options));
    CHECK(tg::gradcheck([](const auto& in) { return tg::abs(in[0]) * in[0]; }, {x}, options));
    CHECK(tg::gradcheck([](const auto& in) { return tg::sqrt(in[0]); }, {p}, options));
    const int which = trial % 3;
    CHECK(tg::gradcheck(
        [lo, hi, which](const auto& in) {
          const Tensor y = which == 0   ? tg::clamp(in[0], lo, hi)
                           : which == 1 ? tg::clamp_min(in[0], lo)
                                        : tg::clamp_max(in[0], hi);
          return y * y;
        },
        {c}, options));
  }
}

TEST_CASE("abs, sqrt, clamp reject bad inputs with the op's name", "[arithmetic][errors]") {
  Tensor x = tg::ones({2, 3});
  Tensor labels = tg::zeros({2, 3}, {.dtype = tg::i64});
  REQUIRE_THROWS_AS(tg::abs(labels), tg::Error);
  REQUIRE_THROWS_WITH(tg::abs(labels),
                      Catch::Contains("abs") && Catch::Contains("i64") && Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::sqrt(Tensor{}), Catch::Contains("sqrt") && Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(tg::sqrt(labels), Catch::Contains("sqrt") && Catch::Contains("[2,3]"));
  REQUIRE_THROWS_AS(tg::clamp(x, 1.0, 0.0), tg::Error);
  REQUIRE_THROWS_WITH(tg::clamp(x, 1.0, 0.0), Catch::Contains("clamp") && Catch::Contains("lo 1") &&
                                                  Catch::Contains("hi 0") &&
                                                  Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::clamp(x, std::nullopt, std::nullopt),
                      Catch::Contains("clamp") && Catch::Contains("at least one"));
  REQUIRE_THROWS_WITH(tg::clamp(x, std::nan(""), 1.0), Catch::Contains("clamp") &&
                                                           Catch::Contains("NaN") &&
                                                           Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::clamp_min(x, std::nan("")),
                      Catch::Contains("clamp_min") && Catch::Contains("NaN"));
  REQUIRE_THROWS_WITH(tg::clamp_max(labels, 1.0),
                      Catch::Contains("clamp_max") && Catch::Contains("i64"));
  REQUIRE_THROWS_WITH(tg::clamp(Tensor{}, 0.0, 1.0),
                      Catch::Contains("clamp") && Catch::Contains("undefined"));
}
