// Trains a CNN on MNIST-format data (real MNIST digits, Fashion-MNIST) and reports, per epoch,
// one line on stdout:
//   epoch 1 train_s 6.86 img_per_s 8746 loss 0.8846 test_acc 0.7837
// Everything else (progress, notes, errors) goes to stderr. --log FILE also writes each epoch's
// metrics as a CSV row (examples/common/metrics_log.hpp).
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>
#include <tapegrad.hpp>

#include "common/flags.hpp"
#include "common/metrics_log.hpp"
#include "common/training.hpp"
#include "models.hpp"

namespace {

struct Settings {
  std::string data = "data/mnist";
  std::string model = "lenet5";
  std::string optimizer = "adam";
  // The defaults (Adam 0.002, batch 64, 30 epochs, learning rate x0.3 every 10) are the best
  // of the settings compared over 5 seeds for LeNet-5 on the 8,000 real digits (see the README).
  int epochs = 30;
  std::size_t batch = 64;
  std::optional<double> lr;  // default: 0.01 for sgd, 2e-3 for adam and adamw
  int lr_step = 10;          // 0: constant learning rate
  double lr_gamma = 0.3;
  double momentum = 0.9;
  std::optional<double> weight_decay;  // default: 0, and 0.01 for adamw
  int threads = 0;
  std::uint64_t seed = 0;
  std::size_t limit = 0;
  std::string save;
  std::string resume;
  std::string log;
  bool profile = false;
};

std::unique_ptr<tg::optim::Optimizer> make_optimizer(const Settings& s,
                                                     std::vector<tg::Tensor> parameters) {
  if (s.optimizer == "sgd") {
    return std::make_unique<tg::optim::SGD>(
        std::move(parameters), tg::optim::SGDOptions{.lr = s.lr.value_or(0.01),
                                                     .momentum = s.momentum,
                                                     .weight_decay = s.weight_decay.value_or(0.0)});
  }
  const tg::optim::AdamOptions options{
      .lr = s.lr.value_or(2e-3),
      .weight_decay = s.weight_decay.value_or(s.optimizer == "adamw" ? 1e-2 : 0.0)};
  if (s.optimizer == "adamw")
    return std::make_unique<tg::optim::AdamW>(std::move(parameters), options);
  return std::make_unique<tg::optim::Adam>(std::move(parameters), options);
}

double accuracy(tg::nn::Module& model, const tg::data::Dataset& test_set) {
  // Batches of 100: the convolutions run image by image, so larger ones gain nothing, and
  // mnist_cnn's activations for 1,000 images (over 500 MB) outgrew the storage cache and were
  // faulted in afresh every batch: 10,000 test images took 3x as long and twice the memory.
  tg::data::DataLoader loader(test_set, {.batch_size = 100, .shuffle = false});
  return examples::evaluate(model, loader).value();
}

int run(const Settings& s) {
  // Where the checkpoints and the log go is checked before anything is loaded or trained.
  examples::check_writable_flag("--save", s.save);
  examples::check_writable_flag("--log", s.log);
  tg::set_num_threads(s.threads);
  tg::manual_seed(s.seed);
  tg::data::MNIST train_set(s.data, tg::data::Split::train);
  tg::data::MNIST test_set(s.data, tg::data::Split::test);
  if (s.limit > 0) train_set.truncate(s.limit);

  auto model = mnist::make_model(s.model);
  auto optimizer = make_optimizer(s, model->parameters());
  // Made before a checkpoint is loaded: the schedule is relative to the initial learning rate.
  std::optional<tg::optim::StepLR> schedule;
  if (s.lr_step > 0) schedule.emplace(*optimizer, s.lr_step, s.lr_gamma);
  tg::TrainingState state;
  if (!s.resume.empty()) {
    state = tg::load_checkpoint(s.resume, *model, *optimizer);
    fmt::print(stderr, "resumed from {} after epoch {} (step {})\n", s.resume, state.epoch,
               state.step);
    if (schedule) schedule->set_epoch(static_cast<int>(state.epoch));
  }
  examples::MetricsLog log(s.log, state.epoch);

  tg::data::DataLoader loader(train_set, {.batch_size = s.batch, .seed = s.seed});
  tg::profiler::enable(s.profile);
  for (int epoch = static_cast<int>(state.epoch) + 1; epoch <= s.epochs; ++epoch) {
    loader.set_epoch(static_cast<std::uint64_t>(epoch - 1));
    tg::ProgressBar progress(loader.num_examples(), fmt::format("epoch {}", epoch));
    double loss_sum = 0.0;
    std::size_t seen = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& batch : loader) {
      optimizer->zero_grad();
      tg::Tensor loss = tg::cross_entropy((*model)(batch.images), batch.labels);
      loss.backward();
      optimizer->step();
      ++state.step;
      const std::size_t n = batch.labels.numel();
      loss_sum += loss.item() * static_cast<double>(n);
      seen += n;
      progress.update(seen, loss_sum / static_cast<double>(seen));
    }
    const double train_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double training_peak =
        examples::status_mib("VmHWM:");  // before the evaluation adds its own
    progress.finish();
    if (s.profile) {
      fmt::print(stderr, "epoch {}: time per op (self time, training steps)\n{}", epoch,
                 tg::profiler::report());
      tg::profiler::reset();
    }
    state.epoch = epoch;
    tg::profiler::enable(false);  // the evaluation is not timed
    const double test_acc = accuracy(*model, test_set);
    tg::profiler::enable(s.profile);
    const double img_per_s = static_cast<double>(seen) / train_s;
    const double loss = loss_sum / static_cast<double>(seen);
    examples::print_epoch_line(epoch, train_s, img_per_s, loss, test_acc);
    fmt::print(stderr,
               "epoch {}: resident memory {:.1f} MiB, of which {:.1f} MiB kept for reuse; peak "
               "{:.1f} MiB in training, {:.1f} MiB with evaluation\n",
               epoch, examples::status_mib("VmRSS:"),
               static_cast<double>(tg::storage_cache_bytes()) / (1 << 20), training_peak,
               examples::status_mib("VmHWM:"));
    // The rate this epoch trained with, before the schedule moves it on; the row before the
    // checkpoint (see metrics_log.hpp).
    log.add({.epoch = epoch,
             .loss = loss,
             .accuracy = test_acc,
             .lr = optimizer->lr(),
             .img_per_s = img_per_s});
    if (schedule) schedule->step();
    if (!s.save.empty()) tg::save_checkpoint(s.save, *model, *optimizer, state);
  }
  return 0;
}

// The command line of the user contract, into `s`.
void add_options(CLI::App& app, Settings& s) {
  using examples::number;
  using examples::whole_number;
  constexpr auto any = std::numeric_limits<unsigned long long>::max();
  app.add_option("--data", s.data, "directory with the four MNIST IDX files (.gz or not)")
      ->capture_default_str();
  app.add_option("--model", s.model, "network")
      ->check(CLI::IsMember({"lenet5", "mnist_cnn"}))
      ->capture_default_str();
  app.add_option("--optimizer", s.optimizer, "optimizer")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  app.add_option("--epochs", s.epochs, "total epochs (a resumed run continues up to this)")
      ->check(whole_number(1, 100'000))
      ->capture_default_str();
  app.add_option("--batch", s.batch, "batch size")
      ->check(whole_number(1, 65'536))
      ->capture_default_str();
  // Beyond 10, or a momentum of 1 or more, training only diverges: refused, not run to "loss nan".
  app.add_option("--lr", s.lr, "learning rate (default 0.01 for sgd, 0.002 for adam and adamw)")
      ->check(number(0.0, 10.0, true));
  app.add_option("--lr-step", s.lr_step, "multiply the learning rate by --lr-gamma every N epochs")
      ->check(whole_number(0, 100'000))
      ->capture_default_str();
  app.add_option("--lr-gamma", s.lr_gamma, "learning-rate factor of --lr-step")
      ->check(number(0.0, 1.0, true))
      ->capture_default_str();
  app.add_option("--weight-decay", s.weight_decay,
                 "L2 penalty (decoupled for adamw; default 0, adamw 0.01)")
      ->check(number(0.0, 1.0));
  app.add_option("--momentum", s.momentum, "SGD momentum")
      ->check(number(0.0, 0.999))
      ->capture_default_str();
  app.add_option("--threads", s.threads, "worker threads (0: one per core)")
      ->check(whole_number(0, 1024))
      ->capture_default_str();
  app.add_option("--seed", s.seed, "seed of initialisation and shuffling")
      ->check(whole_number(0, any))
      ->capture_default_str();
  app.add_option("--limit", s.limit, "train on the first N images only (0: all)")
      ->check(whole_number(0, any))
      ->capture_default_str();
  app.add_option("--save", s.save, "write a checkpoint here after every epoch");
  app.add_option("--resume", s.resume, "continue from this checkpoint")->check(CLI::ExistingFile);
  app.add_option("--log", s.log,
                 "write each epoch's loss, accuracy, lr and img/s to this CSV file (a resumed run "
                 "keeps the rows of the epochs it resumes after)");
  app.add_flag("--profile", s.profile, "print each epoch's time per op on stderr");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Settings s;
    CLI::App app{"Train a CNN on MNIST-format data with tapegrad"};
    add_options(app, s);
    CLI11_PARSE(app, argc, argv);
    return run(s);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  }
}
