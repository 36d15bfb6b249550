#include "sequential.hpp"

#include <string>

namespace tg::nn {

void ModuleList::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), module);
  modules_.push_back(std::move(module));
}

const std::shared_ptr<Module>& ModuleList::operator[](std::size_t index) const {
  if (index >= size()) {
    fail("{}: index {} out of range for {} modules", class_name(typeid(*this)), index, size());
  }
  return modules_[index];
}

void ModuleList::wrong_type(std::size_t index, const std::type_info& expected) const {
  const Module& found = *modules_[index];
  fail("{}: module {} is a {}, not a {}", class_name(typeid(*this)), index,
       class_name(typeid(found)), class_name(expected));
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& module : *this) x = (*module)(x);
  return x;
}

}  // namespace tg::nn
