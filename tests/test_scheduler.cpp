#include <catch2/catch.hpp>

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad.hpp>

using tg::Tensor;

namespace {

// One parameter per group, each group with its own starting lr (torch: SGD([{'params': [p],
// 'lr': lr} for each lr])).
struct Groups {
  explicit Groups(const std::vector<double>& lrs) {
    std::vector<tg::optim::ParamGroup<tg::optim::SGDOptions>> groups;
    for (double lr : lrs) {
      params.push_back(tg::zeros({1}).set_requires_grad(true));
      groups.emplace_back(std::vector<Tensor>{params.back()}, tg::optim::SGDOptions{.lr = lr});
    }
    sgd = std::make_unique<tg::optim::SGD>(std::move(groups));
  }
  std::vector<Tensor> params;
  std::unique_ptr<tg::optim::SGD> sgd;
};

// Every group's lr before each of `n` epochs, stepping `schedule` between them.
std::vector<std::vector<double>> lr_sequence(tg::optim::Optimizer& optimizer,
                                             tg::optim::LRScheduler& schedule, int n) {
  std::vector<std::vector<double>> out(optimizer.num_param_groups());
  for (int i = 0; i < n; ++i) {
    for (std::size_t g = 0; g < out.size(); ++g) out[g].push_back(optimizer.lr(g));
    if (i + 1 < n) schedule.step();
  }
  return out;
}

// Every group's momentum (SGD's, or Adam's beta1) before each of `n` epochs, as lr_sequence.
std::vector<std::vector<double>> momentum_sequence(tg::optim::Optimizer& optimizer,
                                                   tg::optim::LRScheduler& schedule, int n) {
  std::vector<std::vector<double>> out(optimizer.num_param_groups());
  for (int i = 0; i < n; ++i) {
    for (std::size_t g = 0; g < out.size(); ++g) out[g].push_back(*optimizer.momentum(g));
    if (i + 1 < n) schedule.step();
  }
  return out;
}

// torch's recursive (chainable) forms round differently from the closed forms: 1e-12 relative.
void check_close(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("epoch " << i);
    CHECK(got[i] == Approx(want[i]).epsilon(1e-12).margin(1e-17));
  }
}

}  // namespace

// The sequences below are torch 1.13's (/usr/bin/python3), recorded as
//   opt = torch.optim.SGD([{'params': [torch.zeros(1, requires_grad=True)], 'lr': lr}
//                          for lr in LRS], lr=LRS[0])
//   s = <the scheduler named>
//   for i in range(N): record [g['lr'] for g in opt.param_groups]; opt.step(); s.step()
// and printed with "%.17g".

TEST_CASE("StepLR multiplies the learning rate by gamma every step_size epochs",
          "[scheduler][optim]") {
  Tensor p = tg::zeros({2}, {.dtype = tg::f64, .requires_grad = true});
  tg::optim::SGD sgd({p}, {.lr = 1.0});
  tg::optim::StepLR schedule(sgd, 2, 0.5);
  CHECK(lr_sequence(sgd, schedule, 5) ==
        std::vector<std::vector<double>>{{1.0, 1.0, 0.5, 0.5, 0.25}});
  schedule.set_epoch(1);
  CHECK(sgd.lr() == 1.0);
  CHECK(schedule.epoch() == 1);
}

TEST_CASE("CosineAnnealingLR follows PyTorch's, past T_max too, for every group", "[scheduler]") {
  // CosineAnnealingLR(opt, T_max=10, eta_min=0.001), LRS = [0.1, 0.02], N = 25
  Groups groups({0.1, 0.02});
  tg::optim::CosineAnnealingLR schedule(*groups.sgd, 10, 0.001);
  const auto lrs = lr_sequence(*groups.sgd, schedule, 25);
  check_close(lrs[0], {0.10000000000000001,
                       0.097577297556610113,
                       0.090546341221559898,
                       0.079595369988477424,
                       0.065796341221559904,
                       0.050500000000000003,
                       0.03520365877844011,
                       0.021404630011522589,
                       0.010453658778440109,
                       0.0034227024433899004,
                       0.001,
                       0.0034227024433899004,
                       0.01045365877844014,
                       0.021404630011522669,
                       0.035203658778440255,
                       0.050500000000000218,
                       0.065796341221560181,
                       0.079595369988477771,
                       0.090546341221560314,
                       0.097577297556610543,
                       0.10000000000000045,
                       0.097577297556610543,
                       0.090546341221560328,
                       0.079595369988477785,
                       0.065796341221560195});
  check_close(lrs[1], {0.02,
                       0.01953503690480396,
                       0.018185661446562001,
                       0.016083959896778494,
                       0.013435661446561997,
                       0.010499999999999995,
                       0.0075643385534379963,
                       0.0049160401032215043,
                       0.0028143385534379994,
                       0.0014649630951960413,
                       0.001,
                       0.0014649630951960415,
                       0.0028143385534380068,
                       0.0049160401032215225,
                       0.0075643385534380292,
                       0.010500000000000044,
                       0.013435661446562056,
                       0.016083959896778563,
                       0.018185661446562081,
                       0.019535036904804046,
                       0.020000000000000087,
                       0.019535036904804046,
                       0.018185661446562088,
                       0.016083959896778566,
                       0.01343566144656206});
  CHECK(schedule.base_lrs() == std::vector<double>{0.1, 0.02});
  CHECK(schedule.last_lr() == std::vector<double>{groups.sgd->lr(0), groups.sgd->lr(1)});
}

TEST_CASE("LinearLR warms up (or decays) linearly, as PyTorch's", "[scheduler]") {
  {
    // LinearLR(opt, start_factor=0.25, end_factor=1.0, total_iters=4), LRS = [0.1], N = 8
    Groups groups({0.1});
    tg::optim::LinearLR schedule(*groups.sgd, 0.25, 1.0, 4);
    check_close(
        lr_sequence(*groups.sgd, schedule, 8)[0],
        {0.025000000000000001, 0.043750000000000004, 0.062500000000000014, 0.081250000000000017,
         0.10000000000000002, 0.10000000000000002, 0.10000000000000002, 0.10000000000000002});
  }
  {
    // LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=3), LRS = [0.5], N = 6
    Groups groups({0.5});
    tg::optim::LinearLR schedule(*groups.sgd, 1.0, 0.1, 3);
    check_close(lr_sequence(*groups.sgd, schedule, 6)[0],
                {0.5, 0.34999999999999998, 0.19999999999999998, 0.049999999999999996,
                 0.049999999999999996, 0.049999999999999996});
  }
  {
    Groups groups({0.3});  // the defaults: 1/3 to 1 over 5 epochs
    tg::optim::LinearLR schedule(*groups.sgd);
    CHECK(groups.sgd->lr() == Approx(0.1));
    schedule.set_epoch(5);
    CHECK(groups.sgd->lr() == Approx(0.3));
  }
}

TEST_CASE("OneCycleLR follows PyTorch's (cycle_momentum=False), two and three phases",
          "[scheduler]") {
  {
    // OneCycleLR(opt, max_lr=0.1, total_steps=20, cycle_momentum=False), LRS = [0.1], N = 21
    Groups groups({0.1});
    tg::optim::OneCycleLR schedule(*groups.sgd, 0.1, 20, {.cycle_momentum = false});
    CHECK(groups.sgd->initial_lr(0) == Approx(0.004));
    check_close(lr_sequence(*groups.sgd, schedule, 21)[0],
                {0.0040000000000000036, 0.013167184270002533,   0.037167184270002526,
                 0.066832815729997469,  0.090832815729997476,   0.10000000000000001,
                 0.098746400623508743,  0.095048463201347383,   0.089091617757105002,
                 0.081174565394976306,  0.071694300179130088,   0.06112620219362893,
                 0.050000200000000002,  0.038874197806371073,   0.028306099820869922,
                 0.018825834605023701,  0.010908782242895003,   0.0049519367986526289,
                 0.0012539993764912555, 3.9999999999999998e-07, 0.0012539993764912555});
    CHECK_THROWS_WITH(schedule.step(), Catch::Contains("OneCycleLR") &&
                                           Catch::Contains("step 21") &&
                                           Catch::Contains("total_steps (20)"));
    CHECK(schedule.epoch() == 20);           // the refused step changed nothing
    CHECK(*groups.sgd->momentum(0) == 0.0);  // not cycled
  }
  {
    // OneCycleLR(opt, max_lr=[0.1, 0.4], total_steps=15, pct_start=0.25,
    //            anneal_strategy='linear', div_factor=10., final_div_factor=100.,
    //            three_phase=True, cycle_momentum=False), LRS = [0.1, 0.2], N = 16
    Groups groups({0.1, 0.2});
    tg::optim::OneCycleLR schedule(*groups.sgd, std::vector<double>{0.1, 0.4}, 15,
                                   {.pct_start = 0.25,
                                    .anneal_strategy = tg::optim::Anneal::linear,
                                    .cycle_momentum = false,
                                    .div_factor = 10.0,
                                    .final_div_factor = 100.0,
                                    .three_phase = true});
    auto lrs = lr_sequence(*groups.sgd, schedule, 16);
    // At step total_steps torch's linear anneal runs past min_lr to a negative rate
    // (-0.0010647058823529416, -0.0042588235294117663); here the rate stops at 0.
    CHECK(lrs[0].back() == 0.0);
    CHECK(lrs[1].back() == 0.0);
    lrs[0].pop_back();
    lrs[1].pop_back();
    check_close(lrs[0], {0.01, 0.042727272727272732, 0.075454545454545455, 0.091818181818181827,
                         0.05909090909090909, 0.026363636363636353, 0.0094176470588235289,
                         0.0082529411764705879, 0.0070882352941176469, 0.005923529411764706,
                         0.0047588235294117641, 0.0035941176470588232, 0.0024294117647058822,
                         0.0012647058823529404, 9.9999999999999395e-05});
    check_close(lrs[1], {0.040000000000000001, 0.17090909090909093, 0.30181818181818182,
                         0.36727272727272731, 0.23636363636363636, 0.10545454545454541,
                         0.037670588235294115, 0.033011764705882352, 0.028352941176470588,
                         0.023694117647058824, 0.019035294117647057, 0.014376470588235293,
                         0.0097176470588235288, 0.0050588235294117614, 0.00039999999999999758});
  }
}

namespace {

// An optimizer with neither a momentum nor a beta1 (a user's own, say).
struct PlainOptions {
  double lr = 0.1;
};
class Plain : public tg::optim::OptimizerWithGroups<PlainOptions> {
 public:
  explicit Plain(const Tensor& p)
      : OptimizerWithGroups({tg::optim::ParamGroup<PlainOptions>({p})}, {}, "Plain") {}
  void step() override {}

 private:
  void save_buffers(tg::optim::NamedTensors& /*out*/) const override {}
  std::function<void()> prepare_buffers(std::map<std::string, Tensor>& /*state*/) override {
    return [] {};
  }
};

// A user's schedule that sets a momentum, whatever the optimizer.
class MomentumOnly : public tg::optim::LRScheduler {
 public:
  explicit MomentumOnly(tg::optim::Optimizer& optimizer) : LRScheduler(optimizer, "MomentumOnly") {
    start();
  }
  double lr_at(int /*epoch*/, std::size_t group) const override { return base_lrs_[group]; }
  std::optional<double> momentum_at(int /*epoch*/, std::size_t /*group*/) const override {
    return 0.5;
  }
};

}  // namespace

TEST_CASE("OneCycleLR cycles SGD's momentum and Adam's beta1 the other way, as PyTorch's",
          "[scheduler]") {
  using tg::optim::OneCycleLR;
  // Recorded as the sequences above, with momentum=0.9 given to SGD, and grp['momentum'] or
  // grp['betas'][0] recorded; every group's is the same.
  std::vector<Tensor> p{tg::zeros({1}).set_requires_grad(true),
                        tg::zeros({1}).set_requires_grad(true)};
  {
    // OneCycleLR(opt, max_lr=0.1, total_steps=20), LRS = [0.1, 0.2], N = 21
    tg::optim::SGD sgd({{{p[0]}, {.lr = 0.1, .momentum = 0.9}}, {{p[1]}, {.lr = 0.2}}});
    OneCycleLR schedule(sgd, 0.1, 20);
    const std::vector<double> want{0.94999999999999996, 0.94045084971874737, 0.91545084971874735,
                                   0.88454915028125258, 0.85954915028125256, 0.84999999999999998,
                                   0.8512536043909088,  0.85495155660487898, 0.86090842587659844,
                                   0.86882550990706331, 0.87830581304412203, 0.88887395330218422,
                                   0.89999999999999991, 0.91112604669781572, 0.9216941869558779,
                                   0.93117449009293662, 0.9390915741234015,  0.94504844339512095,
                                   0.94874639560909113, 0.94999999999999996, 0.94874639560909113};
    const auto momenta = momentum_sequence(sgd, schedule, 21);
    check_close(momenta[0], want);
    check_close(momenta[1], want);  // a group made without momentum gets it too, as in torch
    CHECK_THROWS_WITH(schedule.step(), Catch::Contains("beyond total_steps"));
    CHECK(schedule.epoch() == 20);  // the refused step changed nothing
    CHECK(*sgd.momentum(0) == momenta[0][20]);
    // Resumed at step 7, as set_epoch does after a checkpoint: the same momentum.
    tg::optim::SGD again({{{p[0]}, {.lr = 0.1, .momentum = 0.5}}, {{p[1]}, {.lr = 0.2}}});
    OneCycleLR resumed(again, 0.1, 20);
    resumed.set_epoch(7);
    CHECK(*again.momentum(0) == momenta[0][7]);
    CHECK(*again.momentum(1) == momenta[1][7]);
  }
  {
    // Adam; OneCycleLR(opt, max_lr=[0.1, 0.4], total_steps=15, pct_start=0.25,
    //                  anneal_strategy='linear', div_factor=10., final_div_factor=100.,
    //                  three_phase=True, base_momentum=0.8, max_momentum=0.9), N = 16
    tg::optim::Adam adam({{{p[0]}, {.lr = 0.1}}, {{p[1]}, {.lr = 0.2}}});
    OneCycleLR schedule(adam, std::vector<double>{0.1, 0.4}, 15,
                        {.pct_start = 0.25,
                         .anneal_strategy = tg::optim::Anneal::linear,
                         .base_momentum = 0.8,
                         .max_momentum = 0.9,
                         .div_factor = 10.0,
                         .final_div_factor = 100.0,
                         .three_phase = true});
    std::vector<double> want{0.90000000000000002, 0.86363636363636365, 0.82727272727272727,
                             0.80909090909090908, 0.84545454545454546, 0.88181818181818183};
    want.resize(16, 0.90000000000000002);  // the last phase holds max_momentum
    const auto betas = momentum_sequence(adam, schedule, 16);
    check_close(betas[0], want);
    check_close(betas[1], want);
    CHECK(adam.param_groups()[1].options().beta2 == 0.999);  // beta2 is left alone
  }
  {
    // Inside a SequentialLR, from its milestone on, as torch's (which steps its parts).
    tg::optim::SGD sgd({p[0]}, {.lr = 0.1, .momentum = 0.9});
    auto warmup = std::make_shared<tg::optim::LinearLR>(sgd, 0.5, 1.0, 2);
    auto cycle = std::make_shared<OneCycleLR>(sgd, 0.1, 20);
    tg::optim::SequentialLR schedule(
        sgd, std::vector<std::shared_ptr<tg::optim::LRScheduler>>{warmup, cycle},
        std::vector<int>{2});
    CHECK(*sgd.momentum(0) == cycle->momentum_at(0, 0));  // the cycle's own, set when made
    schedule.set_epoch(2 + 5);
    CHECK(*sgd.momentum(0) == cycle->momentum_at(5, 0));
    CHECK(*sgd.momentum(0) == Approx(0.85));
  }
  {
    Plain plain(p[0]);
    CHECK_FALSE(plain.momentum(0).has_value());
    CHECK_THROWS_WITH(plain.set_momentum(0, 0.9),
                      Catch::Contains("Plain") && Catch::Contains("no momentum"));
    CHECK_THROWS_WITH(OneCycleLR(plain, 0.1, 10),
                      Catch::Contains("OneCycleLR: cycle_momentum") && Catch::Contains("Plain"));
    CHECK_FALSE(plain.initial_lr(0).has_value());  // the refused scheduler changed nothing
    CHECK_THROWS_WITH(MomentumOnly(plain),
                      Catch::Contains("MomentumOnly: the momentum of parameter group 0") &&
                          Catch::Contains("the optimizer has none"));
    CHECK(plain.lr(0) == 0.1);
    OneCycleLR lr_only(plain, 0.1, 10, {.cycle_momentum = false});
    CHECK(plain.lr(0) == Approx(0.004));
    tg::optim::SGD sgd({p[0]}, {.lr = 0.1, .momentum = 0.9});
    CHECK_THROWS_WITH(OneCycleLR(sgd, 0.1, 10, {.base_momentum = -0.1}),
                      Catch::Contains("OneCycleLR: base_momentum") && Catch::Contains("-0.1"));
    CHECK_THROWS_WITH(sgd.set_momentum(0, std::numeric_limits<double>::quiet_NaN()),
                      Catch::Contains("SGD: momentum"));
    CHECK(*sgd.momentum(0) == 0.9);  // the refused ones changed nothing
    CHECK(sgd.lr(0) == 0.1);
    CHECK_FALSE(sgd.initial_lr(0).has_value());
  }
}

TEST_CASE("SequentialLR chains linear warmup and cosine annealing, as PyTorch's", "[scheduler]") {
  // SequentialLR(opt, [LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=5),
  //                    CosineAnnealingLR(opt, T_max=15, eta_min=1e-4)], milestones=[5]),
  // LRS = [0.1, 0.05], N = 25
  Groups groups({0.1, 0.05});
  auto warmup = std::make_shared<tg::optim::LinearLR>(*groups.sgd, 0.1, 1.0, 5);
  auto cosine = std::make_shared<tg::optim::CosineAnnealingLR>(*groups.sgd, 15, 1e-4);
  // The cosine part starts from the groups' initial rates, not from what warmup set.
  CHECK(cosine->base_lrs() == std::vector<double>{0.1, 0.05});
  tg::optim::SequentialLR schedule(*groups.sgd, {warmup, cosine}, {5});
  const auto lrs = lr_sequence(*groups.sgd, schedule, 25);
  check_close(lrs[0], {0.010000000000000002,  0.028000000000000004,  0.046000000000000006,
                       0.064000000000000001,  0.082000000000000003,  0.10000000000000001,
                       0.098908472656653604,  0.095681595609247924,  0.090460398869028638,
                       0.083473073787624974,  0.075025000000000008,  0.065485398869028641,
                       0.055271196740219311,  0.044828803259780732,  0.034614601130971395,
                       0.025075000000000017,  0.016626926212375052,  0.0096396011309713824,
                       0.0044184043907520825, 0.0011915273433464062, 0.0001,
                       0.0011915273433464059, 0.0044184043907520877, 0.0096396011309713685,
                       0.016626926212375021});
  check_close(lrs[1], {0.005000000000000001,   0.014000000000000002,   0.023000000000000003,
                       0.032000000000000001,   0.041000000000000002,   0.050000000000000003,
                       0.049454782638308457,   0.047842959168182896,   0.045234974009654948,
                       0.041744808628653519,   0.03752500000000001,    0.032759974009654948,
                       0.027657985158527961,   0.022442014841472055,   0.017340025990345068,
                       0.012575000000000008,   0.0083551913713464966,  0.0048650259903450649,
                       0.0022570408318171057,  0.00064521736169154825, 0.0001,
                       0.00064521736169154814, 0.0022570408318171083,  0.0048650259903450588,
                       0.008355191371346481});
}

TEST_CASE("a scheduler made again and set to an epoch resumes with identical rates and momenta",
          "[scheduler]") {
  using namespace tg::optim;
  using Make = std::function<std::unique_ptr<LRScheduler>(SGD&)>;
  const std::vector<std::pair<const char*, Make>> kinds = {
      {"StepLR", [](SGD& o) { return std::make_unique<StepLR>(o, 3, 0.5); }},
      {"CosineAnnealingLR", [](SGD& o) { return std::make_unique<CosineAnnealingLR>(o, 7, 1e-3); }},
      {"LinearLR", [](SGD& o) { return std::make_unique<LinearLR>(o, 0.2, 0.9, 6); }},
      {"OneCycleLR", [](SGD& o) { return std::make_unique<OneCycleLR>(o, 0.5, 12); }},
      {"SequentialLR",
       [](SGD& o) {
         auto warmup = std::make_shared<LinearLR>(o, 0.1, 1.0, 3);
         auto cosine = std::make_shared<CosineAnnealingLR>(o, 9);
         return std::make_unique<SequentialLR>(
             o, std::vector<std::shared_ptr<LRScheduler>>{warmup, cosine}, std::vector<int>{3});
       }},
      // After the cycle's milestone the cosine sets no momentum: the cycle's last one stays.
      {"SequentialLR of OneCycleLR and CosineAnnealingLR", [](SGD& o) {
         auto cycle = std::make_shared<OneCycleLR>(o, 0.5, 12);
         auto cosine = std::make_shared<CosineAnnealingLR>(o, 9);
         return std::make_unique<SequentialLR>(
             o, std::vector<std::shared_ptr<LRScheduler>>{cycle, cosine}, std::vector<int>{6});
       }}};
  for (const auto& [name, make] : kinds) {
    INFO(name);
    Groups straight({0.1, 0.3});
    auto schedule = make(*straight.sgd);
    const auto expected = lr_sequence(*straight.sgd, *schedule, 13);
    Groups straight_again({0.1, 0.3});
    auto schedule_again = make(*straight_again.sgd);
    const auto expected_momenta = momentum_sequence(*straight_again.sgd, *schedule_again, 13);
    for (int stop : {1, 4, 9}) {
      INFO("resumed at " << stop);
      Groups resumed({0.1, 0.3});  // the run's configuration; the checkpoint's lr is irrelevant
      auto again = make(*resumed.sgd);
      resumed.sgd->set_lr(123.0);  // as load_checkpoint would have set it
      again->set_epoch(stop);
      REQUIRE(again->epoch() == stop);
      for (int e = stop; e < 13; ++e) {
        for (std::size_t g = 0; g < 2; ++g) {
          REQUIRE(resumed.sgd->lr(g) == expected[g][e]);
          REQUIRE(*resumed.sgd->momentum(g) == expected_momenta[g][e]);
        }
        if (e + 1 < 13) again->step();
      }
    }
  }
}

TEST_CASE("ReduceLROnPlateau follows PyTorch's, in min and max mode", "[scheduler][plateau]") {
  using namespace tg::optim;
  {
    // ReduceLROnPlateau(opt, mode='min', factor=0.5, patience=2, cooldown=1, min_lr=0.02),
    // LRS = [0.1, 0.3]; the lrs after each s.step(metric)
    Groups groups({0.1, 0.3});
    ReduceLROnPlateau schedule(*groups.sgd,
                               {.factor = 0.5, .patience = 2, .cooldown = 1, .min_lr = 0.02});
    const std::vector<double> metrics = {1.0,  0.9,  0.95, 0.91, 0.9,  0.92,    0.8,
                                         0.85, 0.86, 0.87, 0.88, 0.89, 0.79999, 0.7,
                                         0.71, 0.72, 0.73, 0.74, 0.75};
    std::vector<std::vector<double>> lrs(2);
    for (double metric : metrics) {
      schedule.step(metric);
      for (std::size_t g = 0; g < 2; ++g) lrs[g].push_back(groups.sgd->lr(g));
    }
    check_close(lrs[0], {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025,
                         0.025, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02});
    check_close(lrs[1], {0.3, 0.3, 0.3, 0.3, 0.15, 0.15, 0.15, 0.15, 0.15, 0.075, 0.075, 0.075,
                         0.075, 0.075, 0.075, 0.075, 0.0375, 0.0375, 0.0375});
    CHECK(schedule.epoch() == 19);
    CHECK(schedule.state().best == 0.7);
  }
  {
    // ReduceLROnPlateau(opt, mode='max', factor=0.1, patience=1, threshold=0.01,
    //                   threshold_mode='abs'), LRS = [1.0]
    Groups groups({1.0});
    ReduceLROnPlateau schedule(*groups.sgd, {.mode = PlateauMode::max,
                                             .factor = 0.1,
                                             .patience = 1,
                                             .threshold = 0.01,
                                             .threshold_mode = ThresholdMode::abs});
    std::vector<double> lrs;
    for (double metric : {0.5, 0.6, 0.6, 0.65, 0.7, 0.69, 0.7, 0.7, 0.8, 0.79, 0.795, 0.8, 0.805}) {
      schedule.step(metric);
      lrs.push_back(groups.sgd->lr());
    }
    check_close(lrs, {1, 1, 1, 1, 1, 1, 0.10000000000000001, 0.10000000000000001,
                      0.10000000000000001, 0.10000000000000001, 0.010000000000000002,
                      0.010000000000000002, 0.0010000000000000002});
  }
}

TEST_CASE("ReduceLROnPlateau's state restores its patience and cooldown", "[scheduler][plateau]") {
  using namespace tg::optim;
  const std::vector<double> metrics = {1.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.4, 0.5, 0.6, 0.7};
  const ReduceLROnPlateauOptions options{.patience = 1, .cooldown = 2};
  Groups straight({1.0});
  ReduceLROnPlateau first(*straight.sgd, options);
  std::vector<double> expected;
  for (double m : metrics) {
    first.step(m);
    expected.push_back(straight.sgd->lr());
  }
  Groups resumed({1.0});
  ReduceLROnPlateau a(*resumed.sgd, options);
  for (std::size_t i = 0; i < 5; ++i) a.step(metrics[i]);
  ReduceLROnPlateau b(*resumed.sgd, options);
  b.load_state(a.state());
  for (std::size_t i = 5; i < metrics.size(); ++i) {
    b.step(metrics[i]);
    CHECK(resumed.sgd->lr() == expected[i]);
  }
  CHECK(b.epoch() == static_cast<int>(metrics.size()));
}

TEST_CASE("schedulers reject bad options, naming the class and the value", "[scheduler][errors]") {
  using namespace tg::optim;
  Groups groups({0.1, 0.2});
  SGD& sgd = *groups.sgd;
  CHECK_THROWS_WITH(StepLR(sgd, 0), Catch::Contains("StepLR: step_size") && Catch::Contains("0"));
  CHECK_THROWS_WITH(StepLR(sgd, 2, -0.5),
                    Catch::Contains("StepLR: gamma") && Catch::Contains("-0.5"));
  CHECK_THROWS_WITH(CosineAnnealingLR(sgd, 0),
                    Catch::Contains("CosineAnnealingLR: T_max must be positive, got 0"));
  CHECK_THROWS_WITH(CosineAnnealingLR(sgd, -3), Catch::Contains("got -3"));
  CHECK_THROWS_WITH(CosineAnnealingLR(sgd, 5, std::numeric_limits<double>::quiet_NaN()),
                    Catch::Contains("CosineAnnealingLR: eta_min") && Catch::Contains("nan"));
  CHECK_THROWS_WITH(LinearLR(sgd, 0.0),
                    Catch::Contains("LinearLR: start_factor") && Catch::Contains("got 0"));
  CHECK_THROWS_WITH(LinearLR(sgd, 0.5, 1.5),
                    Catch::Contains("LinearLR: end_factor") && Catch::Contains("1.5"));
  CHECK_THROWS_WITH(LinearLR(sgd, 0.5, 1.0, 0), Catch::Contains("LinearLR: total_iters"));
  CHECK_THROWS_WITH(OneCycleLR(sgd, 0.1, 0),
                    Catch::Contains("OneCycleLR: total_steps") && Catch::Contains("got 0"));
  CHECK_THROWS_WITH(OneCycleLR(sgd, -0.1, 10),
                    Catch::Contains("OneCycleLR: max_lr") && Catch::Contains("-0.1"));
  CHECK_THROWS_WITH(
      OneCycleLR(sgd, std::vector<double>{0.1}, 10),
      Catch::Contains("OneCycleLR: expected 2 max_lr values") && Catch::Contains("got 1"));
  CHECK_THROWS_WITH(OneCycleLR(sgd, 0.1, 10, {.pct_start = 1.5}),
                    Catch::Contains("OneCycleLR: pct_start") && Catch::Contains("1.5"));
  CHECK_THROWS_WITH(OneCycleLR(sgd, 0.1, 10, {.div_factor = 0.0}),
                    Catch::Contains("OneCycleLR: div_factor"));
  // A refused scheduler changed neither the rates nor the base rates.
  CHECK((sgd.lr(0) == 0.1 && sgd.lr(1) == 0.2));
  CHECK_FALSE(sgd.initial_lr(0).has_value());

  Groups other({0.1});
  auto theirs = std::make_shared<StepLR>(*other.sgd, 2);
  auto ours = std::make_shared<StepLR>(sgd, 2);
  CHECK_THROWS_WITH(SequentialLR(sgd, {ours, theirs}, {3}),
                    Catch::Contains("SequentialLR: scheduler 1 (StepLR) belongs to another"));
  CHECK_THROWS_WITH(SequentialLR(sgd, {ours, ours}, {}),
                    Catch::Contains("SequentialLR: 2 schedulers need 1 milestones, got 0"));
  CHECK_THROWS_WITH(SequentialLR(sgd, {ours, ours, ours}, {4, 4}),
                    Catch::Contains("SequentialLR: milestones") && Catch::Contains("4 after 4"));
  CHECK_THROWS_WITH(SequentialLR(sgd, {ours, nullptr}, {2}),
                    Catch::Contains("scheduler 1 is null"));
  CHECK_THROWS_WITH(SequentialLR(sgd, {}, {}), Catch::Contains("SequentialLR: there are no"));

  StepLR step(sgd, 2);
  CHECK_THROWS_WITH(step.set_epoch(-1), Catch::Contains("StepLR: epoch must be >= 0, got -1"));

  CHECK_THROWS_WITH(ReduceLROnPlateau(sgd, {.factor = 1.0}),
                    Catch::Contains("ReduceLROnPlateau: factor") && Catch::Contains("got 1"));
  CHECK_THROWS_WITH(ReduceLROnPlateau(sgd, {.patience = -1}),
                    Catch::Contains("ReduceLROnPlateau: patience") && Catch::Contains("-1"));
  CHECK_THROWS_WITH(ReduceLROnPlateau(sgd, {.cooldown = -2}), Catch::Contains("cooldown"));
  CHECK_THROWS_WITH(ReduceLROnPlateau(sgd, {.min_lr = -1e-3}),
                    Catch::Contains("ReduceLROnPlateau: min_lr") && Catch::Contains("-0.001"));
  ReduceLROnPlateau plateau(sgd, {.patience = 0});
  plateau.step(1.0);
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    CHECK_THROWS_WITH(plateau.step(bad),
                      Catch::Contains("ReduceLROnPlateau: the metric must be finite"));
  }
  CHECK(plateau.epoch() == 1);  // the refused metrics were not counted
  CHECK(plateau.state().best == 1.0);
  ReduceLROnPlateau::State bad_state = plateau.state();
  bad_state.num_bad_epochs = -1;
  CHECK_THROWS_WITH(plateau.load_state(bad_state),
                    Catch::Contains("ReduceLROnPlateau") && Catch::Contains("num_bad_epochs -1"));
}
