// The backward engine, on ops defined here with record() alone so that a bug in a library op
// cannot hide (or fake) a bug in the engine.
#include <catch2/catch.hpp>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

namespace {

using tg::Tensor;

xt::xarray<double> values(const Tensor& t) { return t.value<double>(); }

// a * b elementwise (same shapes); differentiable to any order.
Tensor product(const Tensor& a, const Tensor& b) {
  Tensor out = tg::tensor(xt::xarray<double>(a.value<double>() * b.value<double>()));
  return tg::record("product", out, {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{product(g, b), product(g, a)};
  });
}

// a + b elementwise (same shapes).
Tensor plus(const Tensor& a, const Tensor& b) {
  Tensor out = tg::tensor(xt::xarray<double>(a.value<double>() + b.value<double>()));
  return tg::record("plus", out, {a, b}, [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
}

// Sum of all elements as a 0-D tensor.
Tensor total(const Tensor& a) {
  Tensor out = tg::tensor(xt::xarray<double>(xt::sum(a.value<double>())));
  tg::Shape shape = a.shape();
  return tg::record("total", out, {a}, [shape](const Tensor& g) {
    return std::vector<Tensor>{tg::full(shape, g.item(), {.dtype = tg::f64})};
  });
}

Tensor leaf(xt::xarray<double> v) { return tg::tensor(std::move(v), true); }

}  // namespace

TEST_CASE("a + a accumulates both uses into a's gradient", "[engine]") {
  Tensor a = leaf({1.0, 2.0, 3.0});
  total(plus(a, a)).backward();
  REQUIRE(bool(xt::all(xt::equal(values(a.grad()), xt::xarray<double>{2.0, 2.0, 2.0}))));
}

TEST_CASE("a diamond graph sums the gradients of both branches", "[engine]") {
  // y = (a*b) * (a+b): dy/da = b(a+b) + ab = 2ab + b^2, dy/db = a^2 + 2ab
  Tensor a = leaf({3.0});
  Tensor b = leaf({5.0});
  Tensor y = total(product(product(a, b), plus(a, b)));
  y.backward();
  CHECK(a.grad().item() == Approx(2 * 3 * 5 + 25));
  CHECK(b.grad().item() == Approx(9 + 2 * 3 * 5));
}

TEST_CASE("a shared intermediate receives the gradients of all its consumers", "[engine]") {
  Tensor x = leaf({2.0});
  Tensor h = product(x, x);                  // x^2
  Tensor y = total(plus(product(h, h), h));  // x^4 + x^2
  y.backward();
  CHECK(x.grad().item() == Approx(4 * 8 + 2 * 2));
}

TEST_CASE("gradients accumulate across backward calls until zero_grad", "[engine]") {
  Tensor a = leaf({1.0, 1.0});
  total(product(a, a)).backward();
  total(product(a, a)).backward();
  CHECK(a.grad().value<double>()(0) == Approx(4.0));
  a.zero_grad();
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("a 100,000-op chain runs backward and is freed without recursion", "[engine]") {
  const auto before = tg::Node::live_count();
  {
    Tensor x = leaf({1.0});
    Tensor one = tg::tensor(xt::xarray<double>{1.0});
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = plus(y, one);
    CHECK(tg::Node::live_count() - before == 100000);
    total(y).backward();
    CHECK(x.grad().item() == 1.0);
    CHECK(y.item() == 100001.0);
  }
  CHECK(tg::Node::live_count() == before);
}

TEST_CASE("a chain whose closures save the previous output is freed without recursion",
          "[engine]") {
  const auto before = tg::Node::live_count();
  {
    Tensor x = leaf({1.0});
    Tensor y = x;
    // product's closure captures y, whose grad_fn is the previous node: destruction must not
    // recurse through the closures either.
    for (int i = 0; i < 100000; ++i) y = product(y, x);
  }
  CHECK(tg::Node::live_count() == before);
}

TEST_CASE("NoGradGuard records nothing", "[engine]") {
  Tensor a = leaf({1.0, 2.0});
  const auto before = tg::Node::live_count();
  {
    tg::NoGradGuard no_grad;
    Tensor y = product(a, a);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    CHECK(tg::Node::live_count() == before);
  }
  CHECK(tg::GradMode::is_enabled());
  Tensor z = product(a, a);
  CHECK(z.requires_grad());
}

TEST_CASE("an op on inputs that need no grad records nothing", "[engine]") {
  Tensor a = tg::tensor(xt::xarray<double>{1.0, 2.0});
  Tensor y = product(a, a);
  CHECK_FALSE(y.requires_grad());
  CHECK(y.grad_fn() == nullptr);
}

TEST_CASE("dropping the loss frees every node of its graph", "[engine]") {
  Tensor a = leaf({1.0, 2.0});
  const auto before = tg::Node::live_count();
  {
    Tensor loss = total(product(plus(a, a), a));
    CHECK(tg::Node::live_count() - before == 3);
  }
  CHECK(tg::Node::live_count() == before);
}

TEST_CASE("backward twice without retain_graph throws and says to use retain_graph", "[engine]") {
  Tensor a = leaf({1.0, 2.0});
  Tensor loss = total(product(a, a));
  loss.backward();
  CHECK_THROWS_AS(loss.backward(), tg::Error);
  CHECK_THROWS_WITH(loss.backward(), Catch::Contains("retain_graph"));
}

TEST_CASE("retain_graph allows a second backward, which accumulates", "[engine]") {
  Tensor a = leaf({1.0, 2.0});
  Tensor loss = total(product(a, a));
  loss.backward({.retain_graph = true});
  loss.backward();
  REQUIRE(bool(xt::allclose(values(a.grad()), xt::xarray<double>{4.0, 8.0})));
}

TEST_CASE("backward of a non-scalar output needs a gradient of its shape", "[engine]") {
  Tensor a = leaf({1.0, 2.0});
  Tensor y = product(a, a);
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("one element") && Catch::Contains("[2]"));
  CHECK_THROWS_AS(y.backward(tg::ones({3}, {.dtype = tg::f64})), tg::Error);
  y.backward(tg::tensor(xt::xarray<double>{1.0, 10.0}));
  REQUIRE(bool(xt::allclose(values(a.grad()), xt::xarray<double>{2.0, 40.0})));
}

TEST_CASE("backward of a tensor that needs no grad throws", "[engine]") {
  Tensor a = tg::tensor(xt::xarray<double>{1.0});
  CHECK_THROWS_WITH(a.backward(), Catch::Contains("does not require grad"));
}

TEST_CASE("a leaf's gradient is its own copy", "[engine]") {
  for (bool create_graph : {false, true}) {
    Tensor a = leaf({1.0});
    Tensor b = leaf({2.0});
    Tensor g = tg::tensor(xt::xarray<double>{1.0});
    plus(a, b).backward(g, {.create_graph = create_graph});  // plus passes g to both
    Tensor a_grad = a.grad();
    a_grad.value<double>()(0) = 100.0;
    INFO("create_graph " << create_graph);
    CHECK(a.grad().item() == 100.0);  // the write reached a's gradient...
    CHECK(b.grad().item() == 1.0);    // ...and neither b's nor the caller's
    CHECK(g.item() == 1.0);
  }
}

// A gradient array that no other handle sees becomes the leaf's grad as it is; one that another
// handle sees (here the closure's own capture) is copied.
TEST_CASE("a leaf adopts a gradient nobody else holds and copies one that is held", "[engine]") {
  Tensor a = leaf({1.0});
  const double* fresh_data = nullptr;
  Tensor y = tg::record("fresh", a.detach(), {a}, [&fresh_data](const Tensor& g) {
    Tensor fresh = g * 3.0;
    fresh_data = fresh.value<double>().data();
    return std::vector<Tensor>{fresh};
  });
  y.backward(tg::tensor(xt::xarray<double>{1.0}));
  const Tensor a_grad = a.grad();
  CHECK(a_grad.item() == 3.0);
  CHECK(a_grad.value<double>().data() == fresh_data);  // no copy

  Tensor b = leaf({1.0});
  Tensor kept = tg::tensor(xt::xarray<double>{5.0});
  Tensor z = tg::record("kept", b.detach(), {b},
                        [kept](const Tensor&) { return std::vector<Tensor>{kept}; });
  z.backward(tg::tensor(xt::xarray<double>{1.0}));
  Tensor b_grad = b.grad();
  b_grad.value<double>()(0) = 100.0;
  CHECK(b.grad().item() == 100.0);
  CHECK(kept.item() == 5.0);  // the closure's array was copied, not handed over
}

TEST_CASE("a create_graph backward into leaves leaves no cycle behind", "[engine]") {
  const auto before = tg::Node::live_count();
  {
    Tensor x = leaf({2.0});
    Tensor y = total(product(product(x, x), x));
    y.backward({.create_graph = true});
    CHECK(x.grad().requires_grad());  // the gradient is on the tape...
    tg::backward({total(x.grad())});  // ...and differentiable: d(3x^2)/dx = 6x
    CHECK(x.grad().item() == Approx(12.0 + 12.0));
  }
  CHECK(tg::Node::live_count() == before);  // x, its grad and both graphs are gone
}

TEST_CASE("a closure returning the wrong number or shape of gradients is reported", "[engine]") {
  Tensor a = leaf({1.0, 2.0});
  Tensor wrong_count =
      tg::record("bad_count", a.detach(), {a}, [](const Tensor&) { return std::vector<Tensor>{}; });
  CHECK_THROWS_WITH(
      tg::backward({wrong_count}, {.grad_outputs = {tg::ones({2}, {.dtype = tg::f64})}}),
      Catch::Contains("bad_count") && Catch::Contains("0 gradients for 1"));
  Tensor wrong_shape = tg::record("bad_shape", a.detach(), {a}, [](const Tensor&) {
    return std::vector<Tensor>{tg::ones({3}, {.dtype = tg::f64})};
  });
  CHECK_THROWS_WITH(
      tg::backward({wrong_shape}, {.grad_outputs = {tg::ones({2}, {.dtype = tg::f64})}}),
      Catch::Contains("bad_shape") && Catch::Contains("[3]"));
}

TEST_CASE("tg::backward takes its options as tg::grad does", "[engine]") {
  Tensor x = leaf({1.0, 2.0});
  const Tensor ones = tg::ones({2}, {.dtype = tg::f64});
  // d/dx of 1 * x^2 + 3 * (x + x) = 2x + 6
  tg::backward({product(x, x), plus(x, x)},
               {.grad_outputs = {ones, tg::full({2}, 3.0, {.dtype = tg::f64})}});
  CHECK(values(x.grad())(0) == 8.0);
  CHECK(values(x.grad())(1) == 10.0);
  CHECK_THROWS_WITH(product(x, x).backward(ones, {.grad_outputs = {ones}}),
                    Catch::Contains("backward") && Catch::Contains("twice"));
}

TEST_CASE("tg::grad returns gradients without touching grad()", "[engine]") {
  Tensor a = leaf({1.0, 2.0});
  Tensor b = leaf({3.0, 4.0});
  Tensor h = product(a, b);
  Tensor y = total(product(h, h));
  auto grads = tg::grad({y}, {a, h});
  REQUIRE(grads.size() == 2);
  // dy/da = 2 h b, dy/dh = 2 h
  REQUIRE(bool(xt::allclose(values(grads[0]), xt::xarray<double>{18.0, 64.0})));
  REQUIRE(bool(xt::allclose(values(grads[1]), xt::xarray<double>{6.0, 16.0})));
  CHECK_FALSE(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("tg::grad reports an unused input unless allow_unused", "[engine]") {
  Tensor a = leaf({1.0});
  Tensor unused = leaf({1.0});
  Tensor y = total(product(a, a));
  CHECK_THROWS_WITH(tg::grad({y}, {unused}, {.retain_graph = true}), Catch::Contains("not used"));
  auto grads = tg::grad({y}, {a, unused}, {.allow_unused = true});
  CHECK(grads[0].defined());
  CHECK_FALSE(grads[1].defined());
}

TEST_CASE("create_graph gives differentiable gradients (second derivatives)", "[engine]") {
  Tensor x = leaf({3.0});
  Tensor y = total(product(product(x, x), x));  // x^3
  auto [dy] = std::array{tg::grad({y}, {x}, {.create_graph = true})[0]};
  CHECK(dy.item() == Approx(27.0));  // 3x^2
  CHECK(dy.requires_grad());
  auto d2y = tg::grad({total(dy)}, {x})[0];
  CHECK(d2y.item() == Approx(18.0));  // 6x
}

TEST_CASE("gradcheck passes a correct op and pinpoints a wrong one", "[engine][gradcheck]") {
  Tensor a = tg::randn({3, 4}, {.dtype = tg::f64, .requires_grad = true});
  Tensor b = tg::randn({3, 4}, {.dtype = tg::f64, .requires_grad = true});
  auto good = tg::gradcheck([](const std::vector<Tensor>& in) { return product(in[0], in[1]); },
                            {a, b}, {.check_grad_grad = true});
  CHECK(good);

  auto wrong = [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    Tensor out = tg::tensor(xt::xarray<double>(x.value<double>() * x.value<double>()));
    return tg::record("wrong_square", out, {x}, [x](const Tensor& g) {
      return std::vector<Tensor>{product(g, x)};  // should be 2 g x
    });
  };
  auto bad = tg::gradcheck(wrong, {a});
  CHECK_FALSE(bad);
  CHECK_THAT(bad.message, Catch::Contains("input 0 element [0,0]"));
}

TEST_CASE("a leaf's hook sees the sum of its gradients and may replace it", "[engine][hooks]") {
  Tensor x = tg::tensor({1.0, 2.0}, {.dtype = tg::f64, .requires_grad = true});
  std::vector<xt::xarray<double>> seen;
  tg::RemovableHandle handle = x.register_hook([&](const Tensor& g) {
    seen.push_back(g.value<double>());
    return g * 10.0;
  });
  // x reaches the loss along two paths: d/dx (3x + x^2) = 3 + 2x, seen once, summed.
  tg::sum(x * 3.0 + x * x).backward();
  REQUIRE(seen.size() == 1);
  REQUIRE(bool(xt::allclose(seen[0], xt::xarray<double>{5.0, 7.0})));
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{50.0, 70.0})));
  // After removal, gradients accumulate unchanged (50 + 5, 70 + 7).
  handle.remove();
  tg::sum(x * 3.0 + x * x).backward();
  CHECK(seen.size() == 1);
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{55.0, 77.0})));
}

TEST_CASE("hooks run in registration order; an undefined result keeps the gradient",
          "[engine][hooks]") {
  Tensor x = tg::tensor({1.0}, {.dtype = tg::f64, .requires_grad = true});
  std::string order;
  auto first = x.register_hook([&](const Tensor& g) {
    order += "a";
    return g + 1.0;
  });
  auto second = x.register_hook([&](const Tensor& g) {
    order += "b";
    CHECK(g.item() == 3.0);  // after the first: 2 + 1
    return Tensor{};
  });
  tg::sum(x * 2.0).backward();
  CHECK(order == "ab");
  CHECK(x.grad().item() == 3.0);
}

TEST_CASE("a hook on an op's output changes what flows below it, also once unnamed",
          "[engine][hooks]") {
  Tensor x = tg::tensor({1.0, -1.0}, {.dtype = tg::f64, .requires_grad = true});
  Tensor loss;
  {
    Tensor y = x * 2.0;  // y's only handle dies at the end of the scope; its hook lives on
    auto handle = y.register_hook([](const Tensor& g) { return g * 0.5; });
    loss = tg::sum(y * y);
  }
  loss.backward();
  // dloss/dy = 2y = (4, -4), halved by the hook, times dy/dx = 2: (4, -4).
  REQUIRE(bool(xt::allclose(x.grad().value<double>(), xt::xarray<double>{4.0, -4.0})));
}

TEST_CASE("tg::grad passes the gradients it returns through their hooks", "[engine][hooks]") {
  Tensor x = tg::tensor({2.0}, {.dtype = tg::f64, .requires_grad = true});
  Tensor other = tg::tensor({5.0}, {.dtype = tg::f64, .requires_grad = true});
  int other_calls = 0;
  auto h1 = x.register_hook([](const Tensor& g) { return -g; });
  auto h2 = other.register_hook([&](const Tensor& g) {
    ++other_calls;
    return g;
  });
  auto grads = tg::grad({tg::sum(x * x * other)}, {x});
  CHECK(grads[0].item() == -20.0);  // -(2 x other)
  CHECK(other_calls == 0);          // not asked for: its hook does not run
  CHECK_FALSE(x.grad().defined());  // tg::grad accumulates nothing
}

TEST_CASE("hooks take part in create_graph: a doubled gradient has a doubled derivative",
          "[engine][hooks]") {
  Tensor x = tg::tensor({3.0}, {.dtype = tg::f64, .requires_grad = true});
  auto handle = x.register_hook([](const Tensor& g) { return g * 2.0; });
  auto first = tg::grad({tg::sum(x * x * x)}, {x}, {.create_graph = true});
  CHECK(first[0].item() == 54.0);  // 2 * 3x^2
  handle.remove();
  auto second = tg::grad({tg::sum(first[0])}, {x});
  CHECK(second[0].item() == 36.0);  // d/dx 6x^2 = 12x
}

TEST_CASE("a leaf's hook runs once its last gradient is in, layer after layer", "[engine][hooks]") {
  tg::manual_seed(4);
  tg::nn::Linear first(3, 4);
  tg::nn::Linear second(4, 2);
  std::vector<std::string> order;
  std::vector<tg::RemovableHandle> handles;
  for (auto* layer : {&first, &second}) {
    for (const auto& [name, p] : layer->named_parameters()) {
      const std::string label = (layer == &first ? "first." : "second.") + name;
      handles.push_back(p.register_hook([&order, label](const Tensor&) {
        order.push_back(label);
        return Tensor{};
      }));
    }
  }
  tg::sum(second(tg::relu(first(tg::randn({5, 3}))))).backward();
  // The second layer's gradients are ready first: a data-parallel all-reduce can start on them
  // while the first layer's are computed.
  REQUIRE(order.size() == 4);
  CHECK(order[0].starts_with("second."));
  CHECK(order[1].starts_with("second."));
  CHECK(order[2].starts_with("first."));
  CHECK(order[3].starts_with("first."));
}

TEST_CASE("hooks reject what cannot work", "[engine][hooks][errors]") {
  Tensor plain = tg::ones({2});
  REQUIRE_THROWS_WITH(plain.register_hook([](const Tensor& g) { return g; }),
                      Catch::Contains("register_hook") && Catch::Contains("does not require grad"));
  Tensor x = tg::ones({2}, {.requires_grad = true});
  REQUIRE_THROWS_WITH(x.register_hook(nullptr), Catch::Contains("empty"));
  auto handle = x.register_hook([](const Tensor&) { return tg::ones({3}); });
  REQUIRE_THROWS_WITH(tg::sum(x * 2.0).backward(), Catch::Contains("register_hook") &&
                                                       Catch::Contains("[3]") &&
                                                       Catch::Contains("[2]"));
  handle.remove();
  handle.remove();
  tg::sum(x * 2.0).backward();
  CHECK(x.grad().defined());
}
