#pragma once
// Optimizers update parameters in place from their gradients (under no grad: an update is
// not part of any model). Their parameters come in groups, as torch.optim's param_groups, each
// group with a whole options struct of its own (lr, weight_decay, momentum or betas, ...):
//
//   tg::optim::SGD sgd(model.parameters(), {.lr = 0.1, .momentum = 0.9});  // one group
//   tg::optim::SGD sgd({{backbone->parameters()},                           // the defaults below
//                       {head->parameters(), {.lr = 0.1, .momentum = 0.9}}},
//                      {.lr = 0.01, .momentum = 0.9});
//   sgd.param_groups()[1].options().weight_decay = 1e-4;  // checked at the next step()
//
// Their state (momentum buffers, step counts, every group's learning rate) is a list of named
// tensors, so that checkpoints can save and restore it exactly.

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../../autograd/tensor.hpp"

namespace tg::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// A group of parameters and, optionally, its own options (libtorch's OptimizerParamGroup): a
// group made without options takes the optimizer's defaults, its constructor's second argument.
// Once in an optimizer every group has options, which may be changed between steps; its
// parameters may not (the optimizer's state is indexed by them), hence no assignment.
template <class Options>
class OptimizerWithGroups;

template <class Options>
class ParamGroup {
 public:
  ParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}  // NOLINT: implicit
  ParamGroup(std::vector<Tensor> params, const Options& options)
      : params_(std::move(params)), options_(options) {}
  ParamGroup(const ParamGroup&) = default;
  ParamGroup(ParamGroup&&) noexcept = default;
  ParamGroup& operator=(const ParamGroup&) = delete;
  ParamGroup& operator=(ParamGroup&&) = delete;

  const std::vector<Tensor>& params() const { return params_; }
  bool has_options() const { return options_.has_value(); }
  Options& options() {
    check_has_options();
    return *options_;
  }
  const Options& options() const {
    check_has_options();
    return *options_;
  }

 private:
  void check_has_options() const {
    if (!options_) fail("ParamGroup: this group has no options of its own (it takes defaults)");
  }
  friend class OptimizerWithGroups<Options>;

  std::vector<Tensor> params_;
  std::optional<Options> options_;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Drops every parameter's gradient.
  void zero_grad();

  std::size_t num_param_groups() const { return num_groups_; }
  // The learning rate of one group. lr() is the first group's: the learning rate when there is
  // one group, as there is unless the optimizer was made from groups.
  double lr(std::size_t group) const;
  double lr() const { return lr(0); }
  // set_lr(lr) sets every group's (so groups made with different rates lose the difference).
  void set_lr(std::size_t group, double lr);
  void set_lr(double lr);
  // The rate schedules start from, per group (PyTorch's initial_lr): the first scheduler made on
  // this optimizer sets it to the group's lr of then, and later ones (the parts of a
  // SequentialLR, a scheduler made again on resume) start from it, not from what an earlier
  // scheduler has already changed the lr to.
  std::optional<double> initial_lr(std::size_t group) const;
  void set_initial_lr(std::size_t group, double lr);
  // The momentum a schedule cycles (OneCycleLR, as PyTorch's cycle_momentum does): the momentum
  // option of SGD and RMSprop, beta1 of Adam and AdamW. nullopt for an optimizer with neither;
  // set_momentum fails there.
  std::optional<double> momentum(std::size_t group) const;
  void set_momentum(std::size_t group, double momentum);

  // Every group's parameters, group after group: parameter i of the state is parameters()[i].
  const std::vector<Tensor>& parameters() const { return parameters_; }
  // The group parameter `index` belongs to.
  std::size_t group_of(std::size_t index) const;
  // "SGD", "Adam", "AdamW", "RMSprop": checkpoints record it, so state is never loaded into
  // another kind.
  const char* name() const { return name_; }

  // "lr" (an f64 scalar with one group, as before groups existed; one element per group
  // otherwise) and the subclass's per-parameter state, keyed "<parameter index>.<buffer>".
  NamedTensors state() const;
  // Restores what state() returned, all of it or (on a missing, extra or mis-shaped key, which
  // the tg::Error names) nothing.
  void load_state(const std::map<std::string, Tensor>& state);

 protected:
  // `groups` holds each group's parameters: every one a leaf that requires grad, in exactly one
  // place, and no group empty.
  Optimizer(const std::vector<std::vector<Tensor>>& groups, const char* name);

  // Where the subclass keeps each group's learning rate (its options' lr).
  virtual double group_lr(std::size_t group) const = 0;
  virtual void set_group_lr(std::size_t group, double lr) = 0;
  // Where it keeps each group's momentum (see momentum()), or nullopt and false if it has none.
  virtual std::optional<double> group_momentum(std::size_t group) const = 0;
  virtual bool set_group_momentum(std::size_t group, double momentum) = 0;

  virtual void save_buffers(NamedTensors& out) const = 0;
  // Checks this optimizer's buffers in `state`, erasing each key it used, and returns what
  // installs them: nothing changes until that is called.
  virtual std::function<void()> prepare_buffers(std::map<std::string, Tensor>& state) = 0;

  // For messages about a group's options: "SGD" with one group, "SGD: parameter group 1" else.
  std::string where(std::size_t group) const;
  // For subclasses: a learning rate or other coefficient that must be finite and >= 0.
  void check_nonnegative(std::size_t group, const char* what, double value) const;

  // For subclasses: runs update(begin, end) on chunks covering [0, n) across the parallel seam.
  // An update of element j touches only index j of its buffers, so the bits do not depend on
  // how many threads ran (mnist_cnn's 1.2 million parameters took 3% of a 2-thread step on one).
  static void update_in_chunks(
      std::size_t n, const std::function<void(std::size_t begin, std::size_t end)>& update);

  // For subclasses, before a step moves anything: parameter `index`'s gradient and its buffers
  // (undefined ones are skipped) must still have the parameter's dtype and shape. They do not
  // after nn::Module::to converted the parameters of a model whose optimizer has state.
  void check_step_inputs(std::size_t index, std::initializer_list<const Tensor*> buffers) const;

  // For subclasses: the buffer `key` of parameter `index`, checked against the parameter.
  Tensor take_buffer(std::map<std::string, Tensor>& state, std::size_t index,
                     const std::string& key, bool required) const;

  std::vector<Tensor> parameters_;
  const char* name_;

 private:
  void check_group(std::size_t group) const;

  std::size_t num_groups_;
  std::vector<std::size_t> group_of_;
  std::vector<std::optional<double>> initial_lrs_;
};

// The part of an optimizer that knows its options type: the groups, each with its options.
template <class Options>
class OptimizerWithGroups : public Optimizer {
 public:
  // Each group's options may be changed between steps (step() checks them first).
  std::span<ParamGroup<Options>> param_groups() { return groups_; }
  std::span<const ParamGroup<Options>> param_groups() const { return groups_; }
  // The first group's options: all of them, with one group.
  const Options& options() const { return groups_.front().options(); }

 protected:
  OptimizerWithGroups(std::vector<ParamGroup<Options>> groups, const Options& defaults,
                      const char* name)
      : Optimizer(params_of(groups), name), groups_(std::move(groups)) {
    for (ParamGroup<Options>& group : groups_) {
      if (!group.options_) group.options_ = defaults;
    }
  }

  // The options of the group parameter `index` belongs to.
  const Options& options_of(std::size_t index) const { return groups_[group_of(index)].options(); }

 private:
  static std::vector<std::vector<Tensor>> params_of(const std::vector<ParamGroup<Options>>& g) {
    std::vector<std::vector<Tensor>> out;
    out.reserve(g.size());
    for (const ParamGroup<Options>& group : g) out.push_back(group.params());
    return out;
  }
  double group_lr(std::size_t group) const override { return groups_[group].options().lr; }
  void set_group_lr(std::size_t group, double lr) override { groups_[group].options().lr = lr; }
  // An options struct's momentum, or its beta1 (PyTorch's OneCycleLR takes betas[0]), or null.
  static auto* momentum_of(auto& options) {
    if constexpr (requires { options.momentum; }) {
      return &options.momentum;
    } else if constexpr (requires { options.beta1; }) {
      return &options.beta1;
    } else {
      return static_cast<double*>(nullptr);
    }
  }
  std::optional<double> group_momentum(std::size_t group) const override {
    const auto* m = momentum_of(groups_[group].options());
    return m != nullptr ? std::optional<double>(*m) : std::nullopt;
  }
  bool set_group_momentum(std::size_t group, double momentum) override {
    auto* m = momentum_of(groups_[group].options());
    if (m != nullptr) *m = momentum;
    return m != nullptr;
  }

  std::vector<ParamGroup<Options>> groups_;
};

}  // namespace tg::optim
