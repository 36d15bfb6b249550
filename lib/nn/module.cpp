#include "module.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <typeinfo>

#include "../../autograd/grad_mode.hpp"
#include "../../autograd/storage.hpp"

namespace tg::nn {
namespace {

void check_name(const std::string& name, const char* what) {
  if (name.empty() || name.find('.') != std::string::npos) {
    fail("Module::register_{}: name '{}' must be non-empty and contain no '.'", what, name);
  }
}

// Entries whose tensor is already listed (tied weights) are dropped, so that an optimizer does
// not update a tensor twice and a checkpoint does not hold it twice.
NamedTensors without_repeats(NamedTensors all) {
  NamedTensors out;
  for (auto& entry : all) {
    const bool seen = std::any_of(out.begin(), out.end(), [&](const auto& kept) {
      return kept.second.is_same(entry.second);
    });
    if (!seen) out.push_back(std::move(entry));
  }
  return out;
}

std::size_t element_count(const std::vector<Tensor>& tensors) {
  std::size_t count = 0;
  for (const Tensor& t : tensors) count += t.numel();
  return count;
}

}  // namespace

// "tg::nn::Conv2d" -> "Conv2d", "(anonymous namespace)::Block" -> "Block".
std::string class_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && demangled ? demangled.get() : type.name();
  const std::size_t template_start = name.find('<');
  const std::size_t last_scope = name.rfind("::", template_start);
  return last_scope == std::string::npos ? name : name.substr(last_scope + 2);
}

Tensor Module::forward(const Tensor& input) {
  fail("{}: this module has no forward(const Tensor&) (input {}); call the forward it defines",
       class_name(typeid(*this)), to_string(input.shape()));
}

Tensor Module::operator()(const Tensor& input) {
  Tensor output = forward(input);
  for (const ForwardHook& hook : forward_hooks_->snapshot()) {
    Tensor replaced = hook(*this, input, output);
    if (replaced.defined()) output = std::move(replaced);
  }
  return output;
}

RemovableHandle Module::register_forward_hook(ForwardHook hook) {
  if (!hook) fail("{}: register_forward_hook: the hook is empty", class_name(typeid(*this)));
  return {forward_hooks_, forward_hooks_->add(std::move(hook))};
}

void Module::check_new_name(const std::string& name, const char* what) const {
  check_name(name, what);
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& e) { return e.first == name; });
  };
  if (taken(parameters_) || taken(buffers_) || taken(children_)) {
    fail("Module::register_{}: '{}' is registered twice", what, name);
  }
}

Tensor Module::register_parameter(std::string name, Tensor parameter) {
  check_new_name(name, "parameter");
  if (!parameter.defined()) fail("Module::register_parameter: parameter '{}' is undefined", name);
  parameter.set_requires_grad(true);
  parameters_.emplace_back(std::move(name), parameter);
  return parameter;
}

Tensor Module::register_buffer(std::string name, Tensor buffer) {
  check_new_name(name, "buffer");
  if (!buffer.defined()) fail("Module::register_buffer: buffer '{}' is undefined", name);
  if (buffer.requires_grad()) {
    fail("Module::register_buffer: buffer '{}' requires grad; a trained tensor is a parameter",
         name);
  }
  buffers_.emplace_back(std::move(name), buffer);
  return buffer;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "module");
  if (!module) fail("Module::register_module: module '{}' is null", name);
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, Kind kind, NamedTensors& out) const {
  if (kind != Kind::buffers) {
    for (const auto& [name, parameter] : parameters_) out.emplace_back(prefix + name, parameter);
  }
  if (kind != Kind::parameters) {
    for (const auto& [name, buffer] : buffers_) out.emplace_back(prefix + name, buffer);
  }
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", kind, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors all;
  collect("", Kind::parameters, all);
  return without_repeats(std::move(all));
}

NamedTensors Module::named_buffers() const {
  NamedTensors all;
  collect("", Kind::buffers, all);
  return without_repeats(std::move(all));
}

NamedTensors Module::state_dict() const {
  NamedTensors all;
  collect("", Kind::both, all);
  return without_repeats(std::move(all));
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, parameter] : named_parameters()) out.push_back(parameter);
  return out;
}

std::vector<Tensor> Module::buffers() const {
  std::vector<Tensor> out;
  for (auto& [_, buffer] : named_buffers()) out.push_back(buffer);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  // Breadth of the tree is small: a linear scan keeps a module shared by two parents once.
  std::function<void(const std::string&, Module&)> visit = [&](const std::string& prefix,
                                                               Module& module) {
    for (auto& [name, child] : module.children_) {
      Module* const submodule = child.get();  // Clang 14 cannot capture a structured binding
      const bool seen = std::any_of(out.begin(), out.end(),
                                    [&](const auto& entry) { return entry.second == submodule; });
      if (seen) continue;
      out.emplace_back(prefix + name, submodule);
      visit(prefix + name + ".", *submodule);
    }
  };
  visit("", *this);
  return out;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [_, child] : children_) child->apply(fn);
  fn(*this);
}

void Module::train(bool training) {
  training_ = training;
  for (auto& [_, child] : children_) child->train(training);
}

void Module::to(DType dtype) {
  if (!is_floating(dtype)) {
    fail("{}: to({}): modules convert to a floating dtype (f32 or f64)", class_name(typeid(*this)),
         name(dtype));
  }
  for (auto& [_, tensor] : state_dict()) {
    if (!is_floating(tensor.dtype()) || tensor.dtype() == dtype) continue;
    tensor.zero_grad();
    detail::convert_in_place(tensor, dtype);
  }
}

void Module::zero_grad() {
  for (Tensor& parameter : parameters()) parameter.zero_grad();
}

std::string Module::describe() const { return class_name(typeid(*this)) + "()"; }

void Module::print(std::ostream& out, const std::string& indent) const {
  const std::size_t count = element_count(parameters());
  const std::string counted = count == 0 ? "" : "  # " + std::to_string(count) + " parameters";
  if (children_.empty()) {
    out << describe() << counted << '\n';
    return;
  }
  out << class_name(typeid(*this)) << "(" << counted << '\n';
  for (const auto& [name, child] : children_) {
    out << indent << "  (" << name << "): ";
    child->print(out, indent + "  ");
  }
  out << indent << ")\n";
}

std::ostream& operator<<(std::ostream& out, const Module& module) {
  module.print(out, "");
  return out;
}

}  // namespace tg::nn
