#include <catch2/catch.hpp>

#include <cmath>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/random.hpp"

using tg::Tensor;
using tg::test::random_shape;

namespace {

// N(0, 1) values pushed at least 0.1 away from 0, where relu's derivative jumps (finite
// differences straddling the kink would disagree with any one-sided derivative).
Tensor away_from_zero(const tg::Shape& shape) {
  Tensor t = tg::randn(shape, {.dtype = tg::f64});
  for (double& v : t.value<double>()) v += v < 0 ? -0.1 : 0.1;
  t.set_requires_grad(true);
  return t;
}

xt::xarray<double> values_of(const Tensor& t) { return t.value<double>(); }

}  // namespace

TEST_CASE("activations compute hand-derived values", "[activation]") {
  Tensor x = tg::tensor(xt::xarray<double>{-2.0, -0.5, 0.0, 0.5, 3.0});
  REQUIRE(bool(xt::allclose(values_of(tg::relu(x)), xt::xarray<double>{0, 0, 0, 0.5, 3.0})));
  REQUIRE(bool(xt::allclose(values_of(tg::leaky_relu(x, 0.1)),
                            xt::xarray<double>{-0.2, -0.05, 0.0, 0.5, 3.0})));
  REQUIRE(bool(xt::allclose(values_of(tg::leaky_relu(x)),
                            xt::xarray<double>{-0.02, -0.005, 0.0, 0.5, 3.0})));

  // sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4; tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 3/5.
  const double ln3 = std::log(3.0);
  const double ln2 = std::log(2.0);
  Tensor s = tg::tensor(xt::xarray<double>{-ln3, 0.0, ln3});
  REQUIRE(bool(xt::allclose(values_of(tg::sigmoid(s)), xt::xarray<double>{0.25, 0.5, 0.75})));
  Tensor t = tg::tensor(xt::xarray<double>{-ln2, 0.0, ln2});
  REQUIRE(bool(xt::allclose(values_of(tg::tanh(t)), xt::xarray<double>{-0.6, 0.0, 0.6})));

  // Saturation: no NaN or overflow at the extremes.
  Tensor big = tg::tensor(xt::xarray<double>{-1000.0, 1000.0});
  REQUIRE(bool(xt::allclose(values_of(tg::sigmoid(big)), xt::xarray<double>{0.0, 1.0})));
  REQUIRE(bool(xt::allclose(values_of(tg::tanh(big)), xt::xarray<double>{-1.0, 1.0})));
}

TEST_CASE("activation gradients match the derivatives by hand", "[activation]") {
  Tensor x = tg::tensor(xt::xarray<double>{-2.0, 0.0, 3.0}, true);
  tg::sum(tg::relu(x)).backward();
  // At exactly 0 relu's derivative is 0, leaky_relu's is the slope (as PyTorch).
  REQUIRE(bool(xt::allclose(values_of(x.grad()), xt::xarray<double>{0.0, 0.0, 1.0})));
  x.zero_grad();
  tg::sum(tg::leaky_relu(x, 0.2)).backward();
  REQUIRE(bool(xt::allclose(values_of(x.grad()), xt::xarray<double>{0.2, 0.2, 1.0})));

  // sigmoid'(0) = 1/4, sigmoid'(ln 3) = 3/4 * 1/4; tanh'(0) = 1, tanh'(ln 2) = 1 - 9/25.
  Tensor s = tg::tensor(xt::xarray<double>{0.0, std::log(3.0)}, true);
  tg::sum(tg::sigmoid(s)).backward();
  REQUIRE(bool(xt::allclose(values_of(s.grad()), xt::xarray<double>{0.25, 0.1875})));
  Tensor t = tg::tensor(xt::xarray<double>{0.0, std::log(2.0)}, true);
  tg::sum(tg::tanh(t)).backward();
  REQUIRE(bool(xt::allclose(values_of(t.grad()), xt::xarray<double>{1.0, 0.64})));
}

TEST_CASE("second derivatives of activations by hand", "[activation]") {
  // sum(relu(x)^2): first derivative 2 relu(x), second 2 [x > 0]. The inner gradient
  // relu_backward(2 relu(x), x) is differentiated through its grad_output.
  Tensor x = tg::tensor(xt::xarray<double>{-1.0, 2.0, 3.0}, true);
  Tensor r = tg::relu(x);
  auto first = tg::grad({tg::sum(r * r)}, {x}, {.create_graph = true});
  REQUIRE(bool(xt::allclose(values_of(first[0]), xt::xarray<double>{0.0, 4.0, 6.0})));
  auto second = tg::grad({tg::sum(first[0])}, {x});
  REQUIRE(bool(xt::allclose(values_of(second[0]), xt::xarray<double>{0.0, 2.0, 2.0})));

  // leaky: sum(leaky(x)^2) -> 2 leaky(x) f'(x) -> 2 f'(x)^2 = [2 s^2, 2, 2].
  Tensor y = tg::leaky_relu(x, 0.5);
  first = tg::grad({tg::sum(y * y)}, {x}, {.create_graph = true});
  second = tg::grad({tg::sum(first[0])}, {x});
  REQUIRE(bool(xt::allclose(values_of(second[0]), xt::xarray<double>{0.5, 2.0, 2.0})));

  // sigmoid'' = s (1 - s) (1 - 2 s): at ln 3, 3/16 * (-1/2). tanh'' = -2 t (1 - t^2).
  Tensor z = tg::tensor(xt::xarray<double>{std::log(3.0)}, true);
  first = tg::grad({tg::sum(tg::sigmoid(z))}, {z}, {.create_graph = true});
  second = tg::grad({tg::sum(first[0])}, {z});
  CHECK(second[0].item() == Approx(-3.0 / 32.0));
  Tensor w = tg::tensor(xt::xarray<double>{std::log(2.0)}, true);
  first = tg::grad({tg::sum(tg::tanh(w))}, {w}, {.create_graph = true});
  second = tg::grad({tg::sum(first[0])}, {w});
  CHECK(second[0].item() == Approx(-2.0 * 0.6 * 0.64));
}

TEST_CASE("gradcheck of activations on 24 random shapes", "[activation]") {
  tg::manual_seed(21);
  tg::Generator gen(21);
  for (int trial = 0; trial < 24; ++trial) {
    const tg::Shape shape = random_shape(gen, 0, 4);
    const double slope = 0.01 + 0.1 * static_cast<double>(trial % 5);
    Tensor x = away_from_zero(shape);
    INFO("trial " << trial << ": " << tg::to_string(shape) << " slope " << slope);
    const tg::GradcheckOptions options{.check_grad_grad = trial % 2 == 0};
    CHECK(tg::gradcheck([](const auto& in) { return tg::relu(in[0]); }, {x}, options));
    CHECK(tg::gradcheck([slope](const auto& in) { return tg::leaky_relu(in[0], slope); }, {x},
                        options));
    CHECK(tg::gradcheck([](const auto& in) { return tg::sigmoid(in[0]); }, {x}, options));
    CHECK(tg::gradcheck([](const auto& in) { return tg::tanh(in[0]); }, {x}, options));
    // Composites whose output gradient depends on x, so that the second-derivative check
    // goes through the backward ops' gradients w.r.t. their grad_output.
    CHECK(tg::gradcheck([](const auto& in) { return tg::relu(in[0]) * in[0]; }, {x}, options));
    CHECK(tg::gradcheck(
        [slope](const auto& in) { return tg::leaky_relu(in[0], slope) * tg::tanh(in[0]); }, {x},
        options));
    CHECK(tg::gradcheck([](const auto& in) { return tg::sigmoid(tg::tanh(in[0]) * in[0]); }, {x},
                        options));
    // The public backward op itself, in both arguments (its gradient w.r.t. x is zero away from
    // the kink, which finite differences confirm).
    Tensor g = tg::randn(shape, {.dtype = tg::f64, .requires_grad = true});
    for (const double s : {0.0, slope}) {
      CHECK(tg::gradcheck([s](const auto& in) { return tg::leaky_relu_backward(in[0], in[1], s); },
                          {g, x}, options));
    }
  }
}

TEST_CASE("f32 activations agree with a double computation (parallel sizes too)", "[activation]") {
  tg::manual_seed(22);
  for (std::size_t n : {std::size_t{7}, std::size_t{100'003}}) {
    Tensor x = tg::randn({n}, {.dtype = tg::f32});
    x.value<float>() *= 4.0f;
    const auto& xv = x.value<float>();
    const Tensor r = tg::relu(x);
    const Tensor l = tg::leaky_relu(x, 0.3);
    const Tensor s = tg::sigmoid(x);
    const Tensor t = tg::tanh(x);
    const auto& relu = r.value<float>();
    const auto& leaky = l.value<float>();
    const auto& sig = s.value<float>();
    const auto& th = t.value<float>();
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = xv(i);
      const double expected_relu = v > 0 ? v : 0.0;
      const double expected_leaky = v > 0 ? v : 0.3 * v;
      const double expected_sig = 1.0 / (1.0 + std::exp(-v));
      const double expected_tanh = std::tanh(v);
      if (relu(i) != static_cast<float>(expected_relu)) ++mismatches;
      if (std::abs(leaky(i) - expected_leaky) > 1e-6 * (1 + std::abs(expected_leaky))) ++mismatches;
      if (std::abs(sig(i) - expected_sig) > 1e-6) ++mismatches;
      if (std::abs(th(i) - expected_tanh) > 1e-6) ++mismatches;
    }
    INFO("n = " << n);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("relu's backward matches g * [x > 0] on a large tensor", "[activation]") {
  tg::manual_seed(23);
  Tensor x = tg::randn({300, 401}, {.dtype = tg::f32, .requires_grad = true});
  Tensor g = tg::randn({300, 401}, {.dtype = tg::f32});
  tg::relu(x).backward(g);
  const xt::xarray<float> expected =
      xt::where(x.value<float>() > 0.0f, g.value<float>(), xt::zeros<float>({300, 401}));
  REQUIRE(bool(xt::all(xt::equal(x.grad().value<float>(), expected))));
}

TEST_CASE("activations reject bad inputs with the op's name", "[activation][errors]") {
  Tensor labels = tg::zeros({2, 3}, {.dtype = tg::i64});
  CHECK_THROWS_AS(tg::relu(Tensor{}), tg::Error);
  CHECK_THROWS_WITH(tg::relu(Tensor{}), Catch::Contains("relu") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(tg::relu(labels),
                    Catch::Contains("relu") && Catch::Contains("i64") && Catch::Contains("[2,3]"));
  CHECK_THROWS_WITH(tg::leaky_relu(labels),
                    Catch::Contains("leaky_relu") && Catch::Contains("[2,3]"));
  CHECK_THROWS_WITH(
      tg::leaky_relu(tg::ones({4}), std::nan("")),
      Catch::Contains("leaky_relu") && Catch::Contains("negative_slope") && Catch::Contains("[4]"));
  CHECK_THROWS_WITH(tg::sigmoid(labels), Catch::Contains("sigmoid") && Catch::Contains("[2,3]"));
  CHECK_THROWS_WITH(tg::tanh(Tensor{}), Catch::Contains("tanh") && Catch::Contains("undefined"));
}
