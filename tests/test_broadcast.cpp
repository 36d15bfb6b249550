#include <catch2/catch.hpp>

#include <tapegrad.hpp>

#include "support/arrays.hpp"
#include "support/random.hpp"

using tg::Tensor;

TEST_CASE("broadcast_shapes aligns from the right", "[broadcast]") {
  CHECK(tg::broadcast_shapes({3, 1, 5}, {4, 5}, "t") == tg::Shape{3, 4, 5});
  CHECK(tg::broadcast_shapes({}, {2, 3}, "t") == tg::Shape{2, 3});
  CHECK(tg::broadcast_shapes({2, 1}, {1, 3}, "t") == tg::Shape{2, 3});
  CHECK_THROWS_WITH(tg::broadcast_shapes({2, 3}, {3, 2}, "myop"), Catch::Contains("myop") &&
                                                                      Catch::Contains("[2,3]") &&
                                                                      Catch::Contains("[3,2]"));
}

TEST_CASE("expand repeats and sum_to sums back", "[broadcast]") {
  Tensor x = tg::tensor(tg::test::column({1.0, 2.0}));  // [2,1]
  Tensor e = tg::expand(x, {3, 2, 4});
  CHECK(e.shape() == tg::Shape{3, 2, 4});
  CHECK(e.value<double>()(2, 1, 3) == 2.0);
  Tensor s = tg::sum_to(e, {2, 1});
  REQUIRE(bool(xt::allclose(s.value<double>(), tg::test::column({12.0, 24.0}))));
}

TEST_CASE("gradcheck of expand and sum_to on 20 random shapes", "[broadcast]") {
  tg::manual_seed(21);
  tg::Generator gen(21);
  for (int trial = 0; trial < 20; ++trial) {
    const tg::Shape big = tg::test::random_shape(gen, 1, 4);
    const tg::Shape small = tg::test::broadcast_partner(gen, big);
    INFO(tg::to_string(small) << " <-> " << tg::to_string(big));
    CHECK(tg::gradcheck([big](const auto& in) { return tg::expand(in[0], big); },
                        {tg::test::randn64(small)}, {.check_grad_grad = true}));
    CHECK(tg::gradcheck([small](const auto& in) { return tg::sum_to(in[0], small); },
                        {tg::test::randn64(big)}, {.check_grad_grad = true}));
  }
}

TEST_CASE("expand and sum_to reject incompatible shapes", "[broadcast][errors]") {
  CHECK_THROWS_WITH(tg::expand(tg::ones({2, 3}), {3, 3}), Catch::Contains("expand") &&
                                                              Catch::Contains("[2,3]") &&
                                                              Catch::Contains("[3,3]"));
  CHECK_THROWS_WITH(tg::sum_to(tg::ones({2, 3}), {4}), Catch::Contains("sum_to") &&
                                                           Catch::Contains("[2,3]") &&
                                                           Catch::Contains("[4]"));
  CHECK_THROWS_WITH(tg::expand(Tensor{}, {2}), Catch::Contains("expand"));
}
