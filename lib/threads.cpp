#include "threads.hpp"

#include "../autograd/error.hpp"
#include "../ops/kernels/parallel.hpp"

namespace tg {

void set_num_threads(int threads) {
  if (threads < 0) fail("set_num_threads: expected a thread count >= 0, got {}", threads);
  kernels::set_thread_limit(threads);
}

int get_num_threads() { return kernels::thread_limit(); }

}  // namespace tg
