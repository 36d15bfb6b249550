// mnist_cnn's second convolution (32 -> 64 channels, 3x3, 26x26 -> 24x24, batch 64) in libtorch
// on one thread, timed as bench_kernels' conv2d_mnist_c2 times tapegrad's: forward alone, and
// forward with both backwards; the GFLOP/s of the convolutions' multiply-adds, best of 5 runs of
// 10. ONEDNN_VERBOSE=1 shows which oneDNN implementation runs.
//   OPENBLAS_NUM_THREADS=1 build/bench/libtorch_conv
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

namespace {

void run() {
  torch::set_num_threads(1);
  torch::manual_seed(0);
  const torch::Tensor x = torch::randn({64, 32, 26, 26}, torch::requires_grad());
  const torch::Tensor w = torch::randn({64, 32, 3, 3}, torch::requires_grad());
  const torch::Tensor b = torch::randn({64}, torch::requires_grad());
  for (const bool backward : {false, true, false, true}) {  // the first two warm up
    double best = 1e30;
    for (int run = 0; run < 5; ++run) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < 10; ++i) {
        if (backward) {
          // sum().backward() rather than backward(ones) as bench_kernels does: with a given
          // gradient libtorch's buffers come from fresh pages on every call here (82 ms forward
          // instead of 9), and the faster form makes the conservative baseline.
          torch::conv2d(x, w, b).sum().backward();
          for (const torch::Tensor& t : {x, w, b}) t.mutable_grad().reset();
        } else {
          torch::NoGradGuard no_grad;
          const torch::Tensor y = torch::conv2d(x, w, b);
        }
      }
      const auto elapsed = std::chrono::steady_clock::now() - start;
      best = std::min(best, std::chrono::duration<double>(elapsed).count() / 10);
    }
    const double flops = 2.0 * 64 * 64 * 288 * 576 * (backward ? 3 : 1);
    std::printf("conv2d_mnist_c2/%d %.1f ms %.1f GFLOP/s\n", backward ? 1 : 0, best * 1e3,
                flops / best / 1e9);
  }
}

}  // namespace

int main() {
  try {
    run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
