#include "checkpoint.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <random>
#include <sstream>

#include "../autograd/dispatch.hpp"
#include "../autograd/random.hpp"
#include "safetensors.hpp"

namespace tg {
namespace {

const std::string optimizer_prefix = "optimizer.";

std::map<std::string, std::string> metadata_for(const optim::Optimizer* optimizer,
                                                const TrainingState* state) {
  std::map<std::string, std::string> metadata{{"format", "tapegrad"}};
  if (optimizer) metadata["optimizer"] = optimizer->name();
  if (state) {
    metadata["epoch"] = std::to_string(state->epoch);
    metadata["step"] = std::to_string(state->step);
    // The global generator too: dropout masks after a resume are those the run would have drawn.
    std::ostringstream generator;
    generator << global_generator().engine();
    metadata["generator"] = generator.str();
  }
  return metadata;
}

// Checks that `file` holds exactly the module's parameters and buffers (its state_dict, besides
// optimizer entries), each of its shape and dtype. Changes nothing.
void check_parameters(const nn::Module& module, const SafeTensors& file, const std::string& where) {
  const auto parameters = module.state_dict();
  for (const auto& [name, parameter] : parameters) {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) {
      fail("load: {}: '{}' ({} {}) is missing from the file", where, name,
           tg::name(parameter.dtype()), to_string(parameter.shape()));
    }
    const Tensor& stored = it->second;
    if (stored.shape() != parameter.shape() || stored.dtype() != parameter.dtype()) {
      fail("load: {}: '{}' is {} {} in the file but {} {} in the model", where, name,
           tg::name(stored.dtype()), to_string(stored.shape()), tg::name(parameter.dtype()),
           to_string(parameter.shape()));
    }
  }
  for (const auto& entry : file.tensors) {
    const std::string& name = entry.first;
    if (name.starts_with(optimizer_prefix)) continue;
    const bool known = std::any_of(parameters.begin(), parameters.end(),
                                   [&](const auto& p) { return p.first == name; });
    if (!known) fail("load: {}: the file has '{}', which the model does not", where, name);
  }
}

// Copies the parameters in; check_parameters has accepted the file, so this cannot fail.
void copy_parameters(nn::Module& module, const SafeTensors& file) {
  for (const auto& [name, parameter] : module.state_dict()) {
    const Tensor& stored = file.tensors.at(name);
    const Tensor& target = parameter;  // a binding cannot be captured with Clang 14
    dispatch_any(target.dtype(), [&]<class T>() { target.value<T>() = stored.value<T>(); });
    target.bump_version();
  }
}

std::int64_t metadata_int(const SafeTensors& file, const std::string& key,
                          const std::string& where) {
  auto it = file.metadata.find(key);
  std::int64_t value = 0;
  if (it == file.metadata.end()) fail("load_checkpoint: {}: metadata has no '{}'", where, key);
  const auto [end, error] =
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  if (error != std::errc() || end != it->second.data() + it->second.size() || value < 0) {
    fail("load_checkpoint: {}: metadata '{}' = '{}' is not a count", where, key, it->second);
  }
  return value;
}

}  // namespace

void save(const nn::Module& module, const std::filesystem::path& path) {
  write_safetensors(path, module.state_dict(), metadata_for(nullptr, nullptr));
}

void load(nn::Module& module, const std::filesystem::path& path) {
  const SafeTensors file = read_safetensors(path);
  check_parameters(module, file, path.string());
  copy_parameters(module, file);
}

void save_checkpoint(const std::filesystem::path& path, const nn::Module& module,
                     const optim::Optimizer& optimizer, const TrainingState& state) {
  auto tensors = module.state_dict();
  for (auto& [name, tensor] : optimizer.state())
    tensors.emplace_back(optimizer_prefix + name, tensor);
  write_safetensors(path, tensors, metadata_for(&optimizer, &state));
}

TrainingState load_checkpoint(const std::filesystem::path& path, nn::Module& module,
                              optim::Optimizer& optimizer) {
  const std::string where = path.string();
  SafeTensors file = read_safetensors(path);
  auto kind = file.metadata.find("optimizer");
  if (kind == file.metadata.end()) {
    fail(
        "load_checkpoint: {}: not a training checkpoint (no optimizer state); use tg::load for "
        "the weights alone",
        where);
  }
  if (kind->second != optimizer.name()) {
    fail("load_checkpoint: {}: the file holds {} state but the optimizer is {}", where,
         kind->second, optimizer.name());
  }
  const TrainingState state{metadata_int(file, "epoch", where), metadata_int(file, "step", where)};
  std::mt19937_64 generator;
  auto saved_generator = file.metadata.find("generator");
  if (saved_generator == file.metadata.end()) {
    fail("load_checkpoint: {}: metadata has no 'generator' state", where);
  }
  std::istringstream generator_text(saved_generator->second);
  generator_text >> generator;
  if (generator_text.fail()) {
    fail("load_checkpoint: {}: metadata 'generator' is not a generator state", where);
  }
  std::map<std::string, Tensor> optimizer_state;
  for (const auto& [name, tensor] : file.tensors) {
    if (name.starts_with(optimizer_prefix)) {
      optimizer_state.emplace(name.substr(optimizer_prefix.size()), tensor);
    }
  }
  // All or nothing: the parameters are checked first, then the optimizer state is checked and
  // installed (load_state changes nothing unless all of it fits), and only then are the
  // parameters copied, which cannot fail.
  check_parameters(module, file, where);
  try {
    optimizer.load_state(optimizer_state);
  } catch (const Error& e) {
    fail("load_checkpoint: {}: {}", where, e.what());
  }
  copy_parameters(module, file);
  global_generator().engine() = generator;
  return state;
}

}  // namespace tg
