#include "models.hpp"

namespace resnet {

using tg::nn::BatchNorm2d;
using tg::nn::Conv2d;
using tg::nn::Sequential;

namespace {

// A convolution that a BatchNorm follows: no bias, "same" padding for 3x3.
std::shared_ptr<Conv2d> conv_before_bn(std::int64_t in, std::int64_t out, std::int64_t kernel,
                                       std::int64_t stride) {
  return std::make_shared<Conv2d>(in, out, kernel,
                                  tg::Conv2dOptions{.stride = stride, .padding = kernel / 2},
                                  /*bias=*/false);
}

}  // namespace

BasicBlock::BasicBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride)
    : conv1_(register_module("conv1", conv_before_bn(in_channels, out_channels, 3, stride))),
      bn1_(register_module("bn1", std::make_shared<BatchNorm2d>(out_channels))),
      conv2_(register_module("conv2", conv_before_bn(out_channels, out_channels, 3, 1))),
      bn2_(register_module("bn2", std::make_shared<BatchNorm2d>(out_channels))) {
  if (stride != 1 || in_channels != out_channels) {
    downsample_ = register_module(
        "downsample",
        std::make_shared<Sequential>(conv_before_bn(in_channels, out_channels, 1, stride),
                                     std::make_shared<BatchNorm2d>(out_channels)));
  }
}

tg::Tensor BasicBlock::forward(const tg::Tensor& x) {
  tg::Tensor out = tg::relu((*bn1_)((*conv1_)(x)));
  out = (*bn2_)((*conv2_)(out));
  const tg::Tensor shortcut = downsample_ ? (*downsample_)(x) : x;
  return tg::relu(out + shortcut);
}

ResNet::ResNet(int blocks_per_stage, std::int64_t num_classes)
    : conv1_(register_module("conv1", conv_before_bn(1, 16, 3, 1))),
      bn1_(register_module("bn1", std::make_shared<BatchNorm2d>(16))),
      layer1_(register_module("layer1", make_stage(16, 16, 1, blocks_per_stage))),
      layer2_(register_module("layer2", make_stage(16, 32, 2, blocks_per_stage))),
      layer3_(register_module("layer3", make_stage(32, 64, 2, blocks_per_stage))),
      avgpool_(register_module("avgpool", std::make_shared<tg::nn::AdaptiveAvgPool2d>(1))),
      fc_(register_module("fc", std::make_shared<tg::nn::Linear>(64, num_classes))) {}

std::shared_ptr<Sequential> ResNet::make_stage(std::int64_t in_channels, std::int64_t out_channels,
                                               std::int64_t stride, int blocks) {
  if (blocks < 1) tg::fail("ResNet: blocks_per_stage must be at least 1, got {}", blocks);
  auto stage = std::make_shared<Sequential>();
  stage->push_back(std::make_shared<BasicBlock>(in_channels, out_channels, stride));
  for (int i = 1; i < blocks; ++i) {
    stage->push_back(std::make_shared<BasicBlock>(out_channels, out_channels, 1));
  }
  return stage;
}

tg::Tensor ResNet::forward(const tg::Tensor& input) {
  tg::Tensor x = tg::relu((*bn1_)((*conv1_)(input)));
  x = (*layer3_)((*layer2_)((*layer1_)(x)));
  x = tg::flatten((*avgpool_)(x), 1);
  return (*fc_)(x);
}

}  // namespace resnet
