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
  for (const char* kind : {"sgd", "adam", "adamw"}) {
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
      } else {
        opt = std::make_unique<tg::optim::AdamW>(std::vector<Tensor>{p},
                                                 tg::optim::AdamOptions{.weight_decay = 0.01});
      }
      opt->step();
      // Every element took its first step, the last chunk's last element too: SGD moves by
      // lr * g, Adam by lr * g / |g| (m / sqrt(v) after one step), AdamW after its decay.
      const xt::xarray<float>& w = p.value<float>();
      const xt::xarray<float>& grad = g.value<float>();
      for (std::size_t i : {std::size_t{0}, n / 2, n - 1}) {
        INFO(kind << " element " << i);
        if (std::string(kind) == "sgd") {
          CHECK(w(i) == Approx(w0(i) - 0.1f * grad(i)));
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
  for (const char* kind : {"sgd", "adam"}) {
    auto make = [&](Tensor p) -> std::unique_ptr<tg::optim::Optimizer> {
      if (std::string(kind) == "sgd")
        return std::make_unique<tg::optim::SGD>(std::vector<Tensor>{p},
                                                tg::optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
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

TEST_CASE("StepLR multiplies the learning rate by gamma every step_size epochs",
          "[optim][scheduler]") {
  Tensor p = parameter_with_grad(1.0, 2.0, 0.3, -0.1);
  tg::optim::SGD sgd({p}, {.lr = 1.0});
  tg::optim::StepLR schedule(sgd, 2, 0.5);
  std::vector<double> lrs;
  for (int epoch = 0; epoch < 5; ++epoch) {
    lrs.push_back(sgd.lr());
    schedule.step();
  }
  CHECK(lrs == std::vector<double>{1.0, 1.0, 0.5, 0.5, 0.25});
  schedule.set_epoch(1);
  CHECK(sgd.lr() == 1.0);
}

TEST_CASE("optimizers reject bad options", "[optim][errors]") {
  Tensor p = parameter_with_grad(1.0, 2.0, 0.3, -0.1);
  CHECK_THROWS_WITH(tg::optim::SGD({p}, {.lr = -1.0}),
                    Catch::Contains("SGD") && Catch::Contains("-1"));
  CHECK_THROWS_WITH(tg::optim::SGD({p}, {.nesterov = true}), Catch::Contains("nesterov"));
  CHECK_THROWS_WITH(tg::optim::Adam({p}, {.beta1 = 1.0}),
                    Catch::Contains("Adam") && Catch::Contains("betas"));
  CHECK_THROWS_WITH(tg::optim::SGD({tg::ones({2})}, {}), Catch::Contains("requires grad"));
  CHECK_THROWS_WITH(
      tg::optim::StepLR(
          *std::make_unique<tg::optim::SGD>(std::vector<Tensor>{p}, tg::optim::SGDOptions{}), 0),
      Catch::Contains("step_size"));
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
