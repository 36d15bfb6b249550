#include "checkpoint.hpp"

#include <charconv>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../../autograd/random.hpp"
#include "agreement.hpp"
#include "backend.hpp"

namespace tg::distributed {
namespace {

constexpr const char* kSave = "distributed::save_checkpoint";
constexpr const char* kLoad = "distributed::load_checkpoint";

// Rank 0's string on every rank.
std::string from_rank_zero(const std::string& text, std::string_view what) {
  return detail::all_gather(rank() == 0 ? text : std::string(), what)[0];
}

// What the other ranks need to rebuild rank 0's optimizer state, and the training state: one
// line per optimizer tensor ("name dtype dims..."), then "epoch step", then the generator.
std::string describe_rest(const optim::NamedTensors& optimizer_state, const TrainingState& state) {
  std::ostringstream out;
  out << optimizer_state.size() << '\n';
  for (const auto& [name, tensor] : optimizer_state) {
    out << name << '\n' << static_cast<int>(tensor.dtype()) << ' ' << tensor.dim();
    for (std::size_t d : tensor.shape()) out << ' ' << d;
    out << '\n';
  }
  out << state.epoch << ' ' << state.step << '\n' << global_generator().engine() << '\n';
  return out.str();
}

struct Rest {
  optim::NamedTensors optimizer_state;  // zeros of rank 0's names, dtypes and shapes
  TrainingState state;
  std::mt19937_64 generator;
};

Rest parse_rest(const std::string& text) {
  std::istringstream in(text);
  Rest rest;
  std::size_t count = 0;
  in >> count;
  for (std::size_t i = 0; i < count && in; ++i) {
    std::string name;
    int dtype = 0;
    std::size_t dims = 0;
    in >> std::ws;
    std::getline(in, name);
    in >> dtype >> dims;
    Shape shape(dims);
    for (std::size_t& d : shape) in >> d;
    rest.optimizer_state.emplace_back(name, zeros(shape, {.dtype = static_cast<DType>(dtype)}));
  }
  in >> rest.state.epoch >> rest.state.step >> rest.generator;
  // Written by rank 0 of this very program: a failure here is a bug, not a bad file.
  if (!in) fail("{}: rank 0's description of the optimizer state did not parse", kLoad);
  return rest;
}

std::vector<Tensor> tensors_of(const optim::NamedTensors& named) {
  std::vector<Tensor> out;
  for (const auto& [name, tensor] : named) out.push_back(tensor);
  return out;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const nn::Module& module,
                     const optim::Optimizer& optimizer, const TrainingState& state) {
  std::string error;
  if (rank() == 0) {
    try {
      tg::save_checkpoint(path, module, optimizer, state);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  detail::check_agreement(kSave, error, "");
}

TrainingState load_checkpoint(const std::filesystem::path& path, nn::Module& module,
                              optim::Optimizer& optimizer) {
  TrainingState state;
  std::string error;
  if (rank() == 0) {
    try {
      state = tg::load_checkpoint(path, module, optimizer);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  detail::check_agreement(kLoad, error, "");
  if (world_size() == 1) return state;

  const optim::NamedTensors model_state = module.state_dict();
  detail::check_same_tensors(kLoad, model_state);
  detail::check_agreement(kLoad, "",
                          fmt::format("a {} optimizer of {} parameters", optimizer.name(),
                                      optimizer.parameters().size()));
  detail::broadcast_tensors(tensors_of(model_state), 0, kLoad);

  // Rank 0's optimizer state has the shapes the file gave it; the others may have none yet (an
  // Adam that has not stepped): they make tensors of rank 0's shapes to receive it.
  const optim::NamedTensors rank_zero_state =
      rank() == 0 ? optimizer.state() : optim::NamedTensors{};
  Rest rest = parse_rest(from_rank_zero(describe_rest(rank_zero_state, state), kLoad));
  if (rank() == 0) rest.optimizer_state = rank_zero_state;
  detail::broadcast_tensors(tensors_of(rest.optimizer_state), 0, kLoad);
  std::string load_error;
  if (rank() != 0) {
    try {
      optimizer.load_state({rest.optimizer_state.begin(), rest.optimizer_state.end()});
    } catch (const Error& e) {
      load_error = e.what();
    }
  }
  detail::check_agreement(kLoad, load_error, "");
  if (rank() == 0) return state;
  global_generator().engine() = rest.generator;
  return rest.state;
}

}  // namespace tg::distributed
