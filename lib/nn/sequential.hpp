#pragma once
// Sequential: applies its modules in order. They are registered as "0", "1", ..., so a
// Sequential registered as "features" names its first conv weight "features.0.weight".
//
//   auto net = std::make_shared<tg::nn::Sequential>(std::make_shared<tg::nn::Conv2d>(1, 6, 5),
//                                                   std::make_shared<tg::nn::ReLU>());

#include <memory>

#include "module.hpp"

namespace tg::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  template <class... Modules>
  explicit Sequential(std::shared_ptr<Modules>... modules) {
    (push_back(std::move(modules)), ...);
  }

  void push_back(std::shared_ptr<Module> module);
  std::size_t size() const { return children().size(); }
  const std::shared_ptr<Module>& operator[](std::size_t index) const;

  Tensor forward(const Tensor& input) override;
};

}  // namespace tg::nn
