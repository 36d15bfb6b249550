#pragma once
// A small ResNet (He et al. 2016, the CIFAR variant's layout) for 28x28 one-channel images, laid
// out and named as torchvision's resnet and bench/resnet_torch.py, so that a checkpoint's names
// are the PyTorch twin's state_dict names (conv1.weight, bn1.running_mean,
// layer2.0.downsample.1.weight, fc.bias, ...):
//
//   conv1 3x3 16, bn1, relu                                         16 x 28 x 28
//   layer1: blocks_per_stage BasicBlocks of 16, stride 1           16 x 28 x 28
//   layer2: blocks_per_stage BasicBlocks of 32, the first stride 2  32 x 14 x 14
//   layer3: blocks_per_stage BasicBlocks of 64, the first stride 2  64 x 7 x 7
//   avgpool (global average), fc 64 -> 10
//
// Convolutions followed by a BatchNorm have no bias (the BatchNorm's shift replaces it). Every
// layer keeps PyTorch's default initialisation (tg::nn's are the same), as the twin does.

#include <cstdint>
#include <memory>

#include <tapegrad.hpp>

namespace resnet {

// Two 3x3 convolutions with BatchNorm, and the input added back before the last ReLU:
//   out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
// The shortcut is x itself, or, where the block changes the shape (stride 2 or more channels),
// downsample: a 1x1 convolution of the same stride and a BatchNorm.
class BasicBlock : public tg::nn::Module {
 public:
  BasicBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride);
  tg::Tensor forward(const tg::Tensor& x) override;

 private:
  std::shared_ptr<tg::nn::Conv2d> conv1_;
  std::shared_ptr<tg::nn::BatchNorm2d> bn1_;
  std::shared_ptr<tg::nn::Conv2d> conv2_;
  std::shared_ptr<tg::nn::BatchNorm2d> bn2_;
  std::shared_ptr<tg::nn::Sequential> downsample_;  // null: the identity
};

class ResNet : public tg::nn::Module {
 public:
  explicit ResNet(int blocks_per_stage = 2, std::int64_t num_classes = 10);
  tg::Tensor forward(const tg::Tensor& x) override;

 private:
  std::shared_ptr<tg::nn::Sequential> make_stage(std::int64_t in_channels,
                                                 std::int64_t out_channels, std::int64_t stride,
                                                 int blocks);

  std::shared_ptr<tg::nn::Conv2d> conv1_;
  std::shared_ptr<tg::nn::BatchNorm2d> bn1_;
  std::shared_ptr<tg::nn::Sequential> layer1_, layer2_, layer3_;
  std::shared_ptr<tg::nn::AdaptiveAvgPool2d> avgpool_;
  std::shared_ptr<tg::nn::Linear> fc_;
};

}  // namespace resnet
