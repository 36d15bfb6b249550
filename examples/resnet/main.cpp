// Trains a small ResNet (models.hpp) on Fashion-MNIST with SGD (momentum, weight decay), a cosine
// learning-rate schedule and augmentation, and reports, per epoch, one line on stdout as the
// MNIST example does:
//   epoch 1 train_s 61.20 img_per_s 980 loss 0.5012 test_acc 0.8563
// Everything else (progress, notes, errors) goes to stderr. bench/resnet_torch.py is its PyTorch
// twin (same model, data, augmentation, optimizer, schedule and output), and
// examples/resnet/evaluate_in_pytorch.py loads its checkpoints into that twin.
#include <cstdio>
#include <limits>
#include <memory>

#include <CLI/CLI.hpp>
#include <tapegrad.hpp>

#include "common/flags.hpp"
#include "common/metrics_log.hpp"
#include "common/training.hpp"
#include "models.hpp"

namespace {

// Fashion-MNIST's training-set pixel mean and standard deviation (of byte / 255), as
// bench/resnet_torch.py normalises with.
constexpr double pixel_mean = 0.2860;
constexpr double pixel_std = 0.3530;
constexpr std::int64_t crop_padding = 2;

struct Settings {
  std::string data = "data/fashion-mnist";
  int epochs = 15;
  std::size_t batch = 128;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool nesterov = false;
  int warmup = 0;  // epochs of linear warmup before the cosine
  int blocks = 2;  // BasicBlocks per stage
  bool augment = true;
  int threads = 0;
  std::uint64_t seed = 0;
  std::size_t limit = 0;
  std::string save;
  std::string resume;
  std::string log;
  bool profile = false;
};

// Cosine annealing from --lr to 0 over the epochs, after --warmup epochs rising linearly from a
// tenth of --lr (PyTorch: SequentialLR(LinearLR(0.1, 1, warmup), CosineAnnealingLR(epochs -
// warmup), [warmup])).
std::unique_ptr<tg::optim::LRScheduler> make_schedule(const Settings& s,
                                                      tg::optim::Optimizer& optimizer) {
  if (s.warmup == 0) return std::make_unique<tg::optim::CosineAnnealingLR>(optimizer, s.epochs);
  auto warmup = std::make_shared<tg::optim::LinearLR>(optimizer, 0.1, 1.0, s.warmup);
  auto cosine = std::make_shared<tg::optim::CosineAnnealingLR>(optimizer, s.epochs - s.warmup);
  return std::make_unique<tg::optim::SequentialLR>(
      optimizer, std::vector<std::shared_ptr<tg::optim::LRScheduler>>{warmup, cosine},
      std::vector<int>{s.warmup});
}

int run(const Settings& s) {
  if (s.warmup >= s.epochs) {
    tg::fail("--warmup: {} epochs of warmup leave none of the {} epochs for the cosine", s.warmup,
             s.epochs);
  }
  // Where the checkpoints and the log go is checked before anything is loaded or trained.
  examples::check_writable_flag("--save", s.save);
  examples::check_writable_flag("--log", s.log);
  tg::set_num_threads(s.threads);
  tg::manual_seed(s.seed);
  tg::data::MNIST train_set(s.data, tg::data::Split::train);
  tg::data::MNIST test_set(s.data, tg::data::Split::test);
  if (s.limit > 0) train_set.truncate(s.limit);

  resnet::ResNet model(s.blocks);
  tg::optim::SGD optimizer(
      model.parameters(),
      {.lr = s.lr, .momentum = s.momentum, .weight_decay = s.weight_decay, .nesterov = s.nesterov});
  // Made before a checkpoint is loaded: the schedule is relative to the initial learning rate.
  const auto schedule = make_schedule(s, optimizer);
  tg::TrainingState state;
  if (!s.resume.empty()) {
    state = tg::load_checkpoint(s.resume, model, optimizer);
    fmt::print(stderr, "resumed from {} after epoch {} (step {})\n", s.resume, state.epoch,
               state.step);
    schedule->set_epoch(static_cast<int>(state.epoch));
  }
  examples::MetricsLog log(s.log, state.epoch);

  // torchvision's RandomCrop(28, padding=2), RandomHorizontalFlip(), Normalize(mean, std): the
  // padding is black, normalised with the rest. Each image's crop and flip depend on (seed,
  // epoch, its index) alone (lib/data/transforms.hpp), so a resumed run augments as the first.
  const tg::data::Normalize normalize({pixel_mean}, {pixel_std});
  tg::data::Compose augment_and_normalize =
      s.augment ? tg::data::Compose{tg::data::RandomCrop(28, crop_padding),
                                    tg::data::RandomHorizontalFlip(), normalize}
                : tg::data::Compose{normalize};
  tg::data::DataLoader loader(
      train_set,
      {.batch_size = s.batch, .seed = s.seed, .transform = std::move(augment_and_normalize)});
  tg::data::DataLoader test_loader(
      test_set, {.batch_size = 100, .shuffle = false, .transform = tg::data::Compose{normalize}});
  fmt::print(stderr, "ResNet: 3 stages of {} BasicBlocks, {} parameters; training images: {}\n",
             s.blocks, examples::count_parameters(model), loader.options().transform.name());
  tg::profiler::enable(s.profile);
  for (int epoch = static_cast<int>(state.epoch) + 1; epoch <= s.epochs; ++epoch) {
    loader.set_epoch(static_cast<std::uint64_t>(epoch - 1));
    tg::ProgressBar progress(loader.num_examples(), fmt::format("epoch {}", epoch));
    const examples::EpochTotals totals =
        examples::train_epoch(model, optimizer, loader, state, &progress);
    progress.finish();
    if (s.profile) {
      examples::print_profile(epoch, totals.backward, totals.images);
      tg::profiler::reset();
    }
    state.epoch = epoch;
    tg::profiler::enable(false);  // the evaluation is not timed
    const examples::Accuracy test = examples::evaluate(model, test_loader);
    tg::profiler::enable(s.profile);
    const double img_per_s = static_cast<double>(totals.images) / totals.seconds;
    const double loss = totals.loss_sum / static_cast<double>(totals.images);
    examples::print_epoch_line(epoch, totals.seconds, img_per_s, loss, test.value());
    fmt::print(stderr, "epoch {}: {} of {} test images right, lr {:.6g}, peak memory {:.1f} MiB\n",
               epoch, test.correct, test.total, optimizer.lr(), examples::status_mib("VmHWM:"));
    // The rate this epoch trained with, before the schedule moves it on; the row before the
    // checkpoint (see metrics_log.hpp).
    log.add({.epoch = epoch,
             .loss = loss,
             .accuracy = test.value(),
             .lr = optimizer.lr(),
             .img_per_s = img_per_s});
    schedule->step();
    if (!s.save.empty()) tg::save_checkpoint(s.save, model, optimizer, state);
  }
  return 0;
}

void add_options(CLI::App& app, Settings& s) {
  using examples::number;
  using examples::whole_number;
  constexpr auto any = std::numeric_limits<unsigned long long>::max();
  app.add_option("--data", s.data, "directory with the four Fashion-MNIST IDX files (.gz or not)")
      ->capture_default_str();
  app.add_option("--epochs", s.epochs, "total epochs (a resumed run continues up to this)")
      ->check(whole_number(1, 100'000))
      ->capture_default_str();
  app.add_option("--batch", s.batch, "batch size")
      ->check(whole_number(1, 65'536))
      ->capture_default_str();
  app.add_option("--lr", s.lr, "peak learning rate (cosine-annealed to 0 over the epochs)")
      ->check(number(0.0, 10.0, true))
      ->capture_default_str();
  app.add_option("--momentum", s.momentum, "SGD momentum")
      ->check(number(0.0, 0.999))
      ->capture_default_str();
  app.add_option("--weight-decay", s.weight_decay, "L2 penalty of SGD")
      ->check(number(0.0, 1.0))
      ->capture_default_str();
  app.add_flag("--nesterov", s.nesterov, "Nesterov momentum");
  app.add_option("--warmup", s.warmup,
                 "epochs of linear warmup from lr/10 before the cosine (fewer than --epochs)")
      ->check(whole_number(0, 100'000))
      ->capture_default_str();
  app.add_option("--blocks", s.blocks, "BasicBlocks per stage (ResNet-8: 1, ResNet-14: 2)")
      ->check(whole_number(1, 16))
      ->capture_default_str();
  app.add_flag("!--no-augment", s.augment,
               "train without random crops and flips (normalisation stays)");
  app.add_option("--threads", s.threads, "worker threads (0: one per core)")
      ->check(whole_number(0, 1024))
      ->capture_default_str();
  app.add_option("--seed", s.seed, "seed of initialisation, shuffling and augmentation")
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
    CLI::App app{"Train a small ResNet on Fashion-MNIST with tapegrad"};
    add_options(app, s);
    CLI11_PARSE(app, argc, argv);
    return run(s);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  }
}
