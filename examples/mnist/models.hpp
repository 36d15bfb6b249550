#pragma once
// The two reference CNNs of shared/bench/torch_ref.py, with the same layer names (c1, c2,
// f1, ...) so checkpoints line up with PyTorch's state_dict. Each convolution, the ReLU after it
// and the max-pool after that are one ConvReLUMaxPool2d (or the first two a ConvReLU2d): the
// same parameters and results, fewer passes over memory.

#include <memory>
#include <string>

#include <tapegrad.hpp>

namespace mnist {

// LeNet-5 with ReLU and max-pooling: 28x28 -> conv5(pad 2) 6 -> pool -> conv5 16 -> pool ->
// 120 -> 84 -> 10.
class LeNet5 : public tg::nn::Module {
 public:
  LeNet5();
  tg::Tensor forward(const tg::Tensor& x) override;

 private:
  std::shared_ptr<tg::nn::ConvReLUMaxPool2d> c1_, c2_;
  std::shared_ptr<tg::nn::Linear> f1_, f2_, f3_;
};

// The classic PyTorch examples/mnist network, without dropout: conv3 32 -> conv3 64 -> pool ->
// 9216 -> 128 -> 10.
class MnistCNN : public tg::nn::Module {
 public:
  MnistCNN();
  tg::Tensor forward(const tg::Tensor& x) override;

 private:
  std::shared_ptr<tg::nn::ConvReLU2d> c1_;
  std::shared_ptr<tg::nn::ConvReLUMaxPool2d> c2_;
  std::shared_ptr<tg::nn::Linear> f1_, f2_;
};

// "lenet5" or "mnist_cnn"; throws tg::Error for another name.
std::shared_ptr<tg::nn::Module> make_model(const std::string& name);

}  // namespace mnist
