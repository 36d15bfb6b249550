#include "models.hpp"

namespace mnist {

using tg::nn::ConvReLU2d;
using tg::nn::ConvReLUMaxPool2d;
using tg::nn::Linear;

constexpr tg::MaxPool2dOptions pool_2x2{.kernel = 2};

LeNet5::LeNet5()
    : c1_(register_module("c1", std::make_shared<ConvReLUMaxPool2d>(
                                    1, 6, 5, pool_2x2, tg::Conv2dOptions{.padding = 2}))),
      c2_(register_module("c2", std::make_shared<ConvReLUMaxPool2d>(6, 16, 5, pool_2x2))),
      f1_(register_module("f1", std::make_shared<Linear>(400, 120))),
      f2_(register_module("f2", std::make_shared<Linear>(120, 84))),
      f3_(register_module("f3", std::make_shared<Linear>(84, 10))) {}

tg::Tensor LeNet5::forward(const tg::Tensor& input) {
  tg::Tensor x = (*c2_)((*c1_)(input));
  x = tg::flatten(x, 1);
  x = tg::relu((*f1_)(x));
  x = tg::relu((*f2_)(x));
  return (*f3_)(x);
}

MnistCNN::MnistCNN()
    : c1_(register_module("c1", std::make_shared<ConvReLU2d>(1, 32, 3))),
      c2_(register_module("c2", std::make_shared<ConvReLUMaxPool2d>(32, 64, 3, pool_2x2))),
      f1_(register_module("f1", std::make_shared<Linear>(9216, 128))),
      f2_(register_module("f2", std::make_shared<Linear>(128, 10))) {}

tg::Tensor MnistCNN::forward(const tg::Tensor& input) {
  tg::Tensor x = (*c2_)((*c1_)(input));
  x = tg::flatten(x, 1);
  x = tg::relu((*f1_)(x));
  return (*f2_)(x);
}

std::shared_ptr<tg::nn::Module> make_model(const std::string& name) {
  if (name == "lenet5") return std::make_shared<LeNet5>();
  if (name == "mnist_cnn") return std::make_shared<MnistCNN>();
  tg::fail("mnist: unknown model '{}' (expected lenet5 or mnist_cnn)", name);
}

}  // namespace mnist
