#include <catch2/catch.hpp>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/temp_dir.hpp"

using tg::Tensor;

namespace {

struct Small : tg::nn::Module {
  explicit Small(std::int64_t hidden = 5) {
    fc1 = register_module("fc1", std::make_shared<tg::nn::Linear>(3, hidden));
    fc2 = register_module("fc2", std::make_shared<tg::nn::Linear>(hidden, 2));
  }
  Tensor forward(const Tensor& x) override { return (*fc2)(tg::relu((*fc1)(x))); }
  std::shared_ptr<tg::nn::Linear> fc1, fc2;
};

bool same_parameters(const tg::nn::Module& a, const tg::nn::Module& b) {
  const auto pa = a.parameters();
  const auto pb = b.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    if (!xt::all(xt::equal(pa[i].value<float>(), pb[i].value<float>()))) return false;
  }
  return pa.size() == pb.size();
}

void train_steps(tg::nn::Module& model, tg::optim::Optimizer& optimizer, int steps) {
  for (int i = 0; i < steps; ++i) {
    tg::manual_seed(static_cast<std::uint64_t>(100 + i));
    Tensor x = tg::randn({4, 3});
    optimizer.zero_grad();
    tg::sum(model(x) * model(x)).backward();
    optimizer.step();
  }
}

}  // namespace

TEST_CASE("save and load restore a model's parameters exactly", "[checkpoint]") {
  tg::test::TempDir dir;
  tg::manual_seed(1);
  Small a;
  tg::manual_seed(2);
  Small b;
  REQUIRE_FALSE(same_parameters(a, b));
  tg::save(a, dir / "m.safetensors");
  tg::load(b, dir / "m.safetensors");
  CHECK(same_parameters(a, b));
  CHECK(tg::read_safetensors(dir / "m.safetensors").tensors.count("fc1.weight") == 1);
}

TEST_CASE("a resumed optimizer continues exactly where it stopped", "[checkpoint]") {
  tg::test::TempDir dir;
  for (bool adam : {false, true}) {
    auto make_optimizer = [&](Small& m) -> std::unique_ptr<tg::optim::Optimizer> {
      if (adam) return std::make_unique<tg::optim::Adam>(m.parameters(), tg::optim::AdamOptions{});
      return std::make_unique<tg::optim::SGD>(m.parameters(),
                                              tg::optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
    };
    tg::manual_seed(7);
    Small straight;
    auto straight_opt = make_optimizer(straight);
    train_steps(straight, *straight_opt, 6);

    tg::manual_seed(7);
    Small first;
    auto first_opt = make_optimizer(first);
    train_steps(first, *first_opt, 3);
    tg::save_checkpoint(dir / "ck.safetensors", first, *first_opt, {.epoch = 1, .step = 3});

    tg::manual_seed(99);  // a different initialisation, overwritten by the checkpoint
    Small resumed;
    auto resumed_opt = make_optimizer(resumed);
    const auto state = tg::load_checkpoint(dir / "ck.safetensors", resumed, *resumed_opt);
    CHECK(state.epoch == 1);
    CHECK(state.step == 3);
    for (int i = 3; i < 6; ++i) {  // the remaining steps, with the same data
      tg::manual_seed(static_cast<std::uint64_t>(100 + i));
      Tensor x = tg::randn({4, 3});
      resumed_opt->zero_grad();
      tg::sum(resumed(x) * resumed(x)).backward();
      resumed_opt->step();
    }
    INFO("adam " << adam);
    CHECK(same_parameters(straight, resumed));
  }
}

TEST_CASE("a resumed RMSprop and a two-group SGD continue exactly where they stopped",
          "[checkpoint][optim]") {
  tg::test::TempDir dir;
  for (const std::string kind : {"rmsprop", "sgd groups"}) {
    auto make_optimizer = [&](Small& m) -> std::unique_ptr<tg::optim::Optimizer> {
      if (kind == "rmsprop") {
        return std::make_unique<tg::optim::RMSprop>(
            m.parameters(),
            tg::optim::RMSpropOptions{.lr = 0.01, .momentum = 0.9, .centered = true});
      }
      return std::make_unique<tg::optim::SGD>(
          std::vector<tg::optim::ParamGroup<tg::optim::SGDOptions>>{
              {m.fc1->parameters(), {.lr = 0.05, .momentum = 0.9}},
              {m.fc2->parameters(), {.lr = 0.01, .weight_decay = 0.1}}});
    };
    // Steps 3 to 5 of train_steps' data.
    auto last_steps = [](Small& m, tg::optim::Optimizer& optimizer) {
      for (int i = 3; i < 6; ++i) {
        tg::manual_seed(static_cast<std::uint64_t>(100 + i));
        Tensor x = tg::randn({4, 3});
        optimizer.zero_grad();
        tg::sum(m(x) * m(x)).backward();
        optimizer.step();
      }
    };
    // The second group's rate changes after step 3 (as a scheduler would change it): the
    // checkpoint must carry it.
    tg::manual_seed(7);
    Small straight;
    auto straight_opt = make_optimizer(straight);
    train_steps(straight, *straight_opt, 3);
    straight_opt->set_lr(1 % straight_opt->num_param_groups(), 0.002);
    last_steps(straight, *straight_opt);

    tg::manual_seed(7);
    Small first;
    auto first_opt = make_optimizer(first);
    train_steps(first, *first_opt, 3);
    first_opt->set_lr(1 % first_opt->num_param_groups(), 0.002);
    tg::save_checkpoint(dir / "ck.safetensors", first, *first_opt, {.epoch = 1, .step = 3});

    tg::manual_seed(99);  // a different initialisation, overwritten by the checkpoint
    Small resumed;
    auto resumed_opt = make_optimizer(resumed);
    tg::load_checkpoint(dir / "ck.safetensors", resumed, *resumed_opt);
    INFO(kind);
    CHECK(resumed_opt->lr(resumed_opt->num_param_groups() - 1) == 0.002);
    last_steps(resumed, *resumed_opt);
    CHECK(same_parameters(straight, resumed));
  }
}

TEST_CASE("a checkpoint of one group does not load into an optimizer of two",
          "[checkpoint][optim][errors]") {
  tg::test::TempDir dir;
  Small model;
  tg::optim::SGD one(model.parameters(), {.lr = 0.05});
  tg::save_checkpoint(dir / "ck.safetensors", model, one, {.epoch = 1});
  tg::optim::SGD two({{model.fc1->parameters()}, {model.fc2->parameters()}}, {.lr = 0.2});
  CHECK_THROWS_WITH(tg::load_checkpoint(dir / "ck.safetensors", model, two),
                    Catch::Contains("ck.safetensors") && Catch::Contains("'lr' has shape []") &&
                        Catch::Contains("per parameter group (2)"));
  CHECK(two.lr(1) == 0.2);
}

TEST_CASE("a checkpoint restores the global generator, so dropout resumes identically",
          "[checkpoint]") {
  tg::test::TempDir dir;
  Small model;
  tg::optim::SGD sgd(model.parameters(), {});
  tg::manual_seed(42);
  tg::save_checkpoint(dir / "ck.safetensors", model, sgd, {.epoch = 1});
  const Tensor expected = tg::dropout(tg::ones({64}), 0.5);
  tg::manual_seed(7);  // something else moved the generator on
  tg::load_checkpoint(dir / "ck.safetensors", model, sgd);
  REQUIRE(bool(xt::all(
      xt::equal(tg::dropout(tg::ones({64}), 0.5).value<float>(), expected.value<float>()))));
}

TEST_CASE("loading a checkpoint of another model says which tensor does not fit",
          "[checkpoint][errors]") {
  tg::test::TempDir dir;
  Small five(5);
  Small six(6);
  tg::save(five, dir / "five.safetensors");
  const auto before = six.parameters()[0].value<float>();
  CHECK_THROWS_WITH(tg::load(six, dir / "five.safetensors"),
                    Catch::Contains("five.safetensors") && Catch::Contains("'fc1.weight'") &&
                        Catch::Contains("[5,3]") && Catch::Contains("[6,3]"));
  // Nothing was half-loaded.
  REQUIRE(bool(xt::all(xt::equal(six.parameters()[0].value<float>(), before))));

  struct Other : tg::nn::Module {
    Other() { w = register_parameter("w", tg::ones({1})); }
    Tensor forward(const Tensor& x) override { return x * w; }
    Tensor w;
  } other;
  CHECK_THROWS_WITH(tg::load(other, dir / "five.safetensors"),
                    Catch::Contains("'w'") && Catch::Contains("missing"));
  tg::save(other, dir / "other.safetensors");
  CHECK_THROWS_WITH(tg::load(five, dir / "other.safetensors"),
                    Catch::Contains("'fc1.weight'") && Catch::Contains("missing"));

  tg::write_safetensors(dir / "extra.safetensors", [&] {
    auto tensors = five.named_parameters();
    tensors.emplace_back("fc3.weight", tg::ones({1}));
    return tensors;
  }());
  CHECK_THROWS_WITH(tg::load(five, dir / "extra.safetensors"),
                    Catch::Contains("'fc3.weight'") && Catch::Contains("does not"));
}

TEST_CASE("a checkpoint that does not fit changes neither model nor optimizer",
          "[checkpoint][errors]") {
  tg::test::TempDir dir;
  Small five(5);
  tg::optim::SGD five_sgd(five.parameters(), {.lr = 0.5, .momentum = 0.9});
  train_steps(five, five_sgd, 1);
  tg::save_checkpoint(dir / "five.safetensors", five, five_sgd, {.epoch = 1, .step = 1});

  Small six(6);
  tg::optim::SGD six_sgd(six.parameters(), {.lr = 0.01, .momentum = 0.9});
  const auto weight_before = six.parameters()[0].value<float>();
  CHECK_THROWS_WITH(tg::load_checkpoint(dir / "five.safetensors", six, six_sgd),
                    Catch::Contains("'fc1.weight'"));
  CHECK(six_sgd.lr() == 0.01);  // the optimizer state was not installed either
  CHECK(six_sgd.state().size() == 1);
  REQUIRE(bool(xt::all(xt::equal(six.parameters()[0].value<float>(), weight_before))));
}

TEST_CASE("a training checkpoint must match the optimizer kind", "[checkpoint][errors]") {
  tg::test::TempDir dir;
  Small model;
  tg::optim::SGD sgd(model.parameters(), {.momentum = 0.9});
  tg::optim::Adam adam(model.parameters(), {});
  tg::save_checkpoint(dir / "ck.safetensors", model, sgd, {.epoch = 2});
  CHECK_THROWS_WITH(tg::load_checkpoint(dir / "ck.safetensors", model, adam),
                    Catch::Contains("SGD state") && Catch::Contains("Adam"));
  tg::save(model, dir / "weights.safetensors");
  CHECK_THROWS_WITH(tg::load_checkpoint(dir / "weights.safetensors", model, sgd),
                    Catch::Contains("not a training checkpoint"));
  tg::load(model, dir / "ck.safetensors");  // the weights alone load from a checkpoint
}

TEST_CASE("a scheduler made after loading resumes from the run's base rate", "[checkpoint]") {
  // PyTorch keeps initial_lr in the optimizer's state: the order of loading and making the
  // scheduler does not matter. Here too: StepLR(1, 0.5) from 0.1, three steps, 0.0125.
  tg::test::TempDir dir;
  tg::manual_seed(3);
  Small model;
  tg::optim::SGD sgd(model.parameters(), {.lr = 0.1});
  tg::optim::StepLR schedule(sgd, 1, 0.5);
  for (int i = 0; i < 3; ++i) schedule.step();
  REQUIRE(sgd.lr() == Approx(0.0125));
  tg::save_checkpoint(dir / "c.safetensors", model, sgd, {.epoch = 3, .step = 3});

  Small resumed_model;
  tg::optim::SGD resumed(resumed_model.parameters(), {.lr = 0.1});
  tg::load_checkpoint(dir / "c.safetensors", resumed_model, resumed);
  CHECK(resumed.initial_lr(0) == 0.1);
  tg::optim::StepLR resumed_schedule(resumed, 1, 0.5);  // made after the load
  resumed_schedule.set_epoch(3);
  CHECK(resumed.lr() == Approx(0.0125));
  resumed_schedule.step();
  CHECK(resumed.lr() == Approx(0.00625));
}

TEST_CASE("BatchNorm2d's running estimates and batch count are saved and loaded", "[checkpoint]") {
  tg::test::TempDir dir;
  tg::manual_seed(4);
  tg::nn::Sequential net(std::make_shared<tg::nn::Conv2d>(1, 3, 3),
                         std::make_shared<tg::nn::BatchNorm2d>(3));
  for (int i = 0; i < 2; ++i) (void)net(tg::randn({4, 1, 6, 6}) * 3.0 + 1.0);
  tg::save(net, dir / "bn.safetensors");
  const auto file = tg::read_safetensors(dir / "bn.safetensors");
  CHECK(file.tensors.at("1.num_batches_tracked").dtype() == tg::i64);
  CHECK(file.tensors.at("1.num_batches_tracked").item<std::int64_t>() == 2);

  tg::nn::Sequential other(std::make_shared<tg::nn::Conv2d>(1, 3, 3),
                           std::make_shared<tg::nn::BatchNorm2d>(3));
  tg::load(other, dir / "bn.safetensors");
  auto bn = net.at<tg::nn::BatchNorm2d>(1);
  auto loaded = other.at<tg::nn::BatchNorm2d>(1);
  REQUIRE(bool(
      xt::all(xt::equal(loaded->running_mean.value<float>(), bn->running_mean.value<float>()))));
  REQUIRE(
      bool(xt::all(xt::equal(loaded->running_var.value<float>(), bn->running_var.value<float>()))));
  CHECK(loaded->num_batches_tracked.item<std::int64_t>() == 2);
  // Evaluation then gives the same outputs.
  net.eval();
  other.eval();
  Tensor x = tg::randn({2, 1, 6, 6});
  REQUIRE(bool(xt::all(xt::equal(net(x).value<float>(), other(x).value<float>()))));
}
