// The storage cache: arrays of dead tensors come back for the next array of their size.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <thread>
#include <vector>

#include <tapegrad.hpp>

namespace {

using tg::Tensor;

// Restores the cache's limit and empties it around a test.
struct FreshCache {
  std::size_t limit = tg::storage_cache_limit();
  FreshCache() { tg::empty_storage_cache(); }
  ~FreshCache() {
    tg::set_storage_cache_limit(limit);
    tg::empty_storage_cache();
  }
};

}  // namespace

TEST_CASE("a dead tensor's array is reused for the next array of its dtype and size", "[storage]") {
  FreshCache fresh;
  const float* first = nullptr;
  {
    Tensor a = tg::zeros({64, 256});  // 64 KiB
    first = a.value<float>().data();
  }
  CHECK(tg::storage_cache_bytes() == 64 * 256 * sizeof(float));
  Tensor b = tg::ones({256, 64});  // the same number of elements, another shape
  CHECK(b.value<float>().data() == first);
  CHECK(b.shape() == tg::Shape{256, 64});
  CHECK(b.value<float>().strides()[0] == 64);
  CHECK(bool(xt::all(xt::equal(b.value<float>(), 1.0f))));
  CHECK(tg::storage_cache_bytes() == 0);

  const float* second = b.value<float>().data();
  b = Tensor{};
  Tensor other_dtype = tg::zeros({64, 256}, {.dtype = tg::f64});  // 128 KiB: not that array
  CHECK(static_cast<const void*>(other_dtype.value<double>().data()) !=
        static_cast<const void*>(second));
  Tensor other_size = tg::zeros({64, 255});
  CHECK(other_size.value<float>().data() != second);
}

TEST_CASE("ops take their outputs from the cache", "[storage]") {
  FreshCache fresh;
  const Tensor x = tg::randn({32, 512});
  const float* freed = nullptr;
  {
    Tensor y = tg::relu(x);
    freed = y.value<float>().data();
  }
  const Tensor z = tg::sigmoid(x);
  CHECK(z.value<float>().data() == freed);
  CHECK(z.value<float>()(3, 7) == Approx(1.0f / (1.0f + std::exp(-x.value<float>()(3, 7)))));
}

TEST_CASE("small arrays are not kept, and the limit bounds what is", "[storage]") {
  FreshCache fresh;
  { Tensor small = tg::zeros({1000}); }  // 4 KB
  CHECK(tg::storage_cache_bytes() == 0);

  tg::set_storage_cache_limit(3 * 40000 * sizeof(float));
  {
    std::vector<Tensor> tensors;
    for (int i = 0; i < 5; ++i) tensors.push_back(tg::zeros({40000}));
  }
  CHECK(tg::storage_cache_bytes() == 3 * 40000 * sizeof(float));  // the three kept last
  tg::set_storage_cache_limit(40000 * sizeof(float));
  CHECK(tg::storage_cache_bytes() == 40000 * sizeof(float));
  tg::empty_storage_cache();
  CHECK(tg::storage_cache_bytes() == 0);
  tg::set_storage_cache_limit(0);
  { Tensor big = tg::zeros({1 << 20}); }
  CHECK(tg::storage_cache_bytes() == 0);
}

TEST_CASE("only arrays of sizes that ops ask for are kept, and only while they do", "[storage]") {
  FreshCache fresh;
  // An array made by the user (or a data loader), of a size no op allocated: freed.
  { Tensor user = tg::tensor(xt::xarray<float>::from_shape({100, 101})); }
  CHECK(tg::storage_cache_bytes() == 0);

  { Tensor evaluation = tg::zeros({1000, 100}); }  // an evaluation batch's array: kept...
  CHECK(tg::storage_cache_bytes() == 1000 * 100 * sizeof(float));
  for (int step = 0; step < 9000; ++step) Tensor training = tg::zeros({100, 100});
  // ...until its size goes unrequested for 4096 requests (checked every 4096): then only the
  // training array is left.
  CHECK(tg::storage_cache_bytes() == 100 * 100 * sizeof(float));
}

TEST_CASE("tensors may die on any thread", "[storage]") {
  FreshCache fresh;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 200; ++i) {
        Tensor a = tg::ones({100, 100});
        Tensor b = tg::ones({100, 100});
        if (a.value<float>()(99, 99) != 1.0f || b.value<float>()(0, 0) != 1.0f) std::abort();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(tg::storage_cache_bytes() <= tg::storage_cache_limit());
  CHECK(tg::storage_cache_bytes() >= 100 * 100 * sizeof(float));
}

namespace {

// Restores the memory guard's limit around a test.
struct MemoryLimit {
  std::size_t saved = tg::memory_limit();
  explicit MemoryLimit(std::size_t bytes) { tg::set_memory_limit(bytes); }
  ~MemoryLimit() { tg::set_memory_limit(saved); }
};

}  // namespace

TEST_CASE("the memory guard defaults to the machine's physical memory", "[storage][guard]") {
  const auto pages = static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES));
  const auto page_size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  CHECK(tg::memory_limit() == pages * page_size);
}

// Requests the hostile tests made: each asked the system for terabytes and died of
// std::bad_alloc.
TEST_CASE("an output larger than memory is a tg::Error naming the op, shape and bytes",
          "[storage][guard]") {
  using Catch::Matchers::Contains;
  using Catch::Matchers::StartsWith;
  const MemoryLimit limit(std::size_t{1} << 34);  // 16 GiB, whatever the machine has
  CHECK_THROWS_WITH(tg::expand(tg::zeros({1, 1}), {1 << 20, 1 << 20}),
                    StartsWith("expand: an output of shape [1048576,1048576] needs 4398046511104 "
                               "bytes, more than the memory limit of 17179869184 bytes"));
  // Input [4,2,8,4], weight [2,2,4,4], padding (2^30, 2): an output of [4,2,2^31+5,5], and
  // before it one image's columns, [2*4*4, (2^31+5)*5]: the larger, refused first.
  CHECK_THROWS_WITH(
      tg::conv2d(tg::zeros({4, 2, 8, 4}), tg::zeros({2, 2, 4, 4}), {}, {.padding = {1 << 30, 2}}),
      StartsWith("conv2d: a column buffer of shape [32,10737418265] needs 1374389537920 bytes"));
  CHECK_THROWS_AS(tg::zeros({1 << 20, 1 << 20}), tg::Error);
}

TEST_CASE("the memory guard's limit is settable and checked against each array",
          "[storage][guard]") {
  using Catch::Matchers::StartsWith;
  const Tensor big = tg::ones({1024, 1024});      // 4 MiB, made before the limit
  const MemoryLimit limit(std::size_t{1} << 20);  // 1 MiB
  // As f64, [512,256] takes exactly the limit; one more column is over.
  CHECK(tg::ones({512, 256}, {.dtype = tg::DType::f64}).numel() == 131072);
  CHECK_THROWS_WITH(tg::ones({512, 257}, {.dtype = tg::DType::f64}),
                    StartsWith("full: an output of shape [512,257] needs 1052672 bytes, more than "
                               "the memory limit of 1048576 bytes"));
  CHECK_THROWS_WITH(tg::relu(big), StartsWith("relu: an output of shape [1024,1024] needs "
                                              "4194304 bytes"));
  CHECK_THROWS_WITH(tg::matmul(tg::ones({1024, 1}), tg::ones({1, 257})),
                    StartsWith("matmul: an output of shape [1024,257] needs 1052672 bytes"));
  CHECK_THROWS_WITH(tg::expand(tg::ones({1, 256}), {1025, 256}),
                    StartsWith("expand: an output of shape [1025,256] needs 1049600 bytes"));
}

// Arrays an op allocates besides its output pass the guard too: a convolution's column buffer
// (one image's im2col matrix, kernel scratch), and the fused max-pool's argmax indices, which
// conv2d_relu_max_pool2d allocated before its output and which died of std::bad_alloc.
TEST_CASE("the memory guard covers a convolution's column buffer and argmax", "[storage][guard]") {
  using Catch::Matchers::StartsWith;
  const Tensor input = tg::ones({1, 64, 64, 64});  // 1 MiB, made before the limit
  const Tensor weight = tg::ones({1, 64, 5, 5});
  {
    const MemoryLimit limit(std::size_t{1} << 20);
    // The output [1,1,60,60] takes 14 KB; the columns [64*5*5, 60*60] 23 MB.
    CHECK_THROWS_WITH(tg::conv2d(input, weight),
                      StartsWith("conv2d: a column buffer of shape [1600,3600] needs 23040000 "
                                 "bytes, more than the memory limit of 1048576 bytes"));
  }
  CHECK_THROWS_WITH(tg::conv2d_relu_max_pool2d(tg::zeros({1, 1, 4, 4}), tg::zeros({1, 1, 3, 3}), {},
                                               {.padding = {1 << 20, 1 << 20}}, {.kernel = 1}),
                    StartsWith("conv2d_relu_max_pool2d: a column buffer of shape [9,"));
}
