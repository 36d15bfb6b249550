#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "support/arrays.hpp"
#include "support/random.hpp"

using tg::Tensor;

TEST_CASE("sum and mean over all elements or over dims", "[reduction]") {
  Tensor x = tg::tensor(xt::xarray<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK(tg::sum(x).item() == 21.0);
  CHECK(tg::sum(x).dim() == 0);
  CHECK(tg::mean(x).item() == 3.5);
  REQUIRE(bool(xt::allclose(tg::sum(x, {0}).value<double>(), xt::xarray<double>{5.0, 7.0, 9.0})));
  REQUIRE(
      bool(xt::allclose(tg::sum(x, {-1}, true).value<double>(), tg::test::column({6.0, 15.0}))));
  CHECK(tg::sum(x, {-1}, true).shape() == tg::Shape{2, 1});
  REQUIRE(bool(xt::allclose(tg::mean(x, {1}).value<double>(), xt::xarray<double>{2.0, 5.0})));
  CHECK(tg::sum(x, {0, 1}).item() == 21.0);
}

TEST_CASE("sum over dims matches xtensor on random shapes", "[reduction]") {
  tg::manual_seed(31);
  tg::Generator gen(31);
  for (int trial = 0; trial < 20; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, 1, 4, 5);
    Tensor x = tg::test::randn64(shape, false);
    const auto dim = tg::test::uniform_int(gen, 0, static_cast<std::int64_t>(shape.size()) - 1);
    xt::xarray<double> expected = xt::sum(x.value<double>(), {static_cast<std::size_t>(dim)});
    REQUIRE(bool(xt::allclose(tg::sum(x, {dim}).value<double>(), expected)));
  }
}

// Long contiguous runs (summed in vector lanes), size-1 dims and neighbouring summed dims (merged
// before the loops), in float and double, against xtensor's sum of the same values in double.
TEST_CASE("sum over dim sets matches xtensor on long rows, in float and double", "[reduction]") {
  tg::manual_seed(33);
  tg::Generator gen(33);
  for (int trial = 0; trial < 30; ++trial) {
    // Rank up to 3 with dims up to 70, or up to 4 with dims up to 24: at most 343K elements.
    const bool long_dims = trial % 2 == 0;
    const tg::Shape shape = tg::test::random_shape(gen, 1, long_dims ? 3 : 4, long_dims ? 70 : 24);
    Tensor x = tg::test::randn64(shape, false);
    std::vector<std::int64_t> dims;
    std::vector<std::size_t> axes;
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (tg::test::uniform_int(gen, 0, 1) == 1) {
        dims.push_back(static_cast<std::int64_t>(d));
        axes.push_back(d);
      }
    }
    if (dims.empty()) continue;  // sum(x, {}) sums everything: covered above
    INFO("shape " << tg::to_string(shape) << ", " << dims.size() << " dims summed");
    const xt::xarray<double> expected = xt::sum(x.value<double>(), axes);
    REQUIRE(bool(xt::allclose(tg::sum(x, dims).value<double>(), expected, 1e-12, 1e-12)));
    const xt::xarray<double> in_float =
        xt::cast<double>(tg::sum(x.to(tg::DType::f32), dims).value<float>());
    REQUIRE(bool(xt::allclose(in_float, expected, 1e-4, 1e-3)));
  }
}

// A sum that keeps one dim splits the kept values across threads (a convolution's bias
// gradient: [N, C, H, W] -> [C]; a linear layer's: [N, C] -> [C]): every value is added in the
// order of the serial loop, so the bits are the same at 1 and 2 threads. Where the first dim is
// summed, two copies of x stacked in front make a second kept dim, which takes the general
// (serial) loop: each copy's sum must have those bits too.
TEST_CASE("a sum that keeps one dim gives the same bits at any thread count", "[reduction]") {
  tg::manual_seed(34);
  for (const auto& [shape, dims] :
       {std::pair<tg::Shape, std::vector<std::int64_t>>{{64, 64, 24, 24}, {0, 2, 3}},
        std::pair<tg::Shape, std::vector<std::int64_t>>{{300, 70}, {0}},
        std::pair<tg::Shape, std::vector<std::int64_t>>{{3, 5000, 7}, {2}}}) {
    INFO("shape " << tg::to_string(shape));
    const Tensor x = tg::randn(shape);
    // Clang 14 cannot capture a structured binding: the dims are captured by name.
    auto sum_at = [&x, &summed = dims](int threads) {
      tg::set_num_threads(threads);
      xt::xarray<float> result = tg::sum(x, summed).value<float>();
      tg::set_num_threads(0);
      return result;
    };
    const xt::xarray<float> one = sum_at(1);
    const bool same_bits = one == sum_at(2);
    CHECK(same_bits);
    if (dims.front() != 0) continue;
    std::vector<std::int64_t> one_in_front{1};
    tg::Shape two_in_front{2};
    for (const std::size_t size : shape) {
      one_in_front.push_back(static_cast<std::int64_t>(size));
      two_in_front.push_back(size);
    }
    const Tensor stacked = tg::expand(tg::reshape(x, one_in_front), two_in_front);
    std::vector<std::int64_t> shifted;
    for (const std::int64_t d : dims) shifted.push_back(d + 1);
    const xt::xarray<float> general = tg::sum(stacked, shifted).value<float>();
    const bool first_copy = xt::xarray<float>(xt::view(general, 0)) == one;
    const bool second_copy = xt::xarray<float>(xt::view(general, 1)) == one;
    CHECK(first_copy);
    CHECK(second_copy);
  }
}

TEST_CASE("gradcheck of sum and mean on 20 random shapes and dim sets", "[reduction]") {
  tg::manual_seed(32);
  tg::Generator gen(32);
  for (int trial = 0; trial < 20; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, 1, 4);
    std::vector<std::int64_t> dims;
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (gen.below(2))
        dims.push_back(gen.below(2) ? static_cast<std::int64_t>(d)
                                    : static_cast<std::int64_t>(d) -
                                          static_cast<std::int64_t>(shape.size()));
    }
    const bool keepdim = trial % 2 == 0;
    INFO(tg::to_string(shape) << " dims " << dims.size() << " keepdim " << keepdim);
    Tensor x = tg::test::randn64(shape);
    CHECK(tg::gradcheck([&](const auto& in) { return tg::sum(in[0], dims, keepdim); }, {x},
                        {.check_grad_grad = true}));
    CHECK(tg::gradcheck([&](const auto& in) { return tg::mean(in[0], dims, keepdim); }, {x},
                        {.check_grad_grad = true}));
    CHECK(tg::gradcheck([](const auto& in) { return tg::mean(in[0]); }, {x}));
  }
}

TEST_CASE("argmax picks the first maximum", "[reduction]") {
  Tensor x = tg::tensor(xt::xarray<float>{{1.0f, 3.0f, 3.0f}, {7.0f, 2.0f, 7.0f}});
  Tensor rows = tg::argmax(x, 1);
  CHECK(rows.dtype() == tg::i64);
  REQUIRE(bool(xt::all(xt::equal(rows.value<std::int64_t>(), xt::xarray<std::int64_t>{1, 0}))));
  Tensor cols = tg::argmax(x, 0, true);
  CHECK(cols.shape() == tg::Shape{1, 3});
  REQUIRE(
      bool(xt::all(xt::equal(cols.value<std::int64_t>(), xt::xarray<std::int64_t>{{1, 0, 1}}))));
}

TEST_CASE("reductions reject bad dims and dtypes", "[reduction][errors]") {
  Tensor x = tg::ones({2, 3});
  CHECK_THROWS_WITH(tg::sum(x, {2}), Catch::Contains("sum") && Catch::Contains("dim 2"));
  CHECK_THROWS_WITH(tg::sum(x, {1, -1}), Catch::Contains("sum") && Catch::Contains("twice"));
  CHECK_THROWS_WITH(tg::mean(x, {-3}), Catch::Contains("mean") && Catch::Contains("-3"));
  CHECK_THROWS_WITH(tg::mean(tg::zeros({0})), Catch::Contains("mean") && Catch::Contains("[0]"));
  CHECK_THROWS_WITH(tg::sum(tg::zeros({2}, {.dtype = tg::i64})),
                    Catch::Contains("sum") && Catch::Contains("i64"));
  CHECK_THROWS_WITH(tg::argmax(x, 5), Catch::Contains("argmax"));
  CHECK_THROWS_WITH(tg::argmax(Tensor{}, 0), Catch::Contains("argmax"));
}

TEST_CASE("max and min along a dim give values and first indices", "[reduction]") {
  Tensor x = tg::tensor(xt::xarray<double>{{1, 3, 3}, {7, 2, 7}}, true);
  auto [values, indices] = tg::max(x, 1);
  REQUIRE(bool(xt::allclose(values.value<double>(), xt::xarray<double>{3, 7})));
  CHECK(indices.dtype() == tg::i64);
  REQUIRE(bool(xt::all(xt::equal(indices.value<std::int64_t>(), xt::xarray<std::int64_t>{1, 0}))));
  const tg::ValuesIndices smallest = tg::min(x, 0, true);
  CHECK(smallest.values.shape() == tg::Shape{1, 3});
  REQUIRE(bool(xt::allclose(smallest.values.value<double>(), xt::xarray<double>{{1, 2, 3}})));
  REQUIRE(bool(xt::all(
      xt::equal(smallest.indices.value<std::int64_t>(), xt::xarray<std::int64_t>{{0, 1, 0}}))));
  CHECK(tg::min(x, -1).indices.value<std::int64_t>()(1) == 1);

  // The gradient goes to the selected element only, even on ties.
  values.backward(tg::tensor(xt::xarray<double>{10, 20}));
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{{0, 10, 0}, {20, 0, 0}})));

  // A 0-D input is one line of one value.
  auto [v0, i0] = tg::max(tg::tensor(xt::xarray<double>(4.0)), -1);
  CHECK(v0.shape() == tg::Shape{});
  CHECK(v0.item() == 4.0);
  CHECK(i0.item<std::int64_t>() == 0);
}

TEST_CASE("max and min count NaN as the extreme, as PyTorch", "[reduction]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = tg::tensor(xt::xarray<double>{{1, nan, 3, nan}, {2, 1, 4, 0}});
  for (const auto& [values, indices] : {tg::max(x, 1), tg::min(x, 1)}) {
    CHECK(std::isnan(values.value<double>()(0)));
    CHECK(indices.value<std::int64_t>()(0) == 1);
  }
  CHECK(tg::max(x, 1).indices.value<std::int64_t>()(1) == 2);
  CHECK(tg::min(x, 1).indices.value<std::int64_t>()(1) == 3);
  CHECK(tg::argmax(x, 1).value<std::int64_t>()(0) == 1);
  CHECK(std::isnan(tg::max(x).item()));
  CHECK(std::isnan(tg::min(x).item()));
}

TEST_CASE("max and min of all elements share the gradient among ties", "[reduction]") {
  Tensor x = tg::tensor(xt::xarray<double>{{1, 3}, {3, 2}}, true);
  Tensor top = tg::max(x);
  CHECK(top.dim() == 0);
  CHECK(top.item() == 3.0);
  top.backward(tg::tensor(xt::xarray<double>(4.0)));
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{{0, 2}, {2, 0}})));
  x.zero_grad();
  tg::min(x).backward();
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{{1, 0}, {0, 0}})));
  // A NaN result: the gradient goes to the NaNs (PyTorch 1.13's evenly_distribute_backward).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor y = tg::tensor(xt::xarray<double>{nan, 5, nan}, true);
  tg::max(y).backward();
  REQUIRE(bool(xt::allclose(y.grad().value<double>(), xt::xarray<double>{0.5, 0, 0.5})));
}

TEST_CASE("max and min work on i64 tensors without a tape", "[reduction]") {
  Tensor labels = tg::tensor(xt::xarray<std::int64_t>{{4, 9, 9}, {0, -2, 5}});
  auto [values, indices] = tg::max(labels, 1);
  CHECK(values.dtype() == tg::i64);
  REQUIRE(bool(xt::all(xt::equal(values.value<std::int64_t>(), xt::xarray<std::int64_t>{9, 5}))));
  REQUIRE(bool(xt::all(xt::equal(indices.value<std::int64_t>(), xt::xarray<std::int64_t>{1, 2}))));
  CHECK(tg::min(labels).item<std::int64_t>() == -2);
  CHECK(tg::max(labels).item<std::int64_t>() == 9);
}

TEST_CASE("gradcheck of max and min on 20 random shapes, second order too", "[reduction]") {
  tg::manual_seed(35);
  tg::Generator gen(35);
  for (int trial = 0; trial < 20; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, 1, 4);
    const auto rank = static_cast<std::int64_t>(shape.size());
    const auto dim = tg::test::uniform_int(gen, -rank, rank - 1);
    const bool keepdim = gen.below(2) == 1;
    INFO(tg::to_string(shape) << " dim " << dim << " keepdim " << keepdim);
    // Distinct values (ties almost surely absent): max and min are smooth around them.
    Tensor x = tg::test::randn64(shape);
    // Squared, so that the second derivative passes through put_along and take_along.
    const tg::GradcheckOptions second{.check_grad_grad = true};
    auto squared = [](const Tensor& t) { return tg::mul(t, t); };
    CHECK(tg::gradcheck(
        [&](const auto& in) { return squared(tg::max(in[0], dim, keepdim).values); }, {x}, second));
    CHECK(tg::gradcheck(
        [&](const auto& in) { return squared(tg::min(in[0], dim, keepdim).values); }, {x}, second));
    CHECK(tg::gradcheck([&](const auto& in) { return squared(tg::max(in[0])); }, {x}, second));
    CHECK(tg::gradcheck([&](const auto& in) { return squared(tg::min(in[0])); }, {x}, second));
    // The indices agree with argmax, and the values with xtensor.
    const auto [values, indices] = tg::max(x, dim, keepdim);
    REQUIRE(bool(xt::all(xt::equal(indices.value<std::int64_t>(),
                                   tg::argmax(x, dim, keepdim).value<std::int64_t>()))));
    const auto axis = static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
    const xt::xarray<double> expected = xt::amax(x.value<double>(), {axis});
    REQUIRE(bool(xt::allclose(tg::reshape(values, {-1}).value<double>(), xt::flatten(expected))));
  }
}

TEST_CASE("put_along and take_along are each other's gradient", "[reduction]") {
  tg::manual_seed(36);
  Tensor x = tg::test::randn64({3, 4, 2});
  Tensor indices = tg::max(x, 1, true).indices;
  Tensor g = tg::test::randn64({3, 1, 2});
  CHECK(tg::gradcheck(
      [&](const auto& in) {
        return tg::detail::put_along(in[0], {3, 4, 2}, 1, indices, true);
      },
      {g}));
  CHECK(tg::gradcheck(
      [&](const auto& in) { return tg::detail::take_along(in[0], 1, indices, true); }, {x}));
  REQUIRE(bool(xt::allclose(tg::detail::take_along(x, 1, indices, true).value<double>(),
                            tg::max(x, 1, true).values.value<double>())));
}

TEST_CASE("max and min reject bad dims and empty inputs", "[reduction][errors]") {
  Tensor x = tg::ones({2, 3});
  REQUIRE_THROWS_AS(tg::max(x, 2), tg::Error);
  REQUIRE_THROWS_WITH(tg::max(x, 2), Catch::Contains("max") && Catch::Contains("dim 2") &&
                                         Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::min(x, -3), Catch::Contains("min") && Catch::Contains("-3"));
  REQUIRE_THROWS_AS(tg::max(tg::zeros({2, 0}), 1), tg::Error);
  REQUIRE_THROWS_WITH(tg::max(tg::zeros({2, 0}), 1), Catch::Contains("max") &&
                                                         Catch::Contains("empty") &&
                                                         Catch::Contains("[2,0]"));
  CHECK(tg::max(tg::zeros({0, 2}), 1).values.shape() == tg::Shape{0});  // nothing to reduce
  REQUIRE_THROWS_WITH(tg::min(tg::zeros({0})), Catch::Contains("min") && Catch::Contains("[0]"));
  REQUIRE_THROWS_WITH(tg::max(Tensor{}), Catch::Contains("max"));
  REQUIRE_THROWS_WITH(tg::min(Tensor{}, 0), Catch::Contains("min"));
  REQUIRE_THROWS_WITH(tg::max(tg::ones({}), 1), Catch::Contains("max") && Catch::Contains("[]"));
  Tensor indices = tg::max(x, 1).indices;
  REQUIRE_THROWS_WITH(tg::detail::put_along(tg::ones({3}), {2, 3}, 1, indices, false),
                      Catch::Contains("put_along"));
  REQUIRE_THROWS_WITH(tg::detail::take_along(x, 0, indices, false),
                      Catch::Contains("take_along") && Catch::Contains("i64 [3]"));
  REQUIRE_THROWS_WITH(
      tg::detail::take_along(x, 1, tg::tensor(xt::xarray<std::int64_t>{5, 0}), false),
      Catch::Contains("take_along") && Catch::Contains("index 5") &&
          Catch::Contains("out of range"));
}
