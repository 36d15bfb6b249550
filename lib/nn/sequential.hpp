#pragma once
// ModuleList holds modules registered as "0", "1", ... (so a list registered as "blocks" names
// its first conv weight "blocks.0.weight"), with indexed and typed access; Sequential is a
// ModuleList whose forward applies them in order.
//
//   auto net = std::make_shared<tg::nn::Sequential>(std::make_shared<tg::nn::Conv2d>(1, 6, 5),
//                                                   std::make_shared<tg::nn::ReLU>());
//   auto conv = net->at<tg::nn::Conv2d>(0);   // std::shared_ptr<Conv2d>; tg::Error if not one

#include <memory>
#include <typeinfo>
#include <vector>

#include "module.hpp"

namespace tg::nn {

class ModuleList : public Module {
 public:
  ModuleList() = default;
  template <class... Modules>
  explicit ModuleList(std::shared_ptr<Modules>... modules) {
    (push_back(std::move(modules)), ...);
  }

  void push_back(std::shared_ptr<Module> module);
  std::size_t size() const { return modules_.size(); }
  const std::shared_ptr<Module>& operator[](std::size_t index) const;
  // The module at `index` as an M; tg::Error naming both types if it is not one.
  template <class M>
  std::shared_ptr<M> at(std::size_t index) const {
    auto typed = std::dynamic_pointer_cast<M>((*this)[index]);
    if (!typed) wrong_type(index, typeid(M));
    return typed;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  [[noreturn]] void wrong_type(std::size_t index, const std::type_info& expected) const;

  std::vector<std::shared_ptr<Module>> modules_;
};

class Sequential : public ModuleList {
 public:
  using ModuleList::ModuleList;
  // Each module's operator() in turn (so that their forward hooks run).
  Tensor forward(const Tensor& input) override;
};

}  // namespace tg::nn
