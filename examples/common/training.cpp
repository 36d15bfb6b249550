#include "training.hpp"

#include <cstdio>
#include <fstream>

#include <fmt/core.h>

namespace examples {

void check_writable_flag(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  try {
    tg::check_writable(path);
  } catch (const tg::Error& e) {
    throw tg::Error(fmt::format("{}: {}", flag, e.what()));
  }
}

void print_epoch_line(std::int64_t epoch, double train_s, double img_per_s, double loss,
                      double test_acc) {
  fmt::print("epoch {} train_s {:.2f} img_per_s {:.0f} loss {:.4f} test_acc {:.4f}\n", epoch,
             train_s, img_per_s, loss, test_acc);
  std::fflush(stdout);
}

Accuracy evaluate(tg::nn::Module& model, const tg::data::DataLoader& loader) {
  tg::NoGradGuard no_grad;
  model.eval();
  Accuracy result;
  for (const auto& batch : loader) {
    const auto& predicted = tg::argmax(model(batch.images), 1).value<std::int64_t>();
    const auto& labels = batch.labels.value<std::int64_t>();
    for (std::size_t i = 0; i < labels.size(); ++i) result.correct += predicted(i) == labels(i);
    result.total += labels.size();
  }
  model.train();
  return result;
}

double status_mib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  double kib = 0.0;
  while (status >> key) {
    if (key == field) {
      status >> kib;
      break;
    }
    status.ignore(4096, '\n');
  }
  return kib / 1024.0;
}

}  // namespace examples
