#pragma once
// Learning-rate schedules, as torch.optim.lr_scheduler's, acting on every parameter group.
//
//   tg::optim::CosineAnnealingLR schedule(sgd, epochs);
//   for (int epoch = 0; epoch < epochs; ++epoch) { train(...); schedule.step(); }
//
// Each is made after its optimizer and, as PyTorch's, sets the learning rate of its step 0 at
// once. Every schedule here has a closed form (PyTorch's _get_closed_form_lr where it has one):
// the rate after n calls to step() is computed from the groups' base rates and n alone, never by
// multiplying the current rate, so set_epoch(n) on resume gives the rates of the first run
// exactly (and the momentum OneCycleLR cycles, which has a closed form too). The base rate of a
// group is the optimizer's initial_lr (set by the first scheduler made on it), so warmup and cosine
// chained by SequentialLR start from the same rate.
//
// ReduceLROnPlateau is apart: it follows a metric, not a step count.

#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "optimizer.hpp"

namespace tg::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // One epoch (or one batch, for schedules counted in steps, as OneCycleLR) further.
  void step();
  // The number of step() calls made (or set).
  int epoch() const { return epoch_; }
  // For resuming: the rates (and the momentum, where the schedule sets one) after `epoch` calls
  // to step(), from the closed forms.
  void set_epoch(int epoch);
  // The closed form: group `group`'s learning rate after `epoch` calls to step().
  virtual double lr_at(int epoch, std::size_t group) const = 0;
  // The closed form of the momentum it sets with the rate (OneCycleLR's cycle_momentum), or
  // nullopt: left as it is.
  virtual std::optional<double> momentum_at(int /*epoch*/, std::size_t /*group*/) const {
    return std::nullopt;
  }

  // Each group's rate at epoch 0 of the schedule: the optimizer's initial_lr.
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // Each group's current rate (PyTorch's get_last_lr()).
  std::vector<double> last_lr() const;
  Optimizer& optimizer() const { return optimizer_; }
  const char* name() const { return name_; }

 protected:
  LRScheduler(Optimizer& optimizer, const char* name);
  // For subclasses, once their options are checked (so that a refused scheduler changes
  // nothing): sets the optimizer's initial_lr of every group that has none to the group's lr,
  // takes the base rates from there and sets the rates of epoch 0.
  void start();

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  const char* name_;

 private:
  int epoch_ = 0;
};

// lr = base_lr * gamma^floor(epoch / step_size).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int step_size, double gamma = 0.1);
  double lr_at(int epoch, std::size_t group) const override;

 private:
  int step_size_;
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: from the base rate
// down to eta_min at epoch T_max (and, beyond it, back up, as PyTorch's).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int T_max, double eta_min = 0.0);  // NOLINT: PyTorch's
  double lr_at(int epoch, std::size_t group) const override;

 private:
  int T_max_;  // NOLINT: PyTorch's name
  double eta_min_;
};

// Linear warmup (or decay): lr = base_lr * factor, the factor going from start_factor at epoch 0
// to end_factor at total_iters in equal steps, and staying there.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3.0, double end_factor = 1.0,
           int total_iters = 5);
  double lr_at(int epoch, std::size_t group) const override;

 private:
  double start_factor_;
  double end_factor_;
  int total_iters_;
};

enum class Anneal { cos, linear };

struct OneCycleOptions {
  double pct_start = 0.3;  // the share of the steps spent going up
  Anneal anneal_strategy = Anneal::cos;
  bool cycle_momentum = true;     // the momentum (or Adam's beta1) the other way, as PyTorch's
  double base_momentum = 0.85;    // the momentum at max_lr
  double max_momentum = 0.95;     // the momentum at the start and the end
  double div_factor = 25.0;       // initial_lr = max_lr / div_factor
  double final_div_factor = 1e4;  // min_lr = initial_lr / final_div_factor
  bool three_phase = false;       // up, back down to initial_lr, then down to min_lr
};

// The 1cycle policy (Smith and Topin), counted in batches: from max_lr / div_factor up to max_lr
// over the first pct_start of total_steps, then down to initial_lr / final_div_factor at step
// total_steps - 1. It sets the optimizer's initial_lr (to max_lr / div_factor), as PyTorch's.
// With cycle_momentum (the default, as PyTorch's), the momentum goes the other way: from
// max_momentum down to base_momentum as the rate rises, and back up as it falls (with
// three_phase, it stays at max_momentum in the last phase). It is the momentum option of SGD and
// RMSprop, beta1 of Adam and AdamW, as PyTorch's, and it overrides the one the optimizer was made
// with (an SGD made without momentum gets some). Step total_steps is allowed (a last step() after
// the last batch), but not beyond; where PyTorch's rate there is negative (a linear anneal run
// past min_lr), it is 0 here.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, int total_steps, OneCycleOptions options = {});
  // One max_lr per parameter group.
  OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int total_steps,
             OneCycleOptions options = {});
  double lr_at(int epoch, std::size_t group) const override;
  std::optional<double> momentum_at(int epoch, std::size_t group) const override;

 private:
  enum class Level { initial, max, min };  // max_lr / div_factor, max_lr, initial / final_div
  struct Phase {
    double end_step;
    Level start, end;
    double momentum_start, momentum_end;
  };
  double level(Level level, std::size_t group) const;
  // The phase `epoch` is in and how far through it: 0 to 1, and past 1 at step total_steps.
  std::pair<const Phase*, double> phase_at(int epoch) const;
  double anneal(double from, double to, double pct) const;

  std::vector<double> max_lrs_;
  int total_steps_;
  OneCycleOptions options_;
  std::vector<Phase> phases_;
};

// Schedulers one after another (PyTorch's SequentialLR): scheduler k runs from milestone k - 1
// (epoch 0 for the first) on, counting its epochs from 0 there. Warmup then cosine:
//   auto warmup = std::make_shared<LinearLR>(sgd, 0.1, 1.0, 5);
//   auto cosine = std::make_shared<CosineAnnealingLR>(sgd, 95);
//   SequentialLR schedule(sgd, {warmup, cosine}, {5});
// Only this scheduler is stepped; its parts are used through their closed forms (their own
// epoch() does not move). The momentum is that of the running part if it sets one, else the last
// one an earlier part set (at its last epoch), as stepping the parts one after another leaves it.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int> milestones);
  double lr_at(int epoch, std::size_t group) const override;
  std::optional<double> momentum_at(int epoch, std::size_t group) const override;

 private:
  // The scheduler that runs at `epoch`, and the epoch it counts there.
  std::pair<const LRScheduler*, int> part_at(int epoch) const;
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int> milestones_;
};

enum class PlateauMode { min, max };
enum class ThresholdMode { rel, abs };

struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::min;  // min: the metric should fall (a loss); max: rise
  double factor = 0.1;                  // lr *= factor on a plateau
  int patience = 10;                    // epochs without improvement that are tolerated
  double threshold = 1e-4;              // what counts as an improvement, relative or absolute
  ThresholdMode threshold_mode = ThresholdMode::rel;
  int cooldown = 0;     // epochs after a reduction before bad epochs count again
  double min_lr = 0.0;  // no group's rate goes below
  double eps = 1e-8;    // a reduction smaller than this is not made
};

// Reduces every group's learning rate by `factor` when the metric given to step() has not
// improved for more than `patience` epochs, as torch.optim.lr_scheduler.ReduceLROnPlateau.
// An improvement in mode min with threshold_mode rel is metric < best * (1 - threshold); in abs,
// metric < best - threshold (max mode: > best * (1 + threshold), > best + threshold).
class ReduceLROnPlateau {
 public:
  // What step() has learnt, for resuming (the rates themselves are in the optimizer's state).
  struct State {
    double best = std::numeric_limits<double>::infinity();  // -infinity in max mode
    int num_bad_epochs = 0;
    int cooldown_counter = 0;
    int epoch = 0;
  };

  explicit ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  // One epoch's metric. A non-finite metric (a diverged loss) is an error, not a bad epoch.
  void step(double metric);
  int epoch() const { return state_.epoch; }
  const State& state() const { return state_; }
  void load_state(const State& state);
  Optimizer& optimizer() const { return optimizer_; }

 private:
  bool is_better(double metric, double best) const;

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  State state_;
};

}  // namespace tg::optim
