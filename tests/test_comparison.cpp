#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/arrays.hpp"
#include "support/random.hpp"

using tg::Tensor;
using tg::test::broadcast_partner;
using tg::test::randn64;
using tg::test::random_shape;

namespace {

bool same(const Tensor& t, const xt::xarray<double>& expected) {
  return t.dtype() == tg::f64 && t.shape() == expected.shape() &&
         bool(xt::all(xt::equal(t.value<double>(), expected)));
}

}  // namespace

TEST_CASE("comparisons give 1/0 masks of the operands' dtype", "[comparison]") {
  Tensor a = tg::tensor(xt::xarray<double>{1.0, 2.0, 3.0});
  Tensor b = tg::tensor(xt::xarray<double>{3.0, 2.0, 1.0});
  CHECK(same(tg::eq(a, b), {0, 1, 0}));
  CHECK(same(tg::ne(a, b), {1, 0, 1}));
  CHECK(same(tg::lt(a, b), {1, 0, 0}));
  CHECK(same(tg::le(a, b), {1, 1, 0}));
  CHECK(same(tg::gt(a, b), {0, 0, 1}));
  CHECK(same(tg::ge(a, b), {0, 1, 1}));
  CHECK(same(tg::eq(a, 2.0), {0, 1, 0}));
  CHECK(same(tg::ne(a, 2.0), {1, 0, 1}));
  CHECK(same(tg::lt(a, 2.0), {1, 0, 0}));
  CHECK(same(tg::le(a, 2.0), {1, 1, 0}));
  CHECK(same(tg::gt(a, 2.0), {0, 0, 1}));
  CHECK(same(tg::ge(a, 2.0), {0, 1, 1}));

  Tensor f = tg::tensor(xt::xarray<float>{0.1f, 0.5f});
  Tensor mask = tg::eq(f, 0.1);
  CHECK(mask.dtype() == tg::f32);
  // The number is compared in the tensor's dtype: 0.1f == float(0.1), as in PyTorch.
  CHECK(mask.value<float>()(0) == 1.0f);
  CHECK(mask.value<float>()(1) == 0.0f);
}

TEST_CASE("comparisons broadcast as PyTorch", "[comparison]") {
  Tensor column = tg::tensor(tg::test::column({1.0, 2.0}));    // [2,1]
  Tensor row = tg::tensor(xt::xarray<double>{0.0, 1.0, 2.0});  // [3]
  CHECK(same(tg::gt(column, row), {{1, 0, 0}, {1, 1, 0}}));
  CHECK(same(tg::le(row, column), {{1, 1, 0}, {1, 1, 1}}));
  Tensor scalar = tg::tensor(xt::xarray<double>(1.0));  // 0-D
  CHECK(same(tg::eq(row, scalar), {0, 1, 0}));
  CHECK(tg::eq(scalar, scalar).shape() == tg::Shape{});
}

TEST_CASE("comparisons of i64 labels give i64 masks and compare exactly", "[comparison]") {
  Tensor labels = tg::tensor(xt::xarray<std::int64_t>{0, 2, 1, 2});
  Tensor predicted = tg::tensor(xt::xarray<std::int64_t>{0, 1, 1, 2});
  Tensor hits = tg::eq(labels, predicted);
  CHECK(hits.dtype() == tg::i64);
  REQUIRE(
      bool(xt::all(xt::equal(hits.value<std::int64_t>(), xt::xarray<std::int64_t>{1, 0, 1, 1}))));
  // 2 < 2.5: the number is not truncated to the integer type.
  REQUIRE(bool(xt::all(
      xt::equal(tg::lt(labels, 1.5).value<std::int64_t>(), xt::xarray<std::int64_t>{1, 0, 1, 0}))));
  REQUIRE(bool(xt::all(
      xt::equal(tg::ge(labels, 2.0).value<std::int64_t>(), xt::xarray<std::int64_t>{0, 1, 0, 1}))));
}

TEST_CASE("NaN compares unequal to everything, itself included", "[comparison]") {
  const double nan = std::nan("");
  Tensor x = tg::tensor(xt::xarray<double>{nan, 1.0});
  CHECK(same(tg::eq(x, x), {0, 1}));
  CHECK(same(tg::ne(x, x), {1, 0}));
  CHECK(same(tg::lt(x, 2.0), {0, 1}));
  CHECK(same(tg::ge(x, 0.0), {0, 1}));
}

TEST_CASE("a mask never requires grad and masks through multiplication", "[comparison]") {
  Tensor x = tg::tensor(xt::xarray<double>{-1.0, 2.0, 0.0, 3.0}, true);
  Tensor mask = tg::gt(x, 0.0);
  CHECK_FALSE(mask.requires_grad());
  CHECK_FALSE(tg::eq(x, x).requires_grad());
  // x * gt(x, 0) is relu by hand, gradient included.
  Tensor y = x * mask;
  REQUIRE(bool(xt::allclose(y.value<double>(), xt::xarray<double>{0.0, 2.0, 0.0, 3.0})));
  tg::sum(y).backward();
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{0.0, 1.0, 0.0, 1.0})));
}

TEST_CASE("where selects with broadcasting and any nonzero mask value", "[comparison]") {
  Tensor mask = tg::tensor(tg::test::column({1.0, 0.0}));       // [2,1]
  Tensor a = tg::tensor(xt::xarray<double>{10.0, 20.0, 30.0});  // [3]
  Tensor b = tg::tensor(xt::xarray<double>(-1.0));              // []
  CHECK(same(tg::where(mask, a, b), {{10.0, 20.0, 30.0}, {-1.0, -1.0, -1.0}}));
  CHECK(same(tg::where(mask, a, 7.0), {{10.0, 20.0, 30.0}, {7.0, 7.0, 7.0}}));
  CHECK(same(tg::where(mask, 7.0, a), {{7.0, 7.0, 7.0}, {10.0, 20.0, 30.0}}));

  // Masks of other dtypes: nonzero is true, NaN and negative values included.
  Tensor i64_mask = tg::tensor(xt::xarray<std::int64_t>{0, 3, -1});
  CHECK(same(tg::where(i64_mask, a, 0.0), {0.0, 20.0, 30.0}));
  Tensor f32_mask = tg::tensor(xt::xarray<float>{std::nanf(""), 0.0f, -0.0f});
  CHECK(same(tg::where(f32_mask, a, 0.0), {10.0, 0.0, 0.0}));

  // Branches of i64 labels: no gradient, no tape.
  Tensor labels = tg::tensor(xt::xarray<std::int64_t>{4, 5, 6});
  Tensor picked = tg::where(i64_mask, labels, -1.0);
  CHECK(picked.dtype() == tg::i64);
  REQUIRE(
      bool(xt::all(xt::equal(picked.value<std::int64_t>(), xt::xarray<std::int64_t>{-1, 5, 6}))));
  // ... even when the mask is a tensor that requires grad.
  Tensor soft_mask = tg::tensor(xt::xarray<double>{0.0, 1.0, 2.0}, true);
  CHECK_FALSE(tg::where(soft_mask, labels, labels).requires_grad());
}

TEST_CASE("where's gradient goes to the selected branch only, summed over broadcasts",
          "[comparison]") {
  Tensor mask = tg::tensor(xt::xarray<double>{{1.0, 0.0, 1.0}, {0.0, 0.0, 1.0}});  // [2,3]
  Tensor a = tg::tensor(xt::xarray<double>{1.0, 2.0, 3.0}, true);                  // [3]
  Tensor b = tg::tensor(tg::test::column({4.0, 5.0}), true);                       // [2,1]
  Tensor g = tg::tensor(xt::xarray<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  tg::where(mask, a, b).backward(g);
  // a gets g where the mask is set, summed over rows; b gets the rest, summed over columns.
  REQUIRE(bool(xt::allclose(a.grad().value<double>(), xt::xarray<double>{1.0, 0.0, 9.0})));
  REQUIRE(bool(xt::allclose(b.grad().value<double>(), tg::test::column({2.0, 9.0}))));

  // A mask that requires grad gets none (the selection is piecewise constant in it).
  Tensor soft_mask = tg::tensor(xt::xarray<double>{1.0, 0.0, 1.0}, true);
  tg::sum(tg::where(soft_mask, a, 0.0)).backward();
  CHECK_FALSE(soft_mask.grad().defined());

  // An infinite gradient where a branch is not taken does not reach it: 0, not inf * 0 = NaN.
  Tensor m = tg::tensor(xt::xarray<double>{0.0, 1.0});
  Tensor x = tg::tensor(xt::xarray<double>{1.0, 2.0}, true);
  Tensor y = tg::tensor(xt::xarray<double>{3.0, 4.0}, true);
  const double inf = std::numeric_limits<double>::infinity();
  tg::where(m, x, y).backward(tg::tensor(xt::xarray<double>{inf, 1.0}));
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{0.0, 1.0})));
  CHECK(std::isinf(y.grad().value<double>()(0)));
  CHECK(y.grad().value<double>()(1) == 0.0);
}

TEST_CASE("gradcheck of where on 24 random broadcasting shapes", "[comparison]") {
  tg::manual_seed(61);
  tg::Generator gen(61);
  for (int trial = 0; trial < 24; ++trial) {
    tg::Shape sa = random_shape(gen, 0, 4);
    tg::Shape sb = broadcast_partner(gen, sa);
    tg::Shape sm = broadcast_partner(gen, sa);
    if (trial % 2) std::swap(sa, sb);
    if (trial % 3 == 0) std::swap(sa, sm);
    Tensor a = randn64(sa);
    Tensor b = randn64(sb, trial % 4 != 1);
    // A 0/1 f64 mask, held constant by gradcheck (it does not require grad).
    Tensor mask = tg::gt(randn64(sm, false), 0.0);
    INFO("trial " << trial << ": mask " << tg::to_string(sm) << ", a " << tg::to_string(sa)
                  << ", b " << tg::to_string(sb));
    const tg::GradcheckOptions options{.check_grad_grad = true};
    CHECK(tg::gradcheck([](const auto& in) { return tg::where(in[0], in[1], in[2]); }, {mask, a, b},
                        options));
    // Second derivatives through the gradient's own where: a branch that depends on x twice.
    CHECK(tg::gradcheck(
        [](const auto& in) { return tg::where(in[0], in[1] * in[1], tg::exp(in[2])); },
        {mask, a, b}, options));
    CHECK(tg::gradcheck([](const auto& in) { return tg::where(in[0], in[1], 0.5); }, {mask, a},
                        options));
  }
}

TEST_CASE("comparisons and where reject bad operands with the op's name", "[comparison][errors]") {
  Tensor a = tg::ones({2, 3});
  Tensor labels = tg::zeros({2, 3}, {.dtype = tg::i64});
  REQUIRE_THROWS_AS(tg::lt(a, tg::ones({4})), tg::Error);
  REQUIRE_THROWS_WITH(tg::lt(a, tg::ones({4})), Catch::Contains("lt") && Catch::Contains("[2,3]") &&
                                                    Catch::Contains("[4]") &&
                                                    Catch::Contains("broadcast"));
  REQUIRE_THROWS_WITH(tg::eq(a, tg::ones({2, 3}, {.dtype = tg::f64})),
                      Catch::Contains("eq") && Catch::Contains("f32") && Catch::Contains("f64"));
  REQUIRE_THROWS_WITH(tg::ge(a, labels),
                      Catch::Contains("ge") && Catch::Contains("i64") && Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::ne(Tensor{}, 1.0), Catch::Contains("ne") && Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(tg::gt(a, Tensor{}), Catch::Contains("gt") && Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(tg::le(Tensor{}, a), Catch::Contains("le") && Catch::Contains("undefined"));

  REQUIRE_THROWS_AS(tg::where(tg::ones({2, 3}), a, tg::ones({3, 3})), tg::Error);
  REQUIRE_THROWS_WITH(
      tg::where(tg::ones({2, 3}), a, tg::ones({3, 3})),
      Catch::Contains("where") && Catch::Contains("[2,3]") && Catch::Contains("[3,3]"));
  REQUIRE_THROWS_WITH(tg::where(tg::ones({4}), a, a), Catch::Contains("where") &&
                                                          Catch::Contains("[4]") &&
                                                          Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::where(tg::ones({3}), a, tg::ones({3}, {.dtype = tg::f64})),
                      Catch::Contains("where") && Catch::Contains("f64"));
  REQUIRE_THROWS_WITH(tg::where(Tensor{}, a, a), Catch::Contains("where") &&
                                                     Catch::Contains("mask") &&
                                                     Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(tg::where(a, Tensor{}, 0.0),
                      Catch::Contains("where") && Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(tg::where(a, labels, 0.5),
                      Catch::Contains("where") && Catch::Contains("i64") &&
                          Catch::Contains("0.5") && Catch::Contains("whole number"));
  REQUIRE_THROWS_WITH(tg::where(a, std::numeric_limits<double>::quiet_NaN(), labels),
                      Catch::Contains("where") && Catch::Contains("i64"));
}
