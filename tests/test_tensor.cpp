#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

using tg::Tensor;

TEST_CASE("tg::tensor takes its dtype from the array", "[tensor]") {
  CHECK(tg::tensor(xt::xarray<float>{1.0f}).dtype() == tg::f32);
  CHECK(tg::tensor(xt::xarray<double>{1.0}).dtype() == tg::f64);
  CHECK(tg::tensor(xt::xarray<std::int64_t>{1}).dtype() == tg::i64);
  Tensor expr = tg::tensor(xt::ones<double>({2, 3}) * 2.0);
  CHECK(expr.dtype() == tg::f64);
  CHECK(expr.shape() == tg::Shape{2, 3});
  CHECK(expr.numel() == 6);
  CHECK(expr.dim() == 2);
}

TEST_CASE("factories fill, shape and type their tensors", "[tensor]") {
  Tensor z = tg::zeros({2, 3});
  CHECK(z.dtype() == tg::f32);
  CHECK(xt::all(xt::equal(z.value<float>(), 0.0f)));
  Tensor o = tg::ones({4}, {.dtype = tg::f64, .requires_grad = true});
  CHECK(o.requires_grad());
  CHECK(xt::all(xt::equal(o.value<double>(), 1.0)));
  Tensor f = tg::full({2}, 7.0, {.dtype = tg::i64});
  CHECK(f.value<std::int64_t>()(1) == 7);
  Tensor scalar = tg::zeros({});
  CHECK(scalar.dim() == 0);
  CHECK(scalar.numel() == 1);
  CHECK(tg::zeros_like(o).dtype() == tg::f64);
  CHECK_FALSE(tg::zeros_like(o).requires_grad());
}

TEST_CASE("randn and rand are reproducible from the seed", "[tensor][random]") {
  tg::manual_seed(7);
  Tensor a = tg::randn({1000}, {.dtype = tg::f64});
  Tensor u = tg::rand({1000}, {.dtype = tg::f64});
  tg::manual_seed(7);
  Tensor b = tg::randn({1000}, {.dtype = tg::f64});
  REQUIRE(bool(xt::all(xt::equal(a.value<double>(), b.value<double>()))));
  // Moments of 1000 standard normals and uniforms, with wide margins.
  CHECK(std::abs(xt::mean(a.value<double>())()) < 0.15);
  CHECK(std::abs(xt::stddev(a.value<double>())() - 1.0) < 0.1);
  CHECK(xt::amin(u.value<double>())() >= 0.0);
  CHECK(xt::amax(u.value<double>())() < 1.0);
  CHECK(std::abs(xt::mean(u.value<double>())() - 0.5) < 0.05);
}

TEST_CASE("item, to, clone and detach", "[tensor]") {
  Tensor x = tg::tensor(xt::xarray<double>{2.5}, true);
  CHECK(x.item() == 2.5);
  CHECK(x.item<float>() == 2.5f);
  CHECK(x.to(tg::f32).dtype() == tg::f32);
  CHECK(x.to(tg::f64).is_same(x));
  CHECK(x.to(tg::i64).item<std::int64_t>() == 2);

  Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  d.value<double>()(0) = 4.0;  // shares the array
  CHECK(x.item() == 4.0);
  Tensor c = x.clone();
  c.value<double>()(0) = 5.0;  // does not
  CHECK(x.item() == 4.0);
}

TEST_CASE("value() of a temporary is a copy that outlives it", "[tensor]") {
  Tensor x = tg::tensor(xt::xarray<float>{1.0f, 2.0f});
  // A reference into the temporary's array would dangle here (AddressSanitizer would say so).
  const auto& doubled = (x * 2.0).value<float>();
  CHECK(doubled(1) == 4.0f);
  // On a named tensor, value() is the tensor's own array.
  x.value<float>()(0) = 5.0f;
  CHECK(x.value<float>()(0) == 5.0f);
}

TEST_CASE("to() is differentiable between f32 and f64", "[tensor]") {
  Tensor x = tg::tensor(xt::xarray<float>{1.0f, 2.0f}, true);
  Tensor y = tg::sum(x.to(tg::f64) * 3.0);
  y.backward();
  CHECK(x.grad().dtype() == tg::f32);
  REQUIRE(bool(xt::allclose(x.grad().value<float>(), xt::xarray<float>{3.0f, 3.0f})));
}

TEST_CASE("requires_grad propagates through ops and stops at detach", "[tensor]") {
  Tensor a = tg::ones({2}, {.requires_grad = true});
  Tensor b = tg::ones({2});
  CHECK((a + b).requires_grad());
  CHECK_FALSE((a + b).is_leaf());
  CHECK_FALSE((b * 2.0).requires_grad());
  CHECK_FALSE((a.detach() + b).requires_grad());
}

TEST_CASE("tensors print their dtype, shape, tape and values", "[tensor][format]") {
  Tensor x = tg::tensor(xt::xarray<float>{{1.0f, 2.0f}, {3.0f, 4.5f}}, true);
  const std::string leaf = fmt::format("{}", x);
  CHECK_THAT(leaf, Catch::StartsWith("tensor(f32 [2,2], requires_grad)"));
  CHECK_THAT(leaf, Catch::Contains("4.5"));
  CHECK_THAT(fmt::format("{}", x * 2.0), Catch::Contains("grad_fn=mul"));
  CHECK(fmt::format("{}", Tensor{}) == "tensor(undefined)");
  // Large tensors are abbreviated rather than printed whole.
  const std::string big = fmt::format("{}", tg::zeros({100, 100}));
  CHECK_THAT(big, Catch::Contains("..."));
  CHECK(big.size() < 2000);
}

TEST_CASE("bad tensor calls throw tg::Error saying what is wrong", "[tensor][errors]") {
  Tensor undefined;
  CHECK_THROWS_WITH(undefined.shape(), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(tg::ones({2}).value<double>(),
                    Catch::Contains("value<f64>") && Catch::Contains("f32 [2]"));
  CHECK_THROWS_WITH(tg::ones({2}).item(), Catch::Contains("item") && Catch::Contains("[2]"));
  CHECK_THROWS_WITH(tg::zeros({2}, {.dtype = tg::i64, .requires_grad = true}),
                    Catch::Contains("requires_grad") && Catch::Contains("i64"));
  Tensor y = tg::ones({2}, {.requires_grad = true}) * 2.0;
  CHECK_THROWS_WITH(y.set_requires_grad(false), Catch::Contains("leaf") && Catch::Contains("mul"));
  CHECK_THROWS_WITH(tg::randn({2}, {.dtype = tg::i64}), Catch::Contains("randn"));
  CHECK_THROWS_WITH(tg::ones({2}).set_grad(tg::ones({3})), Catch::Contains("set_grad"));
  // Shapes whose element count overflows (or is absurd) are refused before allocating.
  CHECK_THROWS_WITH(tg::zeros({std::size_t{1} << 32, std::size_t{1} << 32}),
                    Catch::Contains("2^48") && Catch::Contains("[4294967296,4294967296]"));
  CHECK_THROWS_WITH(tg::randn({0, std::size_t{1} << 60}), Catch::Contains("randn"));
}
