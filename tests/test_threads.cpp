#include <catch2/catch.hpp>

#include <atomic>
#include <vector>

#include <tapegrad.hpp>

#include "../ops/kernels/parallel.hpp"

TEST_CASE("set_num_threads governs the parallel seam", "[threads]") {
  tg::set_num_threads(1);
  CHECK(tg::get_num_threads() == 1);
  tg::set_num_threads(0);
  CHECK(tg::get_num_threads() >= 1);
  CHECK_THROWS_WITH(tg::set_num_threads(-1), Catch::Contains("set_num_threads"));
}

TEST_CASE("parallel_chunks covers the range once with chunks fixed by n and grain", "[threads]") {
  for (int threads : {1, 2}) {
    tg::set_num_threads(threads);
    std::vector<std::atomic<int>> hits(1003);
    std::vector<std::pair<std::size_t, std::size_t>> bounds(tg::kernels::chunk_count(1003, 10));
    tg::kernels::parallel_chunks(1003, 10,
                                 [&](std::size_t chunk, std::size_t begin, std::size_t end) {
                                   bounds[chunk] = {begin, end};
                                   for (std::size_t i = begin; i < end; ++i) hits[i]++;
                                 });
    for (auto& h : hits) REQUIRE(h == 1);
    REQUIRE(bounds.size() == 101);
    CHECK(bounds[0] == std::pair<std::size_t, std::size_t>{0, 10});
    CHECK(bounds[100] == std::pair<std::size_t, std::size_t>{1000, 1003});
  }
  tg::set_num_threads(0);
}
