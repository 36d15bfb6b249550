// A complete tapegrad model: LeNet-5 trained for one epoch on the real MNIST digits that
// scripts/fetch_data.sh puts in data/mnist. forward() is ordinary C++; backward() follows the
// tape it recorded.
#include <tapegrad.hpp>

using namespace tg;

struct LeNet5 : nn::Module {
  std::shared_ptr<nn::Conv2d> c1 =
      register_module("c1", std::make_shared<nn::Conv2d>(1, 6, 5, Conv2dOptions{.padding = 2}));
  std::shared_ptr<nn::Conv2d> c2 = register_module("c2", std::make_shared<nn::Conv2d>(6, 16, 5));
  std::shared_ptr<nn::Linear> f1 = register_module("f1", std::make_shared<nn::Linear>(400, 120));
  std::shared_ptr<nn::Linear> f2 = register_module("f2", std::make_shared<nn::Linear>(120, 10));

  Tensor forward(const Tensor& x) override {
    Tensor h = max_pool2d(relu(c1->forward(x)), {.kernel = 2});  // [N,6,14,14]
    h = max_pool2d(relu(c2->forward(h)), {.kernel = 2});         // [N,16,5,5]
    return f2->forward(relu(f1->forward(flatten(h, 1))));        // [N,10]
  }
};

int main() {
  manual_seed(0);
  LeNet5 model;
  optim::SGD sgd(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  data::MNIST train("data/mnist", data::Split::train), test("data/mnist", data::Split::test);
  for (const auto& [images, labels] : data::DataLoader(train, {.batch_size = 64})) {
    sgd.zero_grad();
    Tensor loss = cross_entropy(model(images), labels);
    loss.backward();  // gradients of every parameter that led to the loss
    sgd.step();
  }
  NoGradGuard no_grad;  // evaluation records nothing
  auto [images, labels] = data::DataLoader(test, {.batch_size = test.size()}).batch(0);
  const auto& predicted = argmax(model(images), 1).value<std::int64_t>();
  std::size_t correct = 0;
  for (std::size_t i = 0; i < test.size(); ++i)
    correct += predicted(i) == labels.value<std::int64_t>()(i);
  fmt::print("test accuracy after one epoch: {:.4f}\n", double(correct) / double(test.size()));
  return correct > test.size() * 9 / 10 ? 0 : 1;  // fails (as a test) below 90%
}
