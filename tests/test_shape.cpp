#include <catch2/catch.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmanipulation.hpp>

#include "support/random.hpp"

using tg::Tensor;

TEST_CASE("reshape infers -1 and keeps row-major order", "[shape]") {
  Tensor x = tg::tensor(xt::xarray<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  Tensor y = tg::reshape(x, {3, -1});
  CHECK(y.shape() == tg::Shape{3, 2});
  CHECK(y.value<double>()(1, 0) == 3.0);
  CHECK(tg::flatten(tg::zeros({2, 3, 4, 5}), 1).shape() == tg::Shape{2, 60});
  CHECK(tg::flatten(tg::zeros({2, 3, 4, 5}), 1, 2).shape() == tg::Shape{2, 12, 5});
  CHECK(tg::flatten(tg::zeros({2, 3})).shape() == tg::Shape{6});
  Tensor t = tg::transpose(x, 0, 1);
  CHECK(t.shape() == tg::Shape{3, 2});
  CHECK(t.value<double>()(2, 1) == 6.0);
}

TEST_CASE("shape ops work on i64 tensors (labels) without a tape", "[shape]") {
  Tensor labels = tg::tensor(xt::xarray<std::int64_t>{{1, 2}, {3, 4}});
  CHECK(tg::flatten(labels).shape() == tg::Shape{4});
  CHECK(tg::transpose(labels, 0, 1).value<std::int64_t>()(0, 1) == 3);
}

TEST_CASE("gradcheck of reshape, flatten, transpose on 20 random shapes", "[shape]") {
  tg::manual_seed(41);
  tg::Generator gen(41);
  for (int trial = 0; trial < 20; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, 2, 4);
    const auto rank = static_cast<std::int64_t>(shape.size());
    const auto d0 = tg::test::uniform_int(gen, -rank, rank - 1);
    const auto d1 = tg::test::uniform_int(gen, -rank, rank - 1);
    const auto start = tg::test::uniform_int(gen, 0, rank - 1);
    INFO(tg::to_string(shape) << " transpose " << d0 << "," << d1 << " flatten from " << start);
    Tensor x = tg::test::randn64(shape);
    CHECK(tg::gradcheck([](const auto& in) { return tg::reshape(in[0], {-1}); }, {x},
                        {.check_grad_grad = true}));
    CHECK(tg::gradcheck([start](const auto& in) { return tg::flatten(in[0], start); }, {x}));
    CHECK(tg::gradcheck([d0, d1](const auto& in) { return tg::transpose(in[0], d0, d1); }, {x},
                        {.check_grad_grad = true}));
  }
}

TEST_CASE("shape ops reject bad shapes and dims", "[shape][errors]") {
  Tensor x = tg::ones({2, 3});
  CHECK_THROWS_WITH(tg::reshape(x, {4, 2}), Catch::Contains("reshape") &&
                                                Catch::Contains("[4,2]") &&
                                                Catch::Contains("[2,3]"));
  CHECK_THROWS_WITH(tg::reshape(x, {-1, -1}), Catch::Contains("reshape"));
  CHECK_THROWS_WITH(tg::reshape(x, {4, -1}), Catch::Contains("reshape") && Catch::Contains("-1"));
  CHECK_THROWS_WITH(tg::flatten(x, 1, 0), Catch::Contains("flatten"));
  CHECK_THROWS_WITH(tg::transpose(x, 0, 2),
                    Catch::Contains("transpose") && Catch::Contains("dim 2"));
  CHECK_THROWS_WITH(tg::reshape(Tensor{}, {1}), Catch::Contains("reshape"));
}

TEST_CASE("squeeze, unsqueeze and permute move dims, by hand", "[shape]") {
  Tensor x = tg::zeros({1, 3, 1, 2});
  CHECK(tg::squeeze(x).shape() == tg::Shape{3, 2});
  CHECK(tg::squeeze(x, 2).shape() == tg::Shape{1, 3, 2});
  CHECK(tg::squeeze(x, -4).shape() == tg::Shape{3, 1, 2});
  CHECK(tg::squeeze(x, 1).is_same(x));  // not of size 1: unchanged, as PyTorch
  CHECK(tg::squeeze(tg::ones({1, 1})).shape() == tg::Shape{});
  Tensor scalar = tg::ones({});
  CHECK(tg::squeeze(scalar, -1).shape() == tg::Shape{});
  CHECK(tg::unsqueeze(scalar, 0).shape() == tg::Shape{1});
  CHECK(tg::unsqueeze(x, 4).shape() == tg::Shape{1, 3, 1, 2, 1});
  CHECK(tg::unsqueeze(x, -1).shape() == tg::Shape{1, 3, 1, 2, 1});
  CHECK(tg::unsqueeze(x, -5).shape() == tg::Shape{1, 1, 3, 1, 2});
  CHECK(tg::unsqueeze(x, 1).shape() == tg::Shape{1, 1, 3, 1, 2});

  // y[i, j, k] = x[k, i, j]: output dim 0 is input dim 1, and so on.
  Tensor c = tg::tensor(xt::xarray<double>{{{0, 1, 2}, {3, 4, 5}}}, true);  // [1, 2, 3]
  Tensor p = tg::permute(c, {1, -1, 0});
  CHECK(p.shape() == tg::Shape{2, 3, 1});
  CHECK(p.value<double>()(1, 2, 0) == 5.0);
  CHECK(p.value<double>()(0, 1, 0) == 1.0);
  CHECK(tg::permute(c, {0, 1, 2}).is_same(c));
  xt::xarray<double> g = xt::zeros<double>({2, 3, 1});
  g(1, 0, 0) = 7.0;  // lands on c[0, 1, 0]
  p.backward(tg::tensor(g));
  CHECK(c.grad().value<double>()(0, 1, 0) == 7.0);
  CHECK(tg::sum(c.grad()).item() == 7.0);
}

TEST_CASE("squeeze, unsqueeze and permute work on i64 tensors", "[shape]") {
  Tensor labels = tg::tensor(xt::xarray<std::int64_t>{{1, 2, 3}});
  CHECK(tg::squeeze(labels).shape() == tg::Shape{3});
  CHECK(tg::unsqueeze(labels, 0).dtype() == tg::i64);
  Tensor t = tg::permute(labels, {1, 0});
  CHECK(t.shape() == tg::Shape{3, 1});
  CHECK(t.value<std::int64_t>()(2, 0) == 3);
}

TEST_CASE("gradcheck of squeeze, unsqueeze and permute on 20 random shapes", "[shape]") {
  tg::manual_seed(42);
  tg::Generator gen(42);
  for (int trial = 0; trial < 20; ++trial) {
    tg::Shape shape = tg::test::random_shape(gen, 1, 4, 3);
    const auto rank = static_cast<std::int64_t>(shape.size());
    const auto dim = tg::test::uniform_int(gen, -rank, rank - 1);
    const auto new_dim = tg::test::uniform_int(gen, -rank - 1, rank);
    std::vector<std::int64_t> order(shape.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
    for (std::size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1], order[gen.below(i)]);
    }
    // Negative spellings of some dims.
    for (auto& d : order) {
      if (gen.below(2) == 1) d -= rank;
    }
    INFO(tg::to_string(shape) << " squeeze " << dim << " unsqueeze " << new_dim);
    Tensor x = tg::test::randn64(shape);
    const tg::GradcheckOptions second{.check_grad_grad = true};
    auto squared = [](const Tensor& t) { return tg::mul(t, t); };
    CHECK(tg::gradcheck([&](const auto& in) { return squared(tg::squeeze(in[0])); }, {x}, second));
    CHECK(tg::gradcheck([&](const auto& in) { return squared(tg::squeeze(in[0], dim)); }, {x},
                        second));
    CHECK(tg::gradcheck([&](const auto& in) { return squared(tg::unsqueeze(in[0], new_dim)); }, {x},
                        second));
    CHECK(tg::gradcheck([&](const auto& in) { return squared(tg::permute(in[0], order)); }, {x},
                        second));
    // permute against xtensor's transpose.
    std::vector<std::size_t> axes;
    for (const auto d : order) axes.push_back(static_cast<std::size_t>(d < 0 ? d + rank : d));
    const xt::xarray<double> expected = xt::transpose(x.value<double>(), axes);
    REQUIRE(bool(xt::allclose(tg::permute(x, order).value<double>(), expected)));
  }
}

TEST_CASE("squeeze, unsqueeze and permute reject bad dims", "[shape][errors]") {
  Tensor x = tg::ones({2, 1, 3});
  REQUIRE_THROWS_AS(tg::squeeze(x, 3), tg::Error);
  REQUIRE_THROWS_WITH(tg::squeeze(x, 3), Catch::Contains("squeeze") && Catch::Contains("[2,1,3]"));
  REQUIRE_THROWS_WITH(tg::squeeze(tg::ones({}), 1), Catch::Contains("squeeze"));
  REQUIRE_THROWS_WITH(tg::squeeze(Tensor{}), Catch::Contains("squeeze"));
  REQUIRE_THROWS_AS(tg::unsqueeze(x, 4), tg::Error);
  REQUIRE_THROWS_WITH(tg::unsqueeze(x, 4), Catch::Contains("unsqueeze") &&
                                               Catch::Contains("dim 4") &&
                                               Catch::Contains("[2,1,3]"));
  REQUIRE_THROWS_WITH(tg::unsqueeze(x, -5), Catch::Contains("unsqueeze") && Catch::Contains("-5"));
  REQUIRE_THROWS_AS(tg::permute(x, {0, 1}), tg::Error);
  REQUIRE_THROWS_WITH(tg::permute(x, {0, 1}),
                      Catch::Contains("permute") && Catch::Contains("[2,1,3]"));
  REQUIRE_THROWS_WITH(tg::permute(x, {0, 1, -3}),
                      Catch::Contains("permute") && Catch::Contains("twice"));
  REQUIRE_THROWS_WITH(tg::permute(x, {0, 1, 3}),
                      Catch::Contains("permute") && Catch::Contains("dim 3"));
}
