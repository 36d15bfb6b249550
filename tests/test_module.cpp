#include <catch2/catch.hpp>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

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

namespace {

// A residual block whose forward takes two tensors: no unary forward to override.
struct Residual : tg::nn::Module {
  Residual() {
    conv = register_module(
        "conv", std::make_shared<tg::nn::Conv2d>(2, 2, 3, tg::Conv2dOptions{.padding = 1}, false));
    bn = register_module("bn", std::make_shared<tg::nn::BatchNorm2d>(2));
  }
  // The unary Module::forward stays visible (and Clang's -Woverloaded-virtual quiet).
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& skip) { return tg::relu((*bn)((*conv)(x)) + skip); }
  std::shared_ptr<tg::nn::Conv2d> conv;
  std::shared_ptr<tg::nn::BatchNorm2d> bn;
};

std::vector<std::string> names_of(const tg::nn::NamedTensors& named) {
  std::vector<std::string> names;
  for (const auto& [name, _] : named) names.push_back(name);
  return names;
}

}  // namespace

TEST_CASE("buffers are listed apart from parameters and saved in state_dict order",
          "[nn][module]") {
  tg::nn::Sequential net(std::make_shared<tg::nn::Conv2d>(1, 2, 3),
                         std::make_shared<tg::nn::BatchNorm2d>(2),
                         std::make_shared<tg::nn::ReLU>());
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"});
  CHECK(names_of(net.named_buffers()) ==
        std::vector<std::string>{"1.running_mean", "1.running_var", "1.num_batches_tracked"});
  // PyTorch's state_dict order: per module its parameters, then its buffers.
  CHECK(names_of(net.state_dict()) ==
        std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                 "1.running_var", "1.num_batches_tracked"});
  for (const Tensor& buffer : net.buffers()) CHECK_FALSE(buffer.requires_grad());
  CHECK(net.buffers()[2].dtype() == tg::i64);
  CHECK(net.buffers()[2].dim() == 0);
}

TEST_CASE("named_modules, children and apply walk the tree depth first", "[nn][module]") {
  Block block;
  std::vector<std::string> names;
  for (const auto& [name, module] : block.named_modules()) names.push_back(name);
  CHECK(names ==
        std::vector<std::string>{"", "features", "features.0", "features.1", "features.2", "head"});
  CHECK(block.children().size() == 2);
  std::vector<std::string> visited;
  block.apply([&](tg::nn::Module& m) { visited.push_back(tg::nn::class_name(typeid(m))); });
  // Children before their parent, as PyTorch's apply.
  CHECK(visited ==
        std::vector<std::string>{"Conv2d", "ReLU", "Conv2d", "Sequential", "Linear", "Block"});
}

TEST_CASE("a module's forward may take any arguments", "[nn][module]") {
  tg::manual_seed(5);
  Residual block;
  Tensor x = tg::randn({2, 2, 4, 4});
  Tensor y = block.forward(x, x);
  CHECK(y.shape() == x.shape());
  tg::sum(y).backward();
  CHECK(block.conv->weight.grad().defined());
  // It has no unary forward: calling one is an error naming the module.
  REQUIRE_THROWS_WITH(block(x), Catch::Contains("Residual") && Catch::Contains("no forward"));
  tg::nn::ModuleList list(std::make_shared<tg::nn::ReLU>());
  REQUIRE_THROWS_WITH(list(x), Catch::Contains("ModuleList"));
}

TEST_CASE("forward hooks see and may replace the output, until removed", "[nn][module]") {
  tg::nn::Linear layer(3, 2);
  Tensor x = tg::ones({1, 3});
  int calls = 0;
  tg::RemovableHandle observe =
      layer.register_forward_hook([&](tg::nn::Module& m, const Tensor& in, const Tensor& out) {
        ++calls;
        CHECK(&m == &layer);
        CHECK(in.is_same(x));
        CHECK(out.shape() == tg::Shape{1, 2});
        return Tensor{};
      });
  tg::RemovableHandle replace = layer.register_forward_hook(
      [](tg::nn::Module&, const Tensor&, const Tensor& out) { return out * 2.0; });
  const Tensor plain = layer.forward(x);
  REQUIRE(bool(xt::allclose(layer(x).value<float>(), plain.value<float>() * 2.0f)));
  CHECK(calls == 1);
  replace.remove();
  replace.remove();  // twice: nothing
  REQUIRE(bool(xt::allclose(layer(x).value<float>(), plain.value<float>())));
  CHECK(calls == 2);
  observe.remove();
  (void)layer(x);
  CHECK(calls == 2);
  // Hooks of modules inside a Sequential run too.
  auto inner = std::make_shared<tg::nn::ReLU>();
  tg::nn::Sequential net(inner);
  auto handle = inner->register_forward_hook(
      [](tg::nn::Module&, const Tensor&, const Tensor& out) { return out + 1.0; });
  CHECK(net(tg::zeros({2})).value<float>()(0) == 1.0f);
}

TEST_CASE("Sequential and ModuleList give typed access to their modules", "[nn][module]") {
  tg::nn::Sequential net(std::make_shared<tg::nn::Conv2d>(1, 2, 3),
                         std::make_shared<tg::nn::ReLU>());
  std::shared_ptr<tg::nn::Conv2d> conv = net.at<tg::nn::Conv2d>(0);
  CHECK(conv->weight.shape() == tg::Shape{2, 1, 3, 3});
  REQUIRE_THROWS_WITH(net.at<tg::nn::Linear>(1),
                      Catch::Contains("module 1 is a ReLU, not a Linear"));
  REQUIRE_THROWS_WITH(net.at<tg::nn::ReLU>(2), Catch::Contains("out of range"));
  tg::nn::ModuleList blocks;
  blocks.push_back(std::make_shared<tg::nn::Linear>(2, 2));
  blocks.push_back(std::make_shared<tg::nn::Linear>(2, 3));
  std::size_t outputs = 0;
  for (const auto& block : blocks) {
    outputs += std::dynamic_pointer_cast<tg::nn::Linear>(block)->weight.shape()[0];
  }
  CHECK(outputs == 5);
  CHECK(names_of(blocks.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"});
}

TEST_CASE("printing a module shows the tree with parameter counts", "[nn][module]") {
  tg::nn::Sequential net(std::make_shared<tg::nn::Conv2d>(1, 6, 5, tg::Conv2dOptions{.padding = 2}),
                         std::make_shared<tg::nn::BatchNorm2d>(6), std::make_shared<tg::nn::ReLU>(),
                         std::make_shared<tg::nn::AdaptiveAvgPool2d>(1),
                         std::make_shared<tg::nn::Flatten>(),
                         std::make_shared<tg::nn::Linear>(6, 10, false));
  std::ostringstream out;
  out << net;
  CHECK(
      out.str() ==
      "Sequential(  # 228 parameters\n"
      "  (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))  # 156 parameters\n"
      "  (1): BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)  # 12 "
      "parameters\n"
      "  (2): ReLU()\n"
      "  (3): AdaptiveAvgPool2d(output_size=(1, 1))\n"
      "  (4): Flatten(start_dim=1, end_dim=-1)\n"
      "  (5): Linear(in_features=6, out_features=10, bias=False)  # 60 parameters\n"
      ")\n");
}

TEST_CASE("to(dtype) converts parameters and buffers in place", "[nn][module]") {
  tg::manual_seed(6);
  tg::nn::Sequential net(std::make_shared<tg::nn::Conv2d>(1, 2, 3),
                         std::make_shared<tg::nn::BatchNorm2d>(2));
  auto conv = net.at<tg::nn::Conv2d>(0);
  auto bn = net.at<tg::nn::BatchNorm2d>(1);
  const xt::xarray<float> before = conv->weight.value<float>();
  const Tensor registered = net.parameters()[0];
  const std::uint64_t version = registered.version();
  tg::sum(net(tg::randn({2, 1, 5, 5}))).backward();
  REQUIRE(conv->weight.grad().defined());
  net.to(tg::f64);
  // The same tensors (the member, the registered one), now f64, values kept, gradients dropped.
  CHECK(conv->weight.is_same(registered));
  CHECK(conv->weight.dtype() == tg::f64);
  CHECK(registered.version() > version);
  CHECK_FALSE(conv->weight.grad().defined());
  REQUIRE(bool(xt::allclose(conv->weight.value<double>(), xt::cast<double>(before), 0.0, 0.0)));
  CHECK(bn->running_mean.dtype() == tg::f64);
  CHECK(bn->num_batches_tracked.dtype() == tg::i64);
  CHECK(bn->num_batches_tracked.item<std::int64_t>() == 1);
  CHECK(net(tg::randn({2, 1, 5, 5}, {.dtype = tg::f64})).dtype() == tg::f64);
  REQUIRE_THROWS_WITH(net.to(tg::i64),
                      Catch::Contains("Sequential") && Catch::Contains("floating"));
}

TEST_CASE("buffers are checked when registered", "[nn][module][errors]") {
  struct Bad : tg::nn::Module {
    void add(const std::string& name, Tensor t) { register_buffer(name, std::move(t)); }
  } bad;
  bad.add("count", tg::zeros({1}));
  REQUIRE_THROWS_WITH(bad.add("count", tg::zeros({1})), Catch::Contains("registered twice"));
  REQUIRE_THROWS_WITH(bad.add("w", tg::zeros({1}, {.requires_grad = true})),
                      Catch::Contains("requires grad"));
  REQUIRE_THROWS_WITH(bad.add("a.b", tg::zeros({1})), Catch::Contains("no '.'"));
  REQUIRE_THROWS_WITH(bad.add("u", Tensor{}), Catch::Contains("undefined"));
}
