#include "training.hpp"

#include <chrono>
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
  if (loader.options().sampler) {
    throw tg::Error(
        "evaluate: the loader has a DistributedSampler, but evaluate shares the "
        "batches among the ranks itself: give it the whole test set");
  }
  tg::NoGradGuard no_grad;
  model.eval();
  // Under tg::distributed rank r of N takes batches r, r + N, ... and the counts are summed: each
  // example counted once, whatever N.
  const auto ranks = static_cast<std::size_t>(tg::distributed::world_size());
  std::int64_t correct = 0;
  std::int64_t total = 0;
  for (auto index = static_cast<std::size_t>(tg::distributed::rank()); index < loader.num_batches();
       index += ranks) {
    const tg::data::Batch batch = loader.batch(index);
    const auto& predicted = tg::argmax(model(batch.images), 1).value<std::int64_t>();
    const auto& labels = batch.labels.value<std::int64_t>();
    for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted(i) == labels(i);
    total += static_cast<std::int64_t>(labels.size());
  }
  model.train();
  tg::Tensor counts = tg::zeros({2}, {.dtype = tg::i64});
  counts.value<std::int64_t>()(0) = correct;
  counts.value<std::int64_t>()(1) = total;
  tg::distributed::all_reduce(counts);
  return {.correct = static_cast<std::size_t>(counts.value<std::int64_t>()(0)),
          .total = static_cast<std::size_t>(counts.value<std::int64_t>()(1))};
}

void BackwardTimer::backward(const tg::Tensor& loss) {
  const auto start = std::chrono::steady_clock::now();
  loss.backward();
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

EpochTotals train_epoch(tg::nn::Module& model, tg::optim::Optimizer& optimizer,
                        const tg::data::DataLoader& loader, tg::TrainingState& state,
                        tg::ProgressBar* progress, std::size_t progress_scale) {
  EpochTotals totals;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& batch : loader) {
    optimizer.zero_grad();
    const tg::Tensor loss = tg::cross_entropy(model(batch.images), batch.labels);
    totals.backward.backward(loss);
    optimizer.step();
    ++state.step;
    const std::size_t n = batch.labels.numel();
    totals.loss_sum += loss.item() * static_cast<double>(n);
    totals.images += n;
    if (progress != nullptr) {
      progress->update(totals.images * progress_scale,
                       totals.loss_sum / static_cast<double>(totals.images));
    }
  }
  totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return totals;
}

std::size_t count_parameters(const tg::nn::Module& model) {
  std::size_t count = 0;
  for (const tg::Tensor& p : model.parameters()) count += p.numel();
  return count;
}

void print_profile(std::int64_t epoch, const BackwardTimer& backward, std::size_t images) {
  fmt::print(stderr, "epoch {}: time per op (self time, training steps)\n{}", epoch,
             tg::profiler::report());
  fmt::print(stderr, "epoch {}: backward() took {:.1f} ms, {:.4f} ms per image\n", epoch,
             1e3 * backward.seconds(), 1e3 * backward.seconds() / static_cast<double>(images));
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
