#include "sequential.hpp"

#include <string>

namespace tg::nn {

void Sequential::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
}

const std::shared_ptr<Module>& Sequential::operator[](std::size_t index) const {
  if (index >= size()) {
    fail("Sequential: index {} out of range for {} modules", index, size());
  }
  return children()[index].second;
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& [_, module] : children()) x = module->forward(x);
  return x;
}

}  // namespace tg::nn
