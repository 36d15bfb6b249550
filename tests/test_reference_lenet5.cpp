// One forward and backward of LeNet-5 against PyTorch (tests/reference/make_lenet5_fixture.py):
// the ops in the composition a training step uses, not only one at a time.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include <tapegrad.hpp>
#include <xtensor/xnpy.hpp>

using tg::Tensor;

namespace {

const std::string fixture_dir = std::string(TG_FIXTURE_DIR) + "/../lenet5/";

struct Parameter {
  std::string name;
  tg::Shape shape;
  double fan_in;
};

// The formula of make_lenet5_fixture.py: element i of parameter k is sin(0.7 i + 1.3 k) /
// sqrt(fan_in).
Tensor formula_parameter(std::size_t k, const Parameter& p) {
  auto values = xt::xarray<double>::from_shape(p.shape);
  for (std::size_t i = 0; i < values.size(); ++i) {
    values.data()[i] =
        std::sin(0.7 * static_cast<double>(i) + 1.3 * static_cast<double>(k)) / std::sqrt(p.fan_in);
  }
  return tg::tensor(std::move(values), true);
}

}  // namespace

TEST_CASE("LeNet-5 forward and backward agree with PyTorch to 1e-9", "[reference][lenet5]") {
  const std::vector<Parameter> specs{{"c1.weight", {6, 1, 5, 5}, 25},   {"c1.bias", {6}, 25},
                                     {"c2.weight", {16, 6, 5, 5}, 150}, {"c2.bias", {16}, 150},
                                     {"f1.weight", {120, 400}, 400},    {"f1.bias", {120}, 400},
                                     {"f2.weight", {84, 120}, 120},     {"f2.bias", {84}, 120},
                                     {"f3.weight", {10, 84}, 84},       {"f3.bias", {10}, 84}};
  std::vector<Tensor> p;
  for (std::size_t k = 0; k < specs.size(); ++k) p.push_back(formula_parameter(k, specs[k]));

  auto images = xt::xarray<double>::from_shape({4, 1, 28, 28});
  for (std::size_t j = 0; j < images.size(); ++j) {
    images.data()[j] = (std::sin(0.05 * static_cast<double>(j)) + 1.0) / 2.0;
  }
  Tensor x = tg::tensor(std::move(images));
  Tensor labels = tg::tensor(xt::xarray<std::int64_t>{3, 1, 4, 1});

  Tensor h = tg::max_pool2d(tg::relu(tg::conv2d(x, p[0], p[1], {.padding = 2})), {.kernel = 2});
  h = tg::max_pool2d(tg::relu(tg::conv2d(h, p[2], p[3])), {.kernel = 2});
  h = tg::relu(tg::linear(tg::flatten(h, 1), p[4], p[5]));
  h = tg::relu(tg::linear(h, p[6], p[7]));
  Tensor logits = tg::linear(h, p[8], p[9]);
  Tensor loss = tg::cross_entropy(logits, labels);
  loss.backward();

  const auto expected_logits = xt::load_npy<double>(fixture_dir + "logits.npy");
  REQUIRE(bool(xt::allclose(logits.value<double>(), expected_logits, 1e-9, 1e-12)));
  CHECK(loss.item() == Approx(xt::load_npy<double>(fixture_dir + "loss.npy")()).epsilon(1e-12));
  for (std::size_t k = 0; k < specs.size(); ++k) {
    INFO(specs[k].name);
    const auto expected = xt::load_npy<double>(fixture_dir + specs[k].name + ".grad.npy");
    REQUIRE(p[k].grad().shape() == expected.shape());
    CHECK(bool(xt::allclose(p[k].grad().value<double>(), expected, 1e-9, 1e-12)));
  }
}
