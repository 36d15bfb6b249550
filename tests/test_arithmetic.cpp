#include <catch2/catch.hpp>

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
