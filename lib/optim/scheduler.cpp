#include "scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tg::optim {

// ---- LRScheduler ----

LRScheduler::LRScheduler(Optimizer& optimizer, const char* name)
    : optimizer_(optimizer), name_(name) {}

void LRScheduler::start() {
  base_lrs_.clear();
  for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
    if (!optimizer_.initial_lr(g)) optimizer_.set_initial_lr(g, optimizer_.lr(g));
    base_lrs_.push_back(*optimizer_.initial_lr(g));
  }
  set_epoch(0);
}

void LRScheduler::step() {
  if (epoch_ == std::numeric_limits<int>::max()) {
    fail("{}: the step count is at its limit ({})", name_, epoch_);
  }
  set_epoch(epoch_ + 1);
}

void LRScheduler::set_epoch(int epoch) {
  if (epoch < 0) fail("{}: epoch must be >= 0, got {}", name_, epoch);
  // Every rate and momentum is computed (and checked) before any is set: a refused epoch
  // changes nothing.
  std::vector<double> lrs(optimizer_.num_param_groups());
  std::vector<std::optional<double>> momenta(lrs.size());
  for (std::size_t g = 0; g < lrs.size(); ++g) {
    lrs[g] = lr_at(epoch, g);
    if (!(lrs[g] >= 0.0) || !std::isfinite(lrs[g])) {
      fail("{}: the learning rate of parameter group {} at epoch {} would be {}", name_, g, epoch,
           lrs[g]);
    }
    momenta[g] = momentum_at(epoch, g);
    if (momenta[g] &&
        (!(*momenta[g] >= 0.0) || !std::isfinite(*momenta[g]) || !optimizer_.momentum(g))) {
      fail("{}: the momentum of parameter group {} at epoch {} would be {}{}", name_, g, epoch,
           *momenta[g], optimizer_.momentum(g) ? "" : ", but the optimizer has none");
    }
  }
  for (std::size_t g = 0; g < lrs.size(); ++g) {
    optimizer_.set_lr(g, lrs[g]);
    if (momenta[g]) optimizer_.set_momentum(g, *momenta[g]);
  }
  epoch_ = epoch;
}

std::vector<double> LRScheduler::last_lr() const {
  std::vector<double> lrs;
  for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) lrs.push_back(optimizer_.lr(g));
  return lrs;
}

// ---- StepLR ----

StepLR::StepLR(Optimizer& optimizer, int step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) fail("StepLR: step_size must be positive, got {}", step_size);
  if (!(gamma > 0.0) || !std::isfinite(gamma)) {
    fail("StepLR: gamma must be positive and finite, got {}", gamma);
  }
  start();
}

double StepLR::lr_at(int epoch, std::size_t group) const {
  return base_lrs_[group] * std::pow(gamma_, epoch / step_size_);
}

// ---- CosineAnnealingLR ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int T_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), T_max_(T_max), eta_min_(eta_min) {
  if (T_max <= 0) fail("CosineAnnealingLR: T_max must be positive, got {}", T_max);
  if (!(eta_min >= 0.0) || !std::isfinite(eta_min)) {
    fail("CosineAnnealingLR: eta_min must be finite and >= 0, got {}", eta_min);
  }
  start();
}

double CosineAnnealingLR::lr_at(int epoch, std::size_t group) const {
  // In PyTorch's order of operations, so that the closed forms agree to the last bit.
  return eta_min_ +
         (base_lrs_[group] - eta_min_) * (1.0 + std::cos(std::numbers::pi * epoch / T_max_)) / 2.0;
}

// ---- LinearLR ----

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int total_iters)
    : LRScheduler(optimizer, "LinearLR"),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  // A start factor of 0 would leave PyTorch's recursive form dividing by zero.
  if (!(start_factor > 0.0 && start_factor <= 1.0)) {
    fail("LinearLR: start_factor must be in (0, 1], got {}", start_factor);
  }
  if (!(end_factor >= 0.0 && end_factor <= 1.0)) {
    fail("LinearLR: end_factor must be in [0, 1], got {}", end_factor);
  }
  if (total_iters <= 0) fail("LinearLR: total_iters must be positive, got {}", total_iters);
  start();
}

double LinearLR::lr_at(int epoch, std::size_t group) const {
  return base_lrs_[group] * (start_factor_ + (end_factor_ - start_factor_) *
                                                 std::min(total_iters_, epoch) / total_iters_);
}

// ---- OneCycleLR ----

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int total_steps,
                       OneCycleOptions options)
    : OneCycleLR(optimizer, std::vector<double>(optimizer.num_param_groups(), max_lr), total_steps,
                 options) {}

OneCycleLR::OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int total_steps,
                       OneCycleOptions options)
    : LRScheduler(optimizer, "OneCycleLR"),
      max_lrs_(std::move(max_lrs)),
      total_steps_(total_steps),
      options_(options) {
  if (max_lrs_.size() != optimizer.num_param_groups()) {
    fail("OneCycleLR: expected {} max_lr values (one per parameter group), got {}",
         optimizer.num_param_groups(), max_lrs_.size());
  }
  for (double max_lr : max_lrs_) {
    if (!(max_lr >= 0.0) || !std::isfinite(max_lr)) {
      fail("OneCycleLR: max_lr must be finite and >= 0, got {}", max_lr);
    }
  }
  if (total_steps <= 0) fail("OneCycleLR: total_steps must be positive, got {}", total_steps);
  if (!(options.pct_start >= 0.0 && options.pct_start <= 1.0)) {
    fail("OneCycleLR: pct_start must be in [0, 1], got {}", options.pct_start);
  }
  if (!(options.div_factor > 0.0) || !std::isfinite(options.div_factor)) {
    fail("OneCycleLR: div_factor must be positive and finite, got {}", options.div_factor);
  }
  if (!(options.final_div_factor > 0.0) || !std::isfinite(options.final_div_factor)) {
    fail("OneCycleLR: final_div_factor must be positive and finite, got {}",
         options.final_div_factor);
  }
  if (options.cycle_momentum) {
    for (const auto& [what, value] : {std::pair{"base_momentum", options.base_momentum},
                                      std::pair{"max_momentum", options.max_momentum}}) {
      if (!(value >= 0.0) || !std::isfinite(value)) {
        fail("OneCycleLR: {} must be finite and >= 0, got {}", what, value);
      }
    }
    if (!optimizer.momentum(0)) {
      fail(
          "OneCycleLR: cycle_momentum needs an optimizer with a momentum or beta1; {} has "
          "neither (cycle_momentum = false cycles the learning rate alone)",
          optimizer.name());
    }
  }
  const double up_end = options.pct_start * total_steps - 1.0;
  const double last = total_steps - 1.0;
  const double low = options.base_momentum, high = options.max_momentum;
  if (options.three_phase) {
    phases_ = {{up_end, Level::initial, Level::max, high, low},
               {2.0 * options.pct_start * total_steps - 2.0, Level::max, Level::initial, low, high},
               {last, Level::initial, Level::min, high, high}};
  } else {
    phases_ = {{up_end, Level::initial, Level::max, high, low},
               {last, Level::max, Level::min, low, high}};
  }
  // PyTorch sets initial_lr whatever an earlier scheduler set: this schedule starts there.
  for (std::size_t g = 0; g < max_lrs_.size(); ++g) {
    optimizer.set_initial_lr(g, level(Level::initial, g));
  }
  start();
}

double OneCycleLR::level(Level level, std::size_t group) const {
  const double initial = max_lrs_[group] / options_.div_factor;
  switch (level) {
    case Level::initial:
      return initial;
    case Level::max:
      return max_lrs_[group];
    case Level::min:
      break;
  }
  return initial / options_.final_div_factor;
}

std::pair<const OneCycleLR::Phase*, double> OneCycleLR::phase_at(int epoch) const {
  if (epoch > total_steps_) {
    fail("OneCycleLR: step {} is beyond total_steps ({})", epoch, total_steps_);
  }
  double start_step = 0.0;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    const Phase& phase = phases_[i];
    if (epoch <= phase.end_step || i + 1 == phases_.size()) {
      // A phase of no length (pct_start * total_steps == 1: PyTorch divides by zero) is at its
      // end at once.
      const double length = phase.end_step - start_step;
      return {&phase, length == 0.0 ? 1.0 : (epoch - start_step) / length};
    }
    start_step = phase.end_step;
  }
  return {&phases_.back(), 1.0};  // not reached: the last phase takes every step
}

double OneCycleLR::anneal(double from, double to, double pct) const {
  if (options_.anneal_strategy == Anneal::linear) return (to - from) * pct + from;
  const double cos_out = std::cos(std::numbers::pi * pct) + 1.0;
  return to + (from - to) / 2.0 * cos_out;
}

double OneCycleLR::lr_at(int epoch, std::size_t group) const {
  const auto [phase, pct] = phase_at(epoch);
  // At step total_steps (one past the last) a linear anneal runs on past min_lr, to a negative
  // rate in PyTorch's: it stops at 0 here.
  return std::max(anneal(level(phase->start, group), level(phase->end, group), pct), 0.0);
}

std::optional<double> OneCycleLR::momentum_at(int epoch, std::size_t /*group*/) const {
  if (!options_.cycle_momentum) return std::nullopt;
  const auto [phase, pct] = phase_at(epoch);
  return anneal(phase->momentum_start, phase->momentum_end, pct);
}

// ---- SequentialLR ----

SequentialLR::SequentialLR(Optimizer& optimizer,
                           std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int> milestones)
    : LRScheduler(optimizer, "SequentialLR"),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  if (schedulers_.empty()) fail("SequentialLR: there are no schedulers");
  for (std::size_t k = 0; k < schedulers_.size(); ++k) {
    if (!schedulers_[k]) fail("SequentialLR: scheduler {} is null", k);
    if (&schedulers_[k]->optimizer() != &optimizer) {
      fail("SequentialLR: scheduler {} ({}) belongs to another optimizer", k,
           schedulers_[k]->name());
    }
  }
  if (milestones_.size() + 1 != schedulers_.size()) {
    fail("SequentialLR: {} schedulers need {} milestones, got {}", schedulers_.size(),
         schedulers_.size() - 1, milestones_.size());
  }
  for (std::size_t k = 0; k < milestones_.size(); ++k) {
    if (milestones_[k] <= (k == 0 ? 0 : milestones_[k - 1])) {
      fail("SequentialLR: milestones must be positive and increasing, got {} after {}",
           milestones_[k], k == 0 ? 0 : milestones_[k - 1]);
    }
  }
  start();
}

std::pair<const LRScheduler*, int> SequentialLR::part_at(int epoch) const {
  const auto k = static_cast<std::size_t>(
      std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin());
  const int begin = k == 0 ? 0 : milestones_[k - 1];
  return {schedulers_[k].get(), epoch - begin};
}

double SequentialLR::lr_at(int epoch, std::size_t group) const {
  const auto [part, part_epoch] = part_at(epoch);
  return part->lr_at(part_epoch, group);
}

std::optional<double> SequentialLR::momentum_at(int epoch, std::size_t group) const {
  // The running part's, else the one an earlier part left at its last epoch (the one before the
  // milestone that ended it).
  for (int at = epoch;;) {
    const auto [part, part_epoch] = part_at(at);
    if (auto momentum = part->momentum_at(part_epoch, group)) return momentum;
    const int begin = at - part_epoch;  // the epoch this part started at
    if (begin == 0) return std::nullopt;
    at = begin - 1;
  }
}

// ---- ReduceLROnPlateau ----

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options)
    : optimizer_(optimizer), options_(options) {
  const auto& o = options;
  if (!(o.factor >= 0.0 && o.factor < 1.0)) {
    fail("ReduceLROnPlateau: factor must be in [0, 1), got {}", o.factor);
  }
  if (o.patience < 0) fail("ReduceLROnPlateau: patience must be >= 0, got {}", o.patience);
  if (o.cooldown < 0) fail("ReduceLROnPlateau: cooldown must be >= 0, got {}", o.cooldown);
  for (const auto& [what, value] : {std::pair{"threshold", o.threshold},
                                    std::pair{"min_lr", o.min_lr}, std::pair{"eps", o.eps}}) {
    if (!(value >= 0.0) || !std::isfinite(value)) {
      fail("ReduceLROnPlateau: {} must be finite and >= 0, got {}", what, value);
    }
  }
  state_.best = o.mode == PlateauMode::min ? std::numeric_limits<double>::infinity()
                                           : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double metric, double best) const {
  const bool rel = options_.threshold_mode == ThresholdMode::rel;
  if (options_.mode == PlateauMode::min) {
    return rel ? metric < best * (1.0 - options_.threshold) : metric < best - options_.threshold;
  }
  return rel ? metric > best * (1.0 + options_.threshold) : metric > best + options_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  // PyTorch counts a NaN as one more bad epoch; a diverged run is better stopped and looked at.
  if (!std::isfinite(metric)) fail("ReduceLROnPlateau: the metric must be finite, got {}", metric);
  if (state_.epoch == std::numeric_limits<int>::max()) {
    fail("ReduceLROnPlateau: the epoch count is at its limit ({})", state_.epoch);
  }
  State next = state_;
  ++next.epoch;
  if (is_better(metric, next.best)) {
    next.best = metric;
    next.num_bad_epochs = 0;
  } else if (next.num_bad_epochs < std::numeric_limits<int>::max()) {
    ++next.num_bad_epochs;
  }
  if (next.cooldown_counter > 0) {  // bad epochs in cooldown do not count
    --next.cooldown_counter;
    next.num_bad_epochs = 0;
  }
  if (next.num_bad_epochs > options_.patience) {
    for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
      const double old_lr = optimizer_.lr(g);
      const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      if (old_lr - new_lr > options_.eps) optimizer_.set_lr(g, new_lr);
    }
    next.cooldown_counter = options_.cooldown;
    next.num_bad_epochs = 0;
  }
  state_ = next;
}

void ReduceLROnPlateau::load_state(const State& state) {
  if (std::isnan(state.best) || state.num_bad_epochs < 0 || state.cooldown_counter < 0 ||
      state.epoch < 0) {
    fail(
        "ReduceLROnPlateau: state (best {}, num_bad_epochs {}, cooldown_counter {}, epoch {}) "
        "must have a best that is a number and counts >= 0",
        state.best, state.num_bad_epochs, state.cooldown_counter, state.epoch);
  }
  state_ = state;
}

}  // namespace tg::optim
