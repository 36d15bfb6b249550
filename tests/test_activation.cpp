#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numbers>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/random.hpp"

using tg::Tensor;
using tg::test::random_shape;

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

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

TEST_CASE("gelu, silu, elu, softplus compute hand-derived values", "[activation]") {
  // x Phi(x) with Phi(1) = 0.841344746..., Phi(2) = 0.977249868... (normal tables).
  Tensor x = tg::tensor(xt::xarray<double>{-2.0, 0.0, 1.0, 2.0});
  REQUIRE(bool(xt::allclose(
      values_of(tg::gelu(x)),
      xt::xarray<double>{-0.04550026389635844, 0.0, 0.8413447460685429, 1.9544997361036416},
      1e-14)));
  // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  REQUIRE(bool(xt::allclose(
      values_of(tg::gelu(x, tg::GeluApproximate::tanh)),
      xt::xarray<double>{-0.04540230591222494, 0.0, 0.8411919906082768, 1.954597694087775},
      1e-14)));
  // Far in the left tail x Phi(x) is tiny but not 0 (erfc keeps it).
  CHECK(tg::gelu(tg::tensor(xt::xarray<double>{-10.0})).item() < 0.0);

  // silu(x) = x sigmoid(x): sigmoid(ln 3) = 3/4.
  const double ln3 = std::log(3.0);
  Tensor s = tg::tensor(xt::xarray<double>{-ln3, 0.0, ln3});
  REQUIRE(
      bool(xt::allclose(values_of(tg::silu(s)), xt::xarray<double>{-0.25 * ln3, 0.0, 0.75 * ln3})));
  CHECK(tg::silu(tg::tensor(xt::xarray<double>{-1000.0})).item() == 0.0);

  // elu(-ln 2) = alpha (1/2 - 1).
  Tensor e = tg::tensor(xt::xarray<double>{-std::log(2.0), 0.0, 2.0});
  REQUIRE(bool(xt::allclose(values_of(tg::elu(e)), xt::xarray<double>{-0.5, 0.0, 2.0})));
  REQUIRE(bool(xt::allclose(values_of(tg::elu(e, 0.5)), xt::xarray<double>{-0.25, 0.0, 2.0})));

  // softplus(ln 3) = ln 4, softplus(0) = ln 2; linear above the threshold (b x > 20), not at it.
  Tensor p = tg::tensor(xt::xarray<double>{0.0, ln3, 20.0, 30.0, -1000.0});
  REQUIRE(bool(xt::allclose(
      values_of(tg::softplus(p)),
      xt::xarray<double>{std::log(2.0), std::log(4.0), 20.000000002061153, 30.0, 0.0}, 1e-14)));
  // beta 2: log(1 + e^(2x)) / 2; threshold 1.5 cuts at 2x > 1.5, not at 2x = 1.5.
  Tensor q = tg::tensor(xt::xarray<double>{ln3 / 2, 0.75, 1.0});
  REQUIRE(bool(
      xt::allclose(values_of(tg::softplus(q, 2.0, 1.5)),
                   xt::xarray<double>{std::log(4.0) / 2, std::log1p(std::exp(1.5)) / 2, 1.0})));
  // An infinite threshold never cuts, and e^(b x) does not overflow.
  CHECK(tg::softplus(tg::tensor(xt::xarray<double>{1000.0}), 1.0, kInfinity).item() == 1000.0);
}

TEST_CASE("gelu, silu, elu, softplus gradients by hand", "[activation]") {
  auto gradient = [](auto fn, xt::xarray<double> at) {
    Tensor x = tg::tensor(std::move(at), true);
    tg::sum(fn(x)).backward();
    return values_of(x.grad());
  };
  // gelu' = Phi + x phi: 1/2 at 0, Phi(1) + phi(1) at 1.
  REQUIRE(bool(xt::allclose(gradient([](const Tensor& x) { return tg::gelu(x); }, {0.0, 1.0}),
                            xt::xarray<double>{0.5, 1.0833154705876864})));
  REQUIRE(bool(xt::allclose(
      gradient([](const Tensor& x) { return tg::gelu(x, tg::GeluApproximate::tanh); }, {0.0}),
      xt::xarray<double>{0.5})));
  // silu' = s (1 + x (1 - s)): 1/2 at 0, 3/4 (1 + ln 3 / 4) at ln 3.
  const double ln3 = std::log(3.0);
  REQUIRE(bool(xt::allclose(gradient([](const Tensor& x) { return tg::silu(x); }, {0.0, ln3}),
                            xt::xarray<double>{0.5, 0.75 * (1 + ln3 / 4)})));
  // elu' = alpha e^x on the left, alpha at 0 itself (as PyTorch), 1 on the right.
  REQUIRE(bool(xt::allclose(
      gradient([](const Tensor& x) { return tg::elu(x, 0.5); }, {-std::log(2.0), 0.0, 2.0}),
      xt::xarray<double>{0.25, 0.5, 1.0})));
  // softplus' = sigmoid(b x), 1 above the threshold.
  REQUIRE(
      bool(xt::allclose(gradient([](const Tensor& x) { return tg::softplus(x); }, {0.0, ln3, 30.0}),
                        xt::xarray<double>{0.5, 0.75, 1.0})));
  REQUIRE(bool(xt::allclose(
      gradient([](const Tensor& x) { return tg::softplus(x, 2.0, 1.5); }, {ln3 / 2, 1.0}),
      xt::xarray<double>{0.75, 1.0})));

  // Second derivatives: gelu''(0) = 2 phi(0) = sqrt(2/pi), the tanh form's too; silu''(0) =
  // 1/2; elu'' = alpha e^x on the left; softplus'' = b s (1 - s).
  auto second = [](auto fn, double at) {
    Tensor x = tg::tensor(xt::xarray<double>{at}, true);
    auto first = tg::grad({tg::sum(fn(x))}, {x}, {.create_graph = true});
    return tg::grad({tg::sum(first[0])}, {x})[0].item();
  };
  const double sqrt_2_over_pi = std::sqrt(2.0 / std::numbers::pi);
  CHECK(second([](const Tensor& x) { return tg::gelu(x); }, 0.0) == Approx(sqrt_2_over_pi));
  CHECK(second([](const Tensor& x) { return tg::gelu(x, tg::GeluApproximate::tanh); }, 0.0) ==
        Approx(sqrt_2_over_pi));
  CHECK(second([](const Tensor& x) { return tg::silu(x); }, 0.0) == Approx(0.5));
  CHECK(second([](const Tensor& x) { return tg::elu(x, 0.5); }, -std::log(2.0)) == Approx(0.25));
  CHECK(second([](const Tensor& x) { return tg::softplus(x, 2.0); }, 0.0) == Approx(0.5));
}

TEST_CASE("gradcheck of gelu, silu, elu, softplus on 24 random shapes and options",
          "[activation]") {
  tg::manual_seed(24);
  tg::Generator gen(24);
  const double thresholds[] = {20.0, 1.0, 0.5, kInfinity};
  for (int trial = 0; trial < 24; ++trial) {
    const tg::Shape shape = random_shape(gen, 0, 4);
    Tensor x = away_from_zero(shape);
    const double alpha = 0.25 * static_cast<double>(tg::test::uniform_int(gen, 1, 8));
    const double beta = 0.5 * static_cast<double>(tg::test::uniform_int(gen, 1, 6));
    const double threshold = thresholds[trial % 4];
    // Inputs whose b x is within 0.05 of the threshold are moved off it (the derivative jumps).
    Tensor z = tg::randn(shape, {.dtype = tg::f64});
    for (double& v : z.value<double>()) {
      if (std::abs(v * beta - threshold) < 0.05) v += 0.1 / beta;
    }
    z.set_requires_grad(true);
    INFO("trial " << trial << ": " << tg::to_string(shape) << " alpha " << alpha << " beta " << beta
                  << " threshold " << threshold);
    const tg::GradcheckOptions options{.check_grad_grad = true};
    for (const auto approximate : {tg::GeluApproximate::none, tg::GeluApproximate::tanh}) {
      CHECK(tg::gradcheck([approximate](const auto& in) { return tg::gelu(in[0], approximate); },
                          {x}, options));
      CHECK(tg::gradcheck(
          [approximate](const auto& in) { return tg::gelu(in[0], approximate) * in[0]; }, {x},
          options));
    }
    CHECK(tg::gradcheck([](const auto& in) { return tg::silu(in[0]); }, {x}, options));
    CHECK(tg::gradcheck([](const auto& in) { return tg::silu(in[0]) * in[0]; }, {x}, options));
    CHECK(tg::gradcheck([alpha](const auto& in) { return tg::elu(in[0], alpha); }, {x}, options));
    CHECK(tg::gradcheck([alpha](const auto& in) { return tg::elu(in[0], alpha) * in[0]; }, {x},
                        options));
    CHECK(tg::gradcheck(
        [beta, threshold](const auto& in) { return tg::softplus(in[0], beta, threshold); }, {z},
        options));
    CHECK(tg::gradcheck(
        [beta, threshold](const auto& in) { return tg::softplus(in[0], beta, threshold) * in[0]; },
        {z}, options));
  }
}

TEST_CASE("f32 gelu, silu, elu, softplus agree with a double computation (parallel sizes too)",
          "[activation]") {
  tg::manual_seed(25);
  for (std::size_t n : {std::size_t{7}, std::size_t{100'003}}) {
    Tensor x = tg::randn({n}, {.dtype = tg::f32});
    x.value<float>() *= 4.0f;
    const auto& xv = x.value<float>();
    const Tensor g = tg::gelu(x);
    const Tensor gt = tg::gelu(x, tg::GeluApproximate::tanh);
    const Tensor s = tg::silu(x);
    const Tensor e = tg::elu(x, 0.7);
    const Tensor p = tg::softplus(x, 1.5, 3.0);
    std::size_t mismatches = 0;
    const double k = std::sqrt(2.0 / std::numbers::pi);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = xv(i);
      const double expected[] = {
          0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))),
          0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))),
          v / (1.0 + std::exp(-v)),
          v > 0 ? v : 0.7 * (std::exp(v) - 1.0),
          1.5 * v > 3.0 ? v : std::log(1.0 + std::exp(1.5 * v)) / 1.5,
      };
      const float got[] = {g.value<float>()(i), gt.value<float>()(i), s.value<float>()(i),
                           e.value<float>()(i), p.value<float>()(i)};
      for (std::size_t j = 0; j < 5; ++j) {
        if (std::abs(got[j] - expected[j]) > 1e-6 * (1 + std::abs(expected[j]))) ++mismatches;
      }
    }
    INFO("n = " << n);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("gelu, silu, elu, softplus reject bad inputs with the op's name",
          "[activation][errors]") {
  Tensor labels = tg::zeros({2, 3}, {.dtype = tg::i64});
  Tensor x = tg::ones({4});
  REQUIRE_THROWS_AS(tg::gelu(labels), tg::Error);
  REQUIRE_THROWS_WITH(tg::gelu(labels), Catch::Contains("gelu") && Catch::Contains("i64") &&
                                            Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(
      tg::gelu(x, static_cast<tg::GeluApproximate>(7)),
      Catch::Contains("gelu") && Catch::Contains("approximate") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(tg::silu(Tensor{}), Catch::Contains("silu") && Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(tg::silu(labels), Catch::Contains("silu") && Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::elu(labels), Catch::Contains("elu") && Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::elu(x, std::nan("")),
                      Catch::Contains("elu") && Catch::Contains("alpha") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(tg::elu(x, kInfinity), Catch::Contains("elu") && Catch::Contains("alpha"));
  REQUIRE_THROWS_WITH(tg::softplus(labels),
                      Catch::Contains("softplus") && Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::softplus(x, 0.0), Catch::Contains("softplus") &&
                                                Catch::Contains("beta") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(tg::softplus(x, -1.0),
                      Catch::Contains("softplus") && Catch::Contains("beta"));
  REQUIRE_THROWS_WITH(tg::softplus(x, std::nan("")),
                      Catch::Contains("softplus") && Catch::Contains("beta"));
  REQUIRE_THROWS_WITH(tg::softplus(x, 1.0, std::nan("")), Catch::Contains("softplus") &&
                                                              Catch::Contains("threshold") &&
                                                              Catch::Contains("[4]"));
}
