#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include <tapegrad.hpp>

using tg::Tensor;

namespace {

// A parameter [2] f64 with value w and gradient g.
Tensor parameter_with_grad(double w0, double w1, double g0, double g1) {
  Tensor p = tg::tensor(xt::xarray<double>{w0, w1}, true);
  p.set_grad(tg::tensor(xt::xarray<double>{g0, g1}));
  return p;
}

std::map<std::string, Tensor> as_map(const tg::optim::NamedTensors& state) {
  return {state.begin(), state.end()};
}

// A small problem that torch and tapegrad differentiate alike, in f64: parameters p1 [2,3] and
// p2 [3,1] from fixed values, loss = sum((tanh(p1 @ p2) - t)^2) + 0.1 * sum(p2^3).
// A column [n, 1] (a braced xarray of one-element rows is ambiguous to xtensor).
xt::xarray<double> column(xt::xarray<double> values) {
  values.reshape({values.size(), 1});
  return values;
}

struct Problem {
  Tensor p1 = tg::tensor(xt::xarray<double>{{0.5, -0.3, 0.8}, {0.1, 0.4, -0.6}}, true);
  Tensor p2 = tg::tensor(column({0.2, -0.7, 0.3}), true);

  Tensor loss() const {
    const Tensor d = tg::tanh(tg::matmul(p1, p2)) - tg::tensor(column({0.3, -0.2}));
    return tg::sum(d * d) + tg::sum(p2 * p2 * p2) * 0.1;
  }
  void train(tg::optim::Optimizer& optimizer, int steps = 5) const {
    for (int i = 0; i < steps; ++i) {
      optimizer.zero_grad();
      loss().backward();
      optimizer.step();
    }
  }
  // Both parameters' values, flattened, against torch's.
  void check(const std::vector<double>& want1, const std::vector<double>& want2) const {
    const auto& w1 = p1.value<double>();
    const auto& w2 = p2.value<double>();
    REQUIRE(w1.size() == want1.size());
    REQUIRE(w2.size() == want2.size());
    for (std::size_t i = 0; i < want1.size(); ++i) {
      INFO("p1 element " << i);
      CHECK(w1.data()[i] == Approx(want1[i]).epsilon(1e-12).margin(1e-14));
    }
    for (std::size_t i = 0; i < want2.size(); ++i) {
      INFO("p2 element " << i);
      CHECK(w2.data()[i] == Approx(want2[i]).epsilon(1e-12).margin(1e-14));
    }
  }
};

}  // namespace

TEST_CASE("SGD follows torch.optim.SGD step by step", "[optim][sgd]") {
  Tensor p = parameter_with_grad(1.0, -2.0, 0.5, 0.25);
  tg::optim::SGD sgd({p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  sgd.step();  // d = g + 0.01 w; buf = d; w -= 0.1 d
  const double d0 = 0.5 + 0.01 * 1.0;
  CHECK(p.value<double>()(0) == Approx(1.0 - 0.1 * d0));
  const double w0 = p.value<double>()(0);
  sgd.step();  // same gradient: buf = 0.9 buf + d
  const double d1 = 0.5 + 0.01 * w0;
  CHECK(p.value<double>()(0) == Approx(w0 - 0.1 * (0.9 * d0 + d1)));
}

TEST_CASE("SGD with nesterov and dampening", "[optim][sgd]") {
  Tensor p = parameter_with_grad(0.0, 0.0, 1.0, -1.0);
  tg::optim::SGD nesterov({p}, {.lr = 1.0, .momentum = 0.5, .nesterov = true});
  nesterov.step();  // buf = 1; d = 1 + 0.5 * 1
  CHECK(p.value<double>()(0) == Approx(-1.5));
  nesterov.step();  // buf = 0.5 + 1 = 1.5; d = 1 + 0.75
  CHECK(p.value<double>()(0) == Approx(-1.5 - 1.75));

  Tensor q = parameter_with_grad(0.0, 0.0, 1.0, 1.0);
  tg::optim::SGD damped({q}, {.lr = 1.0, .momentum = 0.5, .dampening = 0.5});
  damped.step();  // buf = 1 (the first step is not damped)
  damped.step();  // buf = 0.5 + 0.5 * 1 = 1
  CHECK(q.value<double>()(1) == Approx(-2.0));
}

TEST_CASE("Adam and AdamW follow PyTorch's update", "[optim][adam]") {
  for (bool decoupled : {false, true}) {
    Tensor p = parameter_with_grad(1.0, 2.0, 0.3, -0.1);
    std::unique_ptr<tg::optim::Optimizer> opt;
    const tg::optim::AdamOptions options{.lr = 0.01, .weight_decay = 0.1};
    if (decoupled) {
      opt = std::make_unique<tg::optim::AdamW>(std::vector<Tensor>{p}, options);
    } else {
      opt = std::make_unique<tg::optim::Adam>(std::vector<Tensor>{p}, options);
    }
    double w = 1.0, m = 0.0, v = 0.0;
    for (int t = 1; t <= 3; ++t) {
      opt->step();
      double g = 0.3;
      if (decoupled) {
        w *= 1.0 - 0.01 * 0.1;
      } else {
        g += 0.1 * w;
      }
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      const double denom = std::sqrt(v) / std::sqrt(1.0 - std::pow(0.999, t)) + 1e-8;
      w -= 0.01 / (1.0 - std::pow(0.9, t)) * m / denom;
      INFO("decoupled " << decoupled << " step " << t);
      CHECK(p.value<double>()(0) == Approx(w).epsilon(1e-12));
    }
  }
}

TEST_CASE("optimizers update a large parameter in chunks, the same bits at any thread count",
          "[optim][threads]") {
  // More elements than several of the update's chunks, and not a multiple of a vector.
  constexpr std::size_t n = 100003;
  for (const char* kind : {"sgd", "adam", "adamw", "rmsprop"}) {
    std::vector<xt::xarray<float>> results;
    for (int threads : {1, 2}) {
      tg::set_num_threads(threads);
      tg::manual_seed(7);
      Tensor p = tg::randn({n}).set_requires_grad(true);
      const Tensor g = tg::randn({n});
      p.set_grad(g);
      const xt::xarray<float> w0 = p.value<float>();
      std::unique_ptr<tg::optim::Optimizer> opt;
      if (std::string(kind) == "sgd") {
        opt = std::make_unique<tg::optim::SGD>(std::vector<Tensor>{p},
                                               tg::optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
      } else if (std::string(kind) == "adam") {
        opt = std::make_unique<tg::optim::Adam>(std::vector<Tensor>{p}, tg::optim::AdamOptions{});
      } else if (std::string(kind) == "rmsprop") {
        opt = std::make_unique<tg::optim::RMSprop>(
            std::vector<Tensor>{p},
            tg::optim::RMSpropOptions{.lr = 1e-3, .momentum = 0.9, .centered = true});
      } else {
        opt = std::make_unique<tg::optim::AdamW>(std::vector<Tensor>{p},
                                                 tg::optim::AdamOptions{.weight_decay = 0.01});
      }
      opt->step();
      // Every element took its first step, the last chunk's last element too: SGD moves by
      // lr * g, Adam by lr * g / |g| (m / sqrt(v) after one step), AdamW after its decay,
      // centered RMSprop by lr * g / sqrt(0.01 g^2 - 0.0001 g^2) = lr * g / (0.0995 |g|).
      const xt::xarray<float>& w = p.value<float>();
      const xt::xarray<float>& grad = g.value<float>();
      for (std::size_t i : {std::size_t{0}, n / 2, n - 1}) {
        INFO(kind << " element " << i);
        if (std::string(kind) == "sgd") {
          CHECK(w(i) == Approx(w0(i) - 0.1f * grad(i)));
        } else if (std::string(kind) == "rmsprop") {
          const float expected = w0(i) - 1e-3f * grad(i) / (0.0994987f * std::abs(grad(i)));
          CHECK(w(i) == Approx(expected).margin(1e-5));
        } else {
          const float decayed =
              std::string(kind) == "adamw" ? w0(i) * (1.0f - 1e-3f * 0.01f) : w0(i);
          CHECK(w(i) == Approx(decayed - 1e-3f * grad(i) / std::abs(grad(i))).margin(1e-5));
        }
      }
      opt->step();
      opt->step();
      results.push_back(w);
    }
    tg::set_num_threads(0);
    INFO(kind);
    REQUIRE(bool(xt::all(xt::equal(results[0], results[1]))));
  }
}

TEST_CASE("optimizer state round-trips: a restored optimizer continues identically",
          "[optim][state]") {
  for (const char* kind : {"sgd", "adam", "rmsprop"}) {
    auto make = [&](Tensor p) -> std::unique_ptr<tg::optim::Optimizer> {
      if (std::string(kind) == "sgd")
        return std::make_unique<tg::optim::SGD>(std::vector<Tensor>{p},
                                                tg::optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
      if (std::string(kind) == "rmsprop")
        return std::make_unique<tg::optim::RMSprop>(
            std::vector<Tensor>{p}, tg::optim::RMSpropOptions{.momentum = 0.5, .centered = true});
      return std::make_unique<tg::optim::Adam>(std::vector<Tensor>{p}, tg::optim::AdamOptions{});
    };
    Tensor a = parameter_with_grad(1.0, 2.0, 0.3, -0.1);
    auto first = make(a);
    first->step();
    first->step();
    first->set_lr(first->lr() * 0.5);
    Tensor b = a.detach().clone().set_requires_grad(true);
    b.set_grad(a.grad());
    auto second = make(b);
    second->load_state(as_map(first->state()));
    CHECK(second->lr() == first->lr());
    first->step();
    second->step();
    INFO(kind);
    REQUIRE(bool(xt::all(xt::equal(a.value<double>(), b.value<double>()))));
  }
}

TEST_CASE("optimizer state is checked key by key", "[optim][state][errors]") {
  Tensor p = parameter_with_grad(1.0, 2.0, 0.3, -0.1);
  tg::optim::Adam adam({p}, {});
  adam.step();
  auto state = as_map(adam.state());
  auto missing = state;
  missing.erase("0.exp_avg");
  CHECK_THROWS_WITH(adam.load_state(missing), Catch::Contains("'0.exp_avg'"));
  auto extra = state;
  extra["7.exp_avg"] = tg::zeros({2});
  CHECK_THROWS_WITH(adam.load_state(extra), Catch::Contains("unexpected key '7.exp_avg'"));
  auto wrong = state;
  wrong["0.exp_avg_sq"] = tg::zeros({3}, {.dtype = tg::f64});
  CHECK_THROWS_WITH(adam.load_state(wrong),
                    Catch::Contains("0.exp_avg_sq") && Catch::Contains("[3]"));
}

TEST_CASE("optimizers reject bad options", "[optim][errors]") {
  Tensor p = parameter_with_grad(1.0, 2.0, 0.3, -0.1);
  CHECK_THROWS_WITH(tg::optim::SGD({p}, {.lr = -1.0}),
                    Catch::Contains("SGD") && Catch::Contains("-1"));
  CHECK_THROWS_WITH(tg::optim::SGD({p}, {.nesterov = true}), Catch::Contains("nesterov"));
  CHECK_THROWS_WITH(tg::optim::Adam({p}, {.beta1 = 1.0}),
                    Catch::Contains("Adam") && Catch::Contains("betas"));
  CHECK_THROWS_WITH(tg::optim::SGD({tg::ones({2})}, {}), Catch::Contains("requires grad"));
}

// A crafted checkpoint's step count of 2^63 - 1 was accepted and overflowed the next step();
// counts above 2^53 went through a double on save.
TEST_CASE("Adam's step counts load only in [1, 2^53], exactly, and stop there", "[optim][errors]") {
  Tensor p = parameter_with_grad(1.0, 2.0, 0.3, -0.1);
  tg::optim::Adam adam({p}, {});
  adam.step();
  auto with_step = [&](std::int64_t count) {
    std::map<std::string, Tensor> state;
    for (auto& [name, value] : adam.state()) state[name] = value;
    state["0.step"] = tg::tensor(xt::xarray<std::int64_t>(count));
    return state;
  };
  const auto saved_step = [&] {
    for (auto& [name, value] : adam.state()) {
      if (name == "0.step") return value.item<std::int64_t>();
    }
    return std::int64_t{-1};
  };
  for (std::int64_t bad : {std::numeric_limits<std::int64_t>::max(), (std::int64_t{1} << 53) + 1,
                           std::int64_t{0}, std::int64_t{-5}}) {
    CHECK_THROWS_WITH(adam.load_state(with_step(bad)),
                      Catch::Contains("'0.step' must be one i64 count in [1, 2^53]"));
  }
  CHECK(saved_step() == 1);  // a refused state changed nothing
  const std::int64_t last = std::int64_t{1} << 53;
  adam.load_state(with_step(last - 1));
  CHECK(saved_step() == last - 1);
  adam.step();
  CHECK(saved_step() == last);
  CHECK_THROWS_WITH(adam.step(), Catch::Contains("has taken 2^53 steps"));
  CHECK(saved_step() == last);
}

// The torch numbers below come from /usr/bin/python3 (torch 1.13), f64, after 5 steps of
//   p1 = torch.tensor([[0.5, -0.3, 0.8], [0.1, 0.4, -0.6]], requires_grad=True)
//   p2 = torch.tensor([[0.2], [-0.7], [0.3]], requires_grad=True)
//   loss = ((torch.tanh(p1 @ p2) - torch.tensor([[0.3], [-0.2]])) ** 2).sum()
//          + 0.1 * (p2 * p2 * p2).sum()
//   for _ in range(5): opt.zero_grad(); loss(p1, p2).backward(); opt.step()
// with the optimizer each case names; printed with "%.17g".

TEST_CASE("RMSprop follows torch.optim.RMSprop, centered and with momentum", "[optim][rmsprop]") {
  using tg::optim::RMSprop;
  SECTION("defaults: RMSprop([p1, p2], lr=0.01)") {
    Problem problem;
    RMSprop rmsprop({problem.p1, problem.p2}, {.lr = 0.01});
    problem.train(rmsprop);
    problem.check({0.39178167322438445, -0.18601652687721781, 0.69330279126351069,
                   0.25015900808510971, 0.21804902965494227, -0.44666438132922559},
                  {0.1283566488856254, -0.86831305564357419, 0.15551685255427283});
  }
  SECTION("RMSprop(lr=0.02, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.9, centered=True)") {
    Problem problem;
    RMSprop rmsprop({problem.p1, problem.p2}, {.lr = 0.02,
                                               .alpha = 0.9,
                                               .eps = 1e-6,
                                               .weight_decay = 0.1,
                                               .momentum = 0.9,
                                               .centered = true});
    problem.train(rmsprop);
    problem.check({0.041177201253493979, -0.12724124543020968, 0.34287853931944928,
                   0.25327067302301803, 0.070882385079525809, -0.14198481920006059},
                  {-0.028102774187069707, -0.55984575397544711, 0.059016458787342824});
  }
  SECTION("RMSprop(lr=0.01, momentum=0.5)") {
    Problem problem;
    RMSprop rmsprop({problem.p1, problem.p2}, {.lr = 0.01, .momentum = 0.5});
    problem.train(rmsprop);
    problem.check({0.36575206895553947, -0.235450731970788, 0.67926824453889267,
                   0.29860442774410734, 0.21075782385437752, -0.3945924962628784},
                  {0.11076576707056161, -0.93950654221037566, 0.15560418022748537});
  }
  SECTION("groups: [{p1, centered, lr=0.03}, {p2, momentum=0.8}], lr=0.01") {
    Problem problem;
    RMSprop rmsprop({{{problem.p1}, {.lr = 0.03, .centered = true}},
                     {{problem.p2}, {.lr = 0.01, .momentum = 0.8}}});
    problem.train(rmsprop);
    problem.check({0.34985275295121232, -0.29304487043022975, 0.74458953229907598,
                   0.28544378645968294, 0.16426916178273482, -0.37717257475937788},
                  {-0.071636369548103429, -0.92518704868657986, 0.11795435861666939});
  }
}

TEST_CASE("parameter groups have their own lr, weight decay, momentum and betas, as PyTorch's",
          "[optim][groups]") {
  SECTION("SGD([{p1, lr=0.1, weight_decay=0.01, momentum=0.9}, {p2}], lr=0.05, momentum=0.5)") {
    Problem problem;
    tg::optim::SGD sgd(
        {{{problem.p1}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}}, {{problem.p2}}},
        {.lr = 0.05, .momentum = 0.5});
    CHECK(sgd.param_groups()[1].options().momentum == 0.5);  // the group took the defaults
    problem.train(sgd);
    problem.check({0.4382242183361596, -0.097454569789041864, 0.71088122857689218,
                   0.16508552130465409, 0.15557265099366688, -0.49785830531680542},
                  {0.16770217402569426, -0.70258832171333341, 0.17442622229174976});
  }
  SECTION("Adam([{p1, lr=0.01, weight_decay=0.1, betas=(0.8, 0.99)}, {p2}], lr=0.003)") {
    Problem problem;
    tg::optim::Adam adam(
        {{{problem.p1}, {.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .weight_decay = 0.1}},
         {{problem.p2}}},
        {.lr = 0.003});
    problem.train(adam);
    problem.check({0.45045029169561196, -0.25055021033918473, 0.75037383670815982,
                   0.14892661784304878, 0.35049984869860779, -0.55043004819267849},
                  {0.18521237815430677, -0.68571866823409999, 0.28510988061243803});
  }
  SECTION("AdamW([{p1, lr=0.01, weight_decay=0.1}, {p2, weight_decay=0}], lr=0.003)") {
    Problem problem;
    tg::optim::AdamW adamw({{{problem.p1}, {.lr = 0.01, .weight_decay = 0.1}},
                            {{problem.p2}, {.lr = 0.003, .weight_decay = 0.0}}});
    problem.train(adamw);
    problem.check({0.44802110333315798, -0.24894236623074542, 0.74648777221730855,
                   0.14901124526240392, 0.34841845049715015, -0.5474600846775125},
                  {0.18522057722531479, -0.68577236897290028, 0.28511581814446141});
  }
}

TEST_CASE("a group's options can be changed between steps, and are checked at the next",
          "[optim][groups]") {
  Tensor a = parameter_with_grad(1.0, 2.0, 1.0, 1.0);
  Tensor b = parameter_with_grad(1.0, 2.0, 1.0, 1.0);
  tg::optim::SGD sgd({{{a}, {.lr = 0.1}}, {{b}, {.lr = 0.2}}});
  REQUIRE(sgd.num_param_groups() == 2);
  CHECK(sgd.lr() == 0.1);  // the first group's
  CHECK(sgd.lr(1) == 0.2);
  CHECK(sgd.parameters().size() == 2);
  CHECK(sgd.group_of(1) == 1);
  sgd.param_groups()[1].options().lr = 0.5;
  sgd.param_groups()[0].options().weight_decay = 1.0;
  sgd.step();
  CHECK(a.value<double>()(0) == Approx(1.0 - 0.1 * (1.0 + 1.0)));
  CHECK(b.value<double>()(0) == Approx(1.0 - 0.5));
  sgd.set_lr(1, 0.25);
  CHECK(sgd.param_groups()[1].options().lr == 0.25);
  sgd.set_lr(0.01);  // every group
  CHECK((sgd.lr(0) == 0.01 && sgd.lr(1) == 0.01));

  sgd.param_groups()[1].options().momentum = -0.5;
  const double before = b.value<double>()(0);
  CHECK_THROWS_WITH(sgd.step(), Catch::Contains("SGD: parameter group 1") &&
                                    Catch::Contains("momentum") && Catch::Contains("-0.5"));
  CHECK(b.value<double>()(0) == before);  // a refused step moves nothing
  CHECK(a.value<double>()(0) == Approx(0.8));
}

TEST_CASE("parameter groups reject empty groups, shared tensors and bad rates",
          "[optim][groups][errors]") {
  using tg::optim::ParamGroup;
  using tg::optim::SGDOptions;
  Tensor a = parameter_with_grad(1.0, 2.0, 1.0, 1.0);
  Tensor b = parameter_with_grad(1.0, 2.0, 1.0, 1.0);
  CHECK_THROWS_WITH(
      tg::optim::SGD({{{a}}, {std::vector<Tensor>{}}}),
      Catch::Contains("SGD") && Catch::Contains("parameter group 1 has no parameters"));
  CHECK_THROWS_WITH(tg::optim::Adam({{{a, b}}, {{b}}}),
                    Catch::Contains("Adam") && Catch::Contains("parameter 2 (group 1)") &&
                        Catch::Contains("same tensor as parameter 1 (group 0)"));
  CHECK_THROWS_WITH(tg::optim::SGD(std::vector<Tensor>{a, a}, {}), Catch::Contains("same tensor"));
  CHECK_THROWS_WITH(tg::optim::SGD(std::vector<ParamGroup<SGDOptions>>{}),
                    Catch::Contains("SGD: there are no parameter groups"));
  CHECK_THROWS_WITH(tg::optim::RMSprop({{{a}}, {{b}, {.lr = -0.5}}}),
                    Catch::Contains("RMSprop: parameter group 1") &&
                        Catch::Contains("learning rate") && Catch::Contains("-0.5"));
  CHECK_THROWS_WITH(tg::optim::SGD({a}, {.lr = std::numeric_limits<double>::quiet_NaN()}),
                    Catch::Contains("SGD") && Catch::Contains("nan"));
  tg::optim::SGD sgd({{{a}}, {{b}}}, {.lr = 0.1});
  CHECK_THROWS_WITH(sgd.set_lr(1, std::numeric_limits<double>::infinity()),
                    Catch::Contains("SGD: parameter group 1") && Catch::Contains("inf"));
  CHECK_THROWS_WITH(sgd.lr(2), Catch::Contains("no parameter group 2"));
  CHECK(sgd.lr(1) == 0.1);
  ParamGroup<SGDOptions> bare({a});
  CHECK_THROWS_AS(bare.options(), tg::Error);
}

TEST_CASE("RMSprop rejects bad options", "[optim][rmsprop][errors]") {
  Tensor p = parameter_with_grad(1.0, 2.0, 0.3, -0.1);
  using tg::optim::RMSprop;
  CHECK_THROWS_WITH(RMSprop({p}, {.lr = -1.0}),
                    Catch::Contains("RMSprop") && Catch::Contains("-1"));
  CHECK_THROWS_WITH(RMSprop({p}, {.alpha = 1.5}),
                    Catch::Contains("RMSprop: alpha must be in [0, 1], got 1.5"));
  CHECK_THROWS_WITH(RMSprop({p}, {.eps = -1e-8}), Catch::Contains("eps"));
  CHECK_THROWS_WITH(RMSprop({p}, {.weight_decay = -0.1}), Catch::Contains("weight_decay"));
  CHECK_THROWS_WITH(RMSprop({p}, {.momentum = -0.9}), Catch::Contains("momentum"));
}

TEST_CASE("optimizer state holds every group's learning rate, a one-group state a scalar",
          "[optim][state][groups]") {
  Tensor a = parameter_with_grad(1.0, 2.0, 0.3, -0.1);
  Tensor b = parameter_with_grad(3.0, 4.0, 0.2, 0.5);
  tg::optim::SGD two({{{a}, {.lr = 0.1, .momentum = 0.9}}, {{b}, {.lr = 0.2, .momentum = 0.9}}});
  two.step();
  two.set_lr(1, 0.05);
  auto state = as_map(two.state());
  REQUIRE(state.at("lr").shape() == tg::Shape{2});
  CHECK(state.at("lr").value<double>()(1) == 0.05);

  Tensor c = a.detach().clone().set_requires_grad(true);
  Tensor d = b.detach().clone().set_requires_grad(true);
  tg::optim::SGD restored(
      {{{c}, {.lr = 1.0, .momentum = 0.9}}, {{d}, {.lr = 1.0, .momentum = 0.9}}});
  restored.load_state(state);
  CHECK((restored.lr(0) == 0.1 && restored.lr(1) == 0.05));

  tg::optim::SGD one({c}, {.lr = 0.3});
  CHECK(as_map(one.state()).at("lr").shape() == tg::Shape{});  // as before groups existed
  // A state of another number of groups is refused, naming both counts; nothing changes.
  CHECK_THROWS_WITH(one.load_state(state), Catch::Contains("'lr' has shape [2]") &&
                                               Catch::Contains("per parameter group (1)"));
  CHECK(one.lr() == 0.3);
  auto negative = state;
  negative["lr"] = tg::tensor(xt::xarray<double>{0.1, -2.0});
  CHECK_THROWS_WITH(restored.load_state(negative), Catch::Contains("lr -2 for parameter group 1"));
  CHECK(restored.lr(1) == 0.05);
}

TEST_CASE("a step after Module::to changed the parameters' dtype is refused whole", "[optim]") {
  tg::manual_seed(8);
  tg::nn::Linear layer(3, 2);
  tg::optim::Adam adam(layer.parameters(), {.lr = 0.1});
  tg::sum(layer(tg::randn({4, 3}))).backward();
  adam.step();  // the state is f32 now
  layer.to(tg::f64);
  tg::sum(layer(tg::randn({4, 3}, {.dtype = tg::f64}))).backward();
  const xt::xarray<double> before = layer.weight.value<double>();
  const auto state_before = adam.state();
  REQUIRE_THROWS_WITH(adam.step(), Catch::Contains("Adam") && Catch::Contains("Module::to") &&
                                       Catch::Contains("f32"));
  // Nothing moved: not the weight, not a step count.
  REQUIRE(bool(xt::all(xt::equal(layer.weight.value<double>(), before))));
  const auto state_after = adam.state();
  REQUIRE(state_after.size() == state_before.size());
  for (std::size_t i = 0; i < state_after.size(); ++i) {
    CHECK(state_after[i].first == state_before[i].first);
    if (state_after[i].first.ends_with(".step")) {
      CHECK(state_after[i].second.item<std::int64_t>() ==
            state_before[i].second.item<std::int64_t>());
    }
  }
}
