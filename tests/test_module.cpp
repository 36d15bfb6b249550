#include <catch2/catch.hpp>

#include <tapegrad.hpp>

using tg::Tensor;

namespace {

struct Block : tg::nn::Module {
  Block() {
    features = register_module(
        "features", std::make_shared<tg::nn::Sequential>(
                        std::make_shared<tg::nn::Conv2d>(1, 2, 3), std::make_shared<tg::nn::ReLU>(),
                        std::make_shared<tg::nn::Conv2d>(2, 3, 1, tg::Conv2dOptions{}, false)));
    head = register_module("head", std::make_shared<tg::nn::Linear>(12, 4));
    scale = register_parameter("scale", tg::ones({1}));
  }
  Tensor forward(const Tensor& x) override {
    return (*head)(tg::flatten((*features)(x), 1)) * scale;
  }
  std::shared_ptr<tg::nn::Sequential> features;
  std::shared_ptr<tg::nn::Linear> head;
  Tensor scale;
};

}  // namespace

TEST_CASE("named_parameters gives dotted paths in registration order", "[nn][module]") {
  Block block;
  std::vector<std::string> names;
  for (const auto& [name, p] : block.named_parameters()) {
    names.push_back(name);
    CHECK(p.requires_grad());
  }
  CHECK(names == std::vector<std::string>{"scale", "features.0.weight", "features.0.bias",
                                          "features.2.weight", "head.weight", "head.bias"});
  CHECK(block.parameters().size() == 6);
  // The member and the registered parameter are the same tensor.
  CHECK(block.named_parameters()[0].second.is_same(block.scale));
}

TEST_CASE("a parameter shared by two modules is listed and updated once", "[nn][module]") {
  struct Tied : tg::nn::Module {
    Tied() {
      auto shared = std::make_shared<tg::nn::Linear>(2, 2);
      register_module("encoder", shared);
      register_module("decoder", shared);
    }
    Tensor forward(const Tensor& x) override { return x; }
  } tied;
  const auto named = tied.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "encoder.weight");
  CHECK(named[1].first == "encoder.bias");
}

TEST_CASE("train and eval reach every submodule", "[nn][module]") {
  Block block;
  block.eval();
  CHECK_FALSE(block.is_training());
  CHECK_FALSE((*block.features)[1]->is_training());
  block.train();
  CHECK((*block.features)[2]->is_training());
}

TEST_CASE("a module's gradients flow to all its parameters and zero_grad drops them",
          "[nn][module]") {
  tg::manual_seed(1);
  Block block;
  Tensor x = tg::randn({2, 1, 4, 4});
  tg::sum(block(x)).backward();
  for (const auto& [name, p] : block.named_parameters()) {
    INFO(name);
    CHECK(p.grad().defined());
  }
  block.zero_grad();
  for (const auto& p : block.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("registration errors are explained", "[nn][module][errors]") {
  struct Bad : tg::nn::Module {
    Tensor forward(const Tensor& x) override { return x; }
    void add(const std::string& name) { register_parameter(name, tg::ones({1})); }
  } bad;
  bad.add("w");
  CHECK_THROWS_WITH(bad.add("w"), Catch::Contains("'w' is registered twice"));
  CHECK_THROWS_WITH(bad.add("a.b"), Catch::Contains("'a.b'") && Catch::Contains("no '.'"));
  tg::nn::Sequential seq;
  CHECK_THROWS_WITH(seq[0], Catch::Contains("index 0 out of range"));
}
