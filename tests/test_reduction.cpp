#include <catch2/catch.hpp>

#include <utility>
#include <vector>

#include <tapegrad.hpp>
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
