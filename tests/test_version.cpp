// Version counters: an in-place change to an array that a recorded op's backward reads is an
// error, not a silently wrong gradient.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include <tapegrad.hpp>

#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;
using tg::Tensor;

TEST_CASE("a tensor's version counts in-place changes to its array, shared by its handles",
          "[version]") {
  const Tensor x = tg::ones({3});
  CHECK(x.version() == 0);
  x.bump_version();
  const Tensor view = x.detach();
  CHECK(view.version() == 1);
  view.bump_version();
  CHECK(x.version() == 2);
  CHECK(x.clone().version() == 0);  // a copy is another array
}

TEST_CASE("optimizer steps, checkpoint loads and init change versions", "[version]") {
  tg::manual_seed(1);
  tg::nn::Linear layer(3, 2);
  Tensor weight = layer.parameters()[0];
  const std::uint64_t initialised = weight.version();
  tg::nn::init::uniform(weight, 0.5);
  CHECK(weight.version() == initialised + 1);
  for (const bool adam : {false, true}) {
    std::unique_ptr<tg::optim::Optimizer> optimizer;
    if (adam) {
      optimizer = std::make_unique<tg::optim::Adam>(layer.parameters(), tg::optim::AdamOptions{});
    } else {
      optimizer = std::make_unique<tg::optim::SGD>(layer.parameters(),
                                                   tg::optim::SGDOptions{.momentum = 0.9});
    }
    tg::sum(layer(tg::ones({4, 3}))).backward();
    const std::uint64_t before = weight.version();
    optimizer->step();
    CHECK(weight.version() == before + 1);
    optimizer->zero_grad();
  }
  tg::test::TempDir dir;
  tg::save(layer, dir / "layer.safetensors");
  const std::uint64_t before_load = weight.version();
  tg::load(layer, dir / "layer.safetensors");
  CHECK(weight.version() == before_load + 1);
}

// The mistake the counter exists for: a step between forward and backward. Without the check,
// the input gradient (which reads the weight) was computed from the stepped weight. The weight's
// own gradient reads only the input and delta: with an input that needs no gradient the same
// step is harmless, and is no error.
TEST_CASE("backward after an optimizer step changed a saved weight is a tg::Error",
          "[version][errors]") {
  tg::manual_seed(2);
  const bool input_needs_grad = GENERATE(true, false);
  const Tensor x = tg::randn({2, 1, 6, 6}).set_requires_grad(input_needs_grad);
  Tensor weight = tg::randn({3, 1, 3, 3}).set_requires_grad(true);
  const Tensor y = tg::sum(tg::relu(tg::conv2d(x, weight)));
  tg::optim::SGD sgd({weight}, {.lr = 0.1});
  weight.set_grad(tg::ones_like(weight));
  sgd.step();
  if (!input_needs_grad) {
    CHECK_NOTHROW(y.backward());
    return;
  }
  CHECK_THROWS_WITH(
      y.backward(),
      Contains("conv2d backward: input 1 of conv2d ([3,1,3,3]) has been modified by an in-place "
               "operation since conv2d was recorded: it is at version 1, and was at version 0"));
}

TEST_CASE("the output a backward reads is checked too; arrays it does not read are not",
          "[version][errors]") {
  const Tensor x = tg::full({3}, 0.5).set_requires_grad(true);
  SECTION("exp's gradient reads its output") {
    const Tensor y = tg::exp(x);
    const Tensor loss = tg::sum(y);
    y.value<float>() *= 2.0f;
    y.bump_version();
    CHECK_THROWS_WITH(loss.backward(),
                      Contains("exp backward: the output of exp ([3]) has been modified"));
  }
  SECTION("add's gradient reads neither input") {
    Tensor b = tg::ones({3}).set_requires_grad(true);
    const Tensor loss = tg::sum(x + b);
    b.value<float>().fill(7.0f);
    b.bump_version();
    loss.backward();
    const bool ones = x.grad().value<float>() == xt::xarray<float>{1.0f, 1.0f, 1.0f};
    CHECK(ones);
  }
  SECTION("mul's gradient reads the other input") {
    Tensor b = tg::ones({3}).set_requires_grad(true);
    const Tensor loss = tg::sum(x * b);
    b.bump_version();
    CHECK_THROWS_WITH(loss.backward(), Contains("mul backward: input 1 of mul ([3])"));
  }
  SECTION("a bump alone counts, whether or not the values changed") {
    const Tensor y = tg::exp(x);
    y.bump_version();
    CHECK_THROWS_WITH(tg::sum(y * 1.0).backward(), Contains("at version 1, and was at version 0"));
  }
}

TEST_CASE("a change before the op is recorded is no error", "[version]") {
  Tensor w = tg::ones({2, 2}).set_requires_grad(true);
  w.bump_version();
  w.bump_version();
  const Tensor loss = tg::sum(tg::matmul(w, w));
  loss.backward();
  // d/dw sum(w w) = 1 w^T + w^T 1 = 2 + 2 for w of ones.
  const bool fours = w.grad().value<float>() == xt::xarray<float>{{4.0f, 4.0f}, {4.0f, 4.0f}};
  CHECK(fours);
}
