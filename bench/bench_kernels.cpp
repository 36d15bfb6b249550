// Micro-benchmarks of the hot kernels (Google Benchmark), tapegrad alone: GEMM and convolutions
// report GFLOP/s. bench_layers (bench/compare_layers.sh) sets them beside OpenBLAS and oneDNN.
//   build/bench/bench_kernels [--benchmark_filter=gemm]
#include <benchmark/benchmark.h>

#include <tapegrad.hpp>

#include "../ops/kernels/gemm.hpp"

namespace {

void gemm_square(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  tg::set_num_threads(1);
  tg::manual_seed(0);
  tg::Tensor a = tg::randn({n, n}), b = tg::randn({n, n}), c = tg::zeros({n, n});
  for (auto _ : state) {
    tg::kernels::gemm(tg::kernels::Trans::no, tg::kernels::Trans::no, n, n, n, 1.0f,
                      a.value<float>().data(), n, b.value<float>().data(), n, 0.0f,
                      c.value<float>().data(), n);
    benchmark::DoNotOptimize(c.value<float>().data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n * n * n),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}
BENCHMARK(gemm_square)->Arg(64)->Arg(256)->Arg(512);

// LeNet-5's second convolution on a batch of 64, forward and backward.
void conv2d_lenet_c2(benchmark::State& state) {
  tg::set_num_threads(static_cast<int>(state.range(0)));
  tg::manual_seed(0);
  tg::Tensor x = tg::randn({64, 6, 14, 14}, {.requires_grad = true});
  tg::Tensor w = tg::randn({16, 6, 5, 5}, {.requires_grad = true});
  tg::Tensor b = tg::randn({16}, {.requires_grad = true});
  for (auto _ : state) {
    tg::sum(tg::conv2d(x, w, b)).backward();
    x.zero_grad(), w.zero_grad(), b.zero_grad();
  }
  tg::set_num_threads(0);
}
BENCHMARK(conv2d_lenet_c2)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// mnist_cnn's second convolution (32 -> 64 channels, 3x3, 26x26 -> 24x24) on a batch of 64:
// forward alone (range 0 = 0) or forward and both backwards (1), on one thread. Reports the
// GFLOP/s of the convolutions' own multiply-adds.
void conv2d_mnist_c2(benchmark::State& state) {
  const bool backward = state.range(0) == 1;
  tg::set_num_threads(1);
  tg::manual_seed(0);
  tg::Tensor x = tg::randn({64, 32, 26, 26}, {.requires_grad = true});
  tg::Tensor w = tg::randn({64, 32, 3, 3}, {.requires_grad = true});
  tg::Tensor b = tg::randn({64}, {.requires_grad = true});
  const tg::Tensor grad = tg::ones({64, 64, 24, 24});  // given, so only the convolution is timed
  for (auto _ : state) {
    if (backward) {
      tg::conv2d(x, w, b).backward(grad);
      x.zero_grad(), w.zero_grad(), b.zero_grad();
    } else {
      tg::NoGradGuard no_grad;
      benchmark::DoNotOptimize(tg::conv2d(x, w, b));
    }
  }
  const double flops = 2.0 * 64 * 64 * 288 * 576 * (backward ? 3 : 1);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  tg::set_num_threads(0);
}
BENCHMARK(conv2d_mnist_c2)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void max_pool2d_2x2(benchmark::State& state) {
  tg::manual_seed(0);
  tg::Tensor x = tg::randn({64, 6, 28, 28}, {.requires_grad = true});
  for (auto _ : state) {
    tg::sum(tg::max_pool2d(x, {.kernel = 2})).backward();
    x.zero_grad();
  }
}
BENCHMARK(max_pool2d_2x2)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
