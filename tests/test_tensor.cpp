#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

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

TEST_CASE("tensors print as PyTorch prints them", "[tensor][format]") {
  Tensor x = tg::tensor({{1.0, 2.0}, {3.0, 4.5}}, {.requires_grad = true});
  CHECK(fmt::format("{}", x) ==
        "tensor([[1.0000, 2.0000],\n"
        "        [3.0000, 4.5000]], requires_grad=True)");
  // Whole numbers as "3.", the op that made the tensor, f64 said, f32 not.
  CHECK(fmt::format("{}", x * 2.0) ==
        "tensor([[2., 4.],\n"
        "        [6., 9.]], grad_fn=<mul>)");
  CHECK(fmt::format("{}", tg::tensor({-1.5, 0.25}, {.dtype = tg::f64})) ==
        "tensor([-1.5000,  0.2500], dtype=f64)");
  // Magnitudes over 1000x apart, or below 1e-4: scientific notation.
  CHECK(fmt::format("{}", tg::tensor({1e-5, 1.0})) == "tensor([1.0000e-05, 1.0000e+00])");
  CHECK(fmt::format("{}", tg::tensor({1.0, std::nan(""), -INFINITY})) == "tensor([1., nan, -inf])");
  CHECK(fmt::format("{}", tg::tensor({1.5, std::nan("")})) == "tensor([1.5000,    nan])");
  CHECK(fmt::format("{}", tg::tensor({3, -12}, {.dtype = tg::i64})) == "tensor([  3, -12])");
  CHECK(fmt::format("{}", tg::full({}, 3.5)) == "tensor(3.5000)");
  CHECK(fmt::format("{}", tg::zeros({0})) == "tensor([])");
  CHECK(fmt::format("{}", tg::zeros({2, 0})) == "tensor([], size=(2, 0))");
  CHECK(fmt::format("{}", Tensor{}) == "tensor(undefined)");
  // 3-D: a blank line between the matrices.
  CHECK(fmt::format("{}", tg::tensor({{{1.0}, {2.0}}, {{3.0}, {4.0}}})) ==
        "tensor([[[1.],\n"
        "         [2.]],\n"
        "\n"
        "        [[3.],\n"
        "         [4.]]])");
  // Over 1000 elements: the first and last three of each dim.
  const std::string big = fmt::format("{}", tg::zeros({100, 100}));
  CHECK(big ==
        "tensor([[0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        ...,\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
        "        [0., 0., 0.,  ..., 0., 0., 0.]])");
  // std::ostream prints the same, and long rows wrap at 80 characters.
  std::ostringstream out;
  out << tg::ones({20});
  CHECK(out.str() ==
        "tensor([1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1.,\n"
        "        1., 1.])");
}

TEST_CASE("tensors from nested braces", "[tensor]") {
  Tensor v = tg::tensor({1.0, 2.0, 3.0});
  CHECK(v.dtype() == tg::f32);
  CHECK(v.shape() == tg::Shape{3});
  Tensor m = tg::tensor({{1, 2, 3}, {4, 5, 6}}, {.dtype = tg::i64});
  CHECK(m.shape() == tg::Shape{2, 3});
  CHECK(m.value<std::int64_t>()(1, 2) == 6);
  Tensor c = tg::tensor({{{1.0, 2.0}}, {{3.0, 4.0}}}, {.dtype = tg::f64, .requires_grad = true});
  CHECK(c.shape() == tg::Shape{2, 1, 2});
  CHECK(c.requires_grad());
  CHECK(c.value<double>()(1, 0, 1) == 4.0);
  REQUIRE_THROWS_WITH(tg::tensor({{1.0, 2.0}, {3.0}}), Catch::Contains("ragged"));
  REQUIRE_THROWS_WITH(tg::tensor({1.5}, {.dtype = tg::i64}), Catch::Contains("whole number"));
  REQUIRE_THROWS_WITH(tg::tensor({1.0}, {.dtype = tg::i64, .requires_grad = true}),
                      Catch::Contains("f32/f64"));
}

TEST_CASE("size(d) and the method forms are the free functions", "[tensor]") {
  tg::manual_seed(3);
  Tensor x = tg::randn({2, 3, 4}, {.dtype = tg::f64});
  CHECK(x.size(0) == 2);
  CHECK(x.size(-1) == 4);
  REQUIRE_THROWS_WITH(x.size(3), Catch::Contains("size: dim 3") && Catch::Contains("[2,3,4]"));
  REQUIRE_THROWS_AS(x.size(-4), tg::Error);
  auto same = [](const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && bool(xt::all(xt::equal(a.value<double>(), b.value<double>())));
  };
  CHECK(same(x.sum(), tg::sum(x)));
  CHECK(same(x.sum({1}, true), tg::sum(x, {1}, true)));
  CHECK(same(x.mean({0, 2}), tg::mean(x, {0, 2})));
  CHECK(same(x.max(), tg::max(x)));
  CHECK(same(x.min(), tg::min(x)));
  CHECK(same(x.reshape({6, 4}), tg::reshape(x, {6, 4})));
  CHECK(same(x.flatten(1), tg::flatten(x, 1)));
  CHECK(same(x.transpose(0, 2), tg::transpose(x, 0, 2)));
  CHECK(same(x.permute({2, 0, 1}), tg::permute(x, {2, 0, 1})));
  CHECK(same(x.unsqueeze(1).squeeze(1), x));
  CHECK(same(x.narrow(2, 1, 2), tg::narrow(x, 2, 1, 2)));
  CHECK(same(x.select(1, 0), tg::select(x, 1, 0)));
  CHECK(same(x.abs().sqrt(), tg::sqrt(tg::abs(x))));
  CHECK(same(x.exp().log(), tg::log(tg::exp(x))));
  CHECK(same(x.pow(2.0), tg::pow(x, 2.0)));
  CHECK(same(x.clamp(-0.5, 0.5), tg::clamp(x, -0.5, 0.5)));
  CHECK(same(x.relu(), tg::relu(x)));
  CHECK(same(x.sigmoid(), tg::sigmoid(x)));
  CHECK(same(x.tanh(), tg::tanh(x)));
  CHECK(same(x.softmax(-1), tg::softmax(x, -1)));
  CHECK(same(x.log_softmax(1), tg::log_softmax(x, 1)));
  Tensor m = x.select(0, 0);
  CHECK(same(m.t(), tg::transpose(m, 0, 1)));
  CHECK(same(m.matmul(m.t()), tg::matmul(m, tg::transpose(m, 0, 1))));
  CHECK(m.t().t().is_same(m) == false);
  CHECK(x.select(0, 0).select(0, 0).t().shape() == tg::Shape{4});
  REQUIRE_THROWS_WITH(x.t(), Catch::Contains("t: expects a tensor of at most 2 dims"));
  CHECK(x.argmax(2).dtype() == tg::i64);
}

TEST_CASE("compound assignment changes the tensor in place when no gradient passes", "[tensor]") {
  Tensor a = tg::tensor({{1.0, 2.0}, {3.0, 4.0}});
  Tensor alias = a;
  const std::uint64_t version = a.version();
  a += tg::tensor({10.0, 20.0});  // broadcast into a's shape
  a *= 2.0;
  a -= 1.0;
  a /= tg::full({1}, 2.0);
  REQUIRE(bool(xt::allclose(alias.value<float>(), xt::xarray<float>{{10.5, 21.5}, {12.5, 23.5}})));
  CHECK(a.version() == version + 4);
  // The result must keep a's shape.
  REQUIRE_THROWS_WITH(a += tg::ones({3, 2, 2}),
                      Catch::Contains("operator+=") && Catch::Contains("[3,2,2]"));
  // A leaf that requires grad changes only under NoGradGuard: an optimizer step by hand.
  Tensor w = tg::ones({2}, {.requires_grad = true});
  tg::sum(w * w).backward();
  REQUIRE_THROWS_WITH(w -= w.grad(), Catch::Contains("operator-=") &&
                                         Catch::Contains("NoGradGuard") &&
                                         Catch::Contains("a = a - b"));
  {
    const tg::NoGradGuard no_grad;
    w -= w.grad() * 0.25;
  }
  REQUIRE(bool(xt::allclose(w.value<float>(), xt::xarray<float>{0.5, 0.5})));
  CHECK(w.requires_grad());
  CHECK(w.is_leaf());
  // Nor may a tensor be changed by one that requires grad while grad mode is on.
  Tensor plain = tg::zeros({2});
  REQUIRE_THROWS_AS(plain += w, tg::Error);
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
