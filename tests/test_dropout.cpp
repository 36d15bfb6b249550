#include <catch2/catch.hpp>

#include <cmath>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/random.hpp"

using tg::Tensor;
using tg::test::randn64;

TEST_CASE("dropout zeroes about a fraction p and scales survivors by exactly 1/(1-p)",
          "[dropout]") {
  tg::manual_seed(61);
  const std::size_t n = 200'000;
  // Offset from 0 so that a zero in the output can only come from the mask.
  Tensor x = tg::rand({n}, {.dtype = tg::f32});
  x.value<float>() += 0.5f;
  for (double p : {0.2, 0.5, 0.75}) {
    INFO("p = " << p);
    Tensor y = tg::dropout(x, p);
    const float scale = static_cast<float>(1.0 / (1.0 - p));  // 1.25, 2 and 4: exact in f32
    std::size_t zeros = 0;
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const float v = y.value<float>()(i);
      if (v == 0.0f) {
        ++zeros;
      } else if (v != x.value<float>()(i) * scale) {
        ++wrong;
      }
    }
    // Binomial: standard deviation sqrt(p (1-p) / n) < 0.0012; allow 5 of them.
    CHECK(std::abs(static_cast<double>(zeros) / n - p) < 0.006);
    CHECK(wrong == 0);
  }
}

TEST_CASE("dropout's mask is fixed by the seed", "[dropout]") {
  Tensor x = tg::ones({50, 40}, {.dtype = tg::f64});
  tg::manual_seed(7);
  Tensor a = tg::dropout(x, 0.5);
  tg::manual_seed(7);
  Tensor b = tg::dropout(x, 0.5);
  REQUIRE(bool(xt::all(xt::equal(a.value<double>(), b.value<double>()))));
  Tensor c = tg::dropout(x, 0.5);  // the stream moved on: another mask
  REQUIRE_FALSE(bool(xt::all(xt::equal(a.value<double>(), c.value<double>()))));
  tg::manual_seed(8);
  Tensor d = tg::dropout(x, 0.5);
  REQUIRE_FALSE(bool(xt::all(xt::equal(a.value<double>(), d.value<double>()))));
}

TEST_CASE("dropout in eval mode or with p = 0 returns x; p = 1 gives zeros", "[dropout]") {
  tg::manual_seed(62);
  Tensor x = tg::randn({3, 4}, {.requires_grad = true});
  CHECK(tg::dropout(x, 0.5, false).is_same(x));
  CHECK(tg::dropout(x, 0.0).is_same(x));
  CHECK(tg::dropout(x, 1.0, false).is_same(x));
  Tensor y = tg::dropout(x, 1.0);
  REQUIRE(bool(xt::all(xt::equal(y.value<float>(), 0.0f))));
  tg::sum(y).backward();
  REQUIRE(bool(xt::all(xt::equal(x.grad().value<float>(), 0.0f))));
}

TEST_CASE("dropout's gradient is the mask it drew", "[dropout]") {
  tg::manual_seed(63);
  Tensor x = tg::tensor(xt::xarray<double>(xt::ones<double>({20, 30}) * 3.0), true);
  Tensor y = tg::dropout(x, 0.6);
  tg::sum(y).backward();
  // Survivors read 3 / 0.4 = 7.5 and pass a gradient of 1 / 0.4 = 2.5; dropped ones, 0 and 0.
  const auto& out = y.value<double>();
  const auto& grad = x.grad().value<double>();
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool kept = out.data()[i] != 0.0;
    if (kept && (out.data()[i] != 3.0 * (1.0 / 0.4) || grad.data()[i] != 1.0 / 0.4)) ++wrong;
    if (!kept && grad.data()[i] != 0.0) ++wrong;
  }
  CHECK(wrong == 0);
}

TEST_CASE("gradcheck of dropout with the mask fixed, 20 random shapes and p", "[dropout]") {
  tg::manual_seed(64);
  tg::Generator gen(64);
  for (int trial = 0; trial < 20; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, 0, 4);
    const double p = 0.1 + 0.1 * static_cast<double>(trial % 8);
    const auto seed = static_cast<std::uint64_t>(100 + trial);
    Tensor x = randn64(shape);
    INFO("trial " << trial << ": " << tg::to_string(shape) << " p " << p);
    // Re-seeding inside the function makes every evaluation draw the same mask.
    CHECK(tg::gradcheck(
        [p, seed](const auto& in) {
          tg::manual_seed(seed);
          return tg::dropout(in[0], p);
        },
        {x}, {.check_grad_grad = trial % 2 == 0}));
    CHECK(tg::gradcheck(
        [p, seed](const auto& in) {
          tg::manual_seed(seed);
          return tg::dropout(in[0] * in[0], p) * in[0];
        },
        {x}, {.check_grad_grad = trial % 2 == 1}));
  }
}

TEST_CASE("dropout rejects bad inputs with the op's name", "[dropout][errors]") {
  Tensor x = tg::ones({2, 3});
  CHECK_THROWS_AS(tg::dropout(x, 1.5), tg::Error);
  CHECK_THROWS_WITH(tg::dropout(x, 1.5), Catch::Contains("dropout") && Catch::Contains("1.5") &&
                                             Catch::Contains("[0, 1]") && Catch::Contains("[2,3]"));
  CHECK_THROWS_WITH(tg::dropout(x, -0.1), Catch::Contains("dropout") && Catch::Contains("-0.1") &&
                                              Catch::Contains("[2,3]"));
  CHECK_THROWS_WITH(tg::dropout(x, std::nan("")),
                    Catch::Contains("dropout") && Catch::Contains("[2,3]"));
  // p is checked in eval mode too: a bad p is a bug whatever the mode.
  CHECK_THROWS_WITH(tg::dropout(x, 2.0, false), Catch::Contains("dropout"));
  CHECK_THROWS_WITH(tg::dropout(Tensor{}, 0.5),
                    Catch::Contains("dropout") && Catch::Contains("undefined"));
  CHECK_THROWS_WITH(tg::dropout(tg::zeros({4}, {.dtype = tg::i64}), 0.5),
                    Catch::Contains("dropout") && Catch::Contains("i64") && Catch::Contains("[4]"));
}
