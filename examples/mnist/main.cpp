// Trains a CNN on MNIST-format data (real MNIST digits, Fashion-MNIST) and reports, per epoch,
// one line on stdout:
//   epoch 1 train_s 6.86 img_per_s 8746 loss 0.8846 test_acc 0.7837
// Everything else (progress, notes, errors) goes to stderr. --log FILE also writes each epoch's
// metrics as a CSV row (examples/common/metrics_log.hpp).
//
// Data-parallel over MPI, each rank training on its share of every global batch (--batch is per
// rank) and rank 0 printing, logging and writing the checkpoints:
//   mpirun -np 2 build/examples/mnist/mnist --distributed --batch 32
#include <algorithm>
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
  bool distributed = false;
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

// Sets this rank's threads and returns their count: by default the cores this process may run
// on, shared with the other ranks on this machine, so that ranks x threads fits the cores (more
// only slow every rank down). Ranks that mpirun bound to disjoint cores each see fewer cores and
// so take fewer threads; ranks bound to a socket each take a share of it, and --threads gives
// them more. An explicit --threads is taken as given, with a note when it oversubscribes.
int set_threads_per_rank(int requested) {
  tg::set_num_threads(0);
  const int cores = tg::get_num_threads();  // the default: one per core this process may use
  const int ranks_here = tg::distributed::local_world_size();
  const int threads = requested > 0 ? requested : std::max(1, cores / ranks_here);
  if (threads * ranks_here > cores && ranks_here > 1 && tg::distributed::rank() == 0) {
    fmt::print(stderr, "note: {} ranks x {} threads on {} cores oversubscribe them\n", ranks_here,
               threads, cores);
  }
  tg::set_num_threads(threads);
  return threads;
}

double accuracy(tg::nn::Module& model, const tg::data::Dataset& test_set) {
  // Batches of 100: the convolutions run image by image, so larger ones gain nothing, and
  // mnist_cnn's activations for 1,000 images (over 500 MB) outgrew the storage cache and were
  // faulted in afresh every batch: 10,000 test images took 3x as long and twice the memory.
  tg::data::DataLoader loader(test_set, {.batch_size = 100, .shuffle = false});
  return examples::evaluate(model, loader).value();
}

int run(const Settings& s) {
  if (s.distributed) tg::distributed::init();
  std::size_t ranks = 1;
  try {
    ranks = static_cast<std::size_t>(tg::distributed::world_size());
  } catch (const tg::Error& e) {
    // Under mpirun without --distributed the ranks would train independent copies.
    throw tg::Error(fmt::format("{} (here: --distributed)", e.what()));
  }
  const bool lead = tg::distributed::rank() == 0;  // prints, logs and writes the checkpoints
  // Where the checkpoints and the log go is checked before anything is loaded or trained.
  if (lead) {
    examples::check_writable_flag("--save", s.save);
    examples::check_writable_flag("--log", s.log);
  }
  const int threads = set_threads_per_rank(s.threads);
  if (s.distributed && lead) {
    fmt::print(stderr,
               "distributed: {} ranks ({} on this machine) x batch {} = global batch {}, {} "
               "thread{} per rank\n",
               ranks, tg::distributed::local_world_size(), s.batch, ranks * s.batch, threads,
               threads == 1 ? "" : "s");
  }
  tg::manual_seed(s.seed);
  tg::data::MNIST train_set(s.data, tg::data::Split::train);
  tg::data::MNIST test_set(s.data, tg::data::Split::test);
  if (s.limit > 0) train_set.truncate(s.limit);

  // Under --distributed the ranks start from rank 0's weights and average their gradients in
  // backward (nn::DistributedDataParallel); the wrapper has the model's parameters and names.
  std::shared_ptr<tg::nn::Module> model = mnist::make_model(s.model);
  if (lead) fmt::print(stderr, "{}: {} parameters\n", s.model, examples::count_parameters(*model));
  if (s.distributed) model = std::make_shared<tg::nn::DistributedDataParallel>(model);
  auto optimizer = make_optimizer(s, model->parameters());
  // Made before a checkpoint is loaded: the schedule is relative to the initial learning rate.
  std::optional<tg::optim::StepLR> schedule;
  if (s.lr_step > 0) schedule.emplace(*optimizer, s.lr_step, s.lr_gamma);
  tg::TrainingState state;
  if (!s.resume.empty()) {
    // Either way the same file: one written by N ranks resumes in M.
    state = s.distributed ? tg::distributed::load_checkpoint(s.resume, *model, *optimizer)
                          : tg::load_checkpoint(s.resume, *model, *optimizer);
    if (lead) {
      fmt::print(stderr, "resumed from {} after epoch {} (step {})\n", s.resume, state.epoch,
                 state.step);
    }
    if (schedule) schedule->set_epoch(static_cast<int>(state.epoch));
  }
  examples::MetricsLog log(lead ? s.log : "", state.epoch);

  tg::data::DataLoaderOptions loader_options{.batch_size = s.batch, .seed = s.seed};
  if (s.distributed) loader_options.sampler.emplace();  // this rank's share of every epoch
  tg::data::DataLoader loader(train_set, loader_options);
  tg::profiler::enable(s.profile);
  for (int epoch = static_cast<int>(state.epoch) + 1; epoch <= s.epochs; ++epoch) {
    loader.set_epoch(static_cast<std::uint64_t>(epoch - 1));
    // Rank 0's progress, counting every rank's images (the ranks go in step).
    std::optional<tg::ProgressBar> progress;
    if (lead) progress.emplace(loader.num_examples() * ranks, fmt::format("epoch {}", epoch));
    // This rank's images and the sum of their losses.
    const examples::EpochTotals totals =
        examples::train_epoch(*model, *optimizer, loader, state, progress ? &*progress : nullptr,
                              static_cast<std::size_t>(ranks));
    const double training_peak =
        examples::status_mib("VmHWM:");  // before the evaluation adds its own
    if (progress) progress->finish();
    if (s.profile && lead) examples::print_profile(epoch, totals.backward, totals.images);
    tg::profiler::reset();
    state.epoch = epoch;
    tg::profiler::enable(false);  // neither the evaluation nor the epoch's sums are timed
    // Every rank's images and losses.
    tg::Tensor sums =
        tg::tensor({totals.loss_sum, static_cast<double>(totals.images)}, {.dtype = tg::f64});
    tg::distributed::all_reduce(sums);
    const double test_acc = accuracy(*model, test_set);
    tg::profiler::enable(s.profile);
    const double img_per_s = sums.value<double>()(1) / totals.seconds;
    const double mean_loss = sums.value<double>()(0) / sums.value<double>()(1);
    if (lead) {
      examples::print_epoch_line(epoch, totals.seconds, img_per_s, mean_loss, test_acc);
      fmt::print(stderr,
                 "epoch {}: resident memory {:.1f} MiB, of which {:.1f} MiB kept for reuse; peak "
                 "{:.1f} MiB in training, {:.1f} MiB with evaluation{}\n",
                 epoch, examples::status_mib("VmRSS:"),
                 static_cast<double>(tg::storage_cache_bytes()) / (1 << 20), training_peak,
                 examples::status_mib("VmHWM:"), ranks > 1 ? " (rank 0)" : "");
    }
    // The rate this epoch trained with, before the schedule moves it on; the row before the
    // checkpoint (see metrics_log.hpp).
    log.add({.epoch = epoch,
             .loss = mean_loss,
             .accuracy = test_acc,
             .lr = optimizer->lr(),
             .img_per_s = img_per_s});
    if (schedule) schedule->step();
    if (!s.save.empty()) {
      if (s.distributed) {
        tg::distributed::save_checkpoint(s.save, *model, *optimizer, state);
      } else {
        tg::save_checkpoint(s.save, *model, *optimizer, state);
      }
    }
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
  app.add_flag("--distributed", s.distributed,
               "train data-parallel on the ranks that mpirun started (--batch is per rank; "
               "--threads defaults to this machine's cores shared among its ranks)");
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
    // The other ranks may be waiting for this one in a collective: end the whole job now.
    if (tg::distributed::is_initialized()) tg::distributed::abort(e.what());
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  }
}
