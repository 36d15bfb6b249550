#include "module.hpp"

#include <algorithm>

namespace tg::nn {
namespace {

void check_name(const std::string& name, const char* what) {
  if (name.empty() || name.find('.') != std::string::npos) {
    fail("Module::register_{}: name '{}' must be non-empty and contain no '.'", what, name);
  }
}

}  // namespace

Tensor Module::register_parameter(std::string name, Tensor parameter) {
  check_name(name, "parameter");
  if (!parameter.defined()) fail("Module::register_parameter: parameter '{}' is undefined", name);
  for (const auto& [existing, _] : parameters_) {
    if (existing == name) fail("Module::register_parameter: '{}' is registered twice", name);
  }
  parameter.set_requires_grad(true);
  parameters_.emplace_back(std::move(name), parameter);
  return parameter;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, "module");
  if (!module) fail("Module::register_module: module '{}' is null", name);
  for (const auto& [existing, _] : children_) {
    if (existing == name) fail("Module::register_module: '{}' is registered twice", name);
  }
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, parameter] : parameters_) out.emplace_back(prefix + name, parameter);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", all);
  // A parameter shared by two modules (tied weights) is listed once, under its first name, so
  // that an optimizer does not update it twice.
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& entry : all) {
    const bool seen = std::any_of(out.begin(), out.end(), [&](const auto& kept) {
      return kept.second.is_same(entry.second);
    });
    if (!seen) out.push_back(std::move(entry));
  }
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, parameter] : named_parameters()) out.push_back(parameter);
  return out;
}

void Module::train(bool training) {
  training_ = training;
  for (auto& [_, child] : children_) child->train(training);
}

void Module::zero_grad() {
  for (Tensor& parameter : parameters()) parameter.zero_grad();
}

}  // namespace tg::nn
