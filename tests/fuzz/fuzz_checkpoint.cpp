// Checkpoints loaded into a model and its optimizer: every input is loaded or refused with
// tg::Error, and a refused one changes neither the model nor the optimizer.
#include <cstdint>
#include <cstring>
#include <vector>

#include <tapegrad.hpp>

#include "checkpoint_model.hpp"
#include "input_file.hpp"

namespace {

// Every parameter's and optimizer state tensor's bytes (the learning rate among them).
std::vector<std::uint8_t> snapshot(const tg::nn::Module& model, const tg::optim::Optimizer& opt) {
  std::vector<std::uint8_t> bytes;
  auto append = [&bytes](const tg::Tensor& t) {
    if (t.dtype() == tg::DType::i64) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(t.value<std::int64_t>().data());
      bytes.insert(bytes.end(), p, p + t.numel() * 8);
    } else if (t.dtype() == tg::DType::f64) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(t.value<double>().data());
      bytes.insert(bytes.end(), p, p + t.numel() * 8);
    } else {
      const auto* p = reinterpret_cast<const std::uint8_t*>(t.value<float>().data());
      bytes.insert(bytes.end(), p, p + t.numel() * 4);
    }
  };
  for (const tg::Tensor& p : model.parameters()) append(p);
  for (const auto& [name, t] : opt.state()) append(t);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A fresh model and optimizer per input, so that a finding replays alone. One step gives the
  // optimizer state to lose.
  tg::manual_seed(7);
  tg::fuzz::CheckpointModel model;
  tg::optim::Adam adam(model.parameters(), {});
  tg::sum(model(tg::ones({1, 1, 4, 4}))).backward();
  adam.step();
  adam.zero_grad();
  const auto path = tg::fuzz::input_file(data, size);
  const std::vector<std::uint8_t> before = snapshot(model, adam);
  try {
    tg::load_checkpoint(path, model, adam);
  } catch (const tg::Error&) {
    if (snapshot(model, adam) != before) tg::fuzz::violated("a refused checkpoint changed state");
  }
  const std::vector<std::uint8_t> loaded = snapshot(model, adam);
  try {
    tg::load(model, path);
  } catch (const tg::Error&) {
    if (snapshot(model, adam) != loaded) tg::fuzz::violated("refused weights changed the model");
  }
  return 0;
}
