#include <catch2/catch.hpp>

#include <tapegrad.hpp>

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
