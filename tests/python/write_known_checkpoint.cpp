// Writes a training checkpoint whose values follow a formula that read_safetensors.py checks
// independently: element i of every floating tensor is (i % 97) * 0.25 - 12 (exact in f32).
#include <tapegrad.hpp>

namespace {

struct Model : tg::nn::Module {
  Model() {
    conv = register_module("conv", std::make_shared<tg::nn::Conv2d>(2, 3, 3));
    fc = register_module("fc", std::make_shared<tg::nn::Linear>(4, 5));
  }
  tg::Tensor forward(const tg::Tensor& x) override { return (*fc)(x); }
  std::shared_ptr<tg::nn::Conv2d> conv;
  std::shared_ptr<tg::nn::Linear> fc;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: write_known_checkpoint FILE\n");
    return 2;
  }
  Model model;
  for (tg::Tensor& p : model.parameters()) {
    auto& values = p.value<float>();
    for (std::size_t i = 0; i < values.size(); ++i) {
      values.data()[i] = static_cast<float>(i % 97) * 0.25f - 12.0f;
    }
  }
  tg::optim::SGD sgd(model.parameters(), {.momentum = 0.9});
  for (tg::Tensor& p : model.parameters()) p.set_grad(tg::zeros_like(p));
  sgd.step();  // zero gradients: the weights stay, the momentum buffers appear (all zero)
  tg::save_checkpoint(argv[1], model, sgd, {.epoch = 3, .step = 42});
  return 0;
}
