#include <catch2/catch.hpp>

#include <tapegrad.hpp>

#include "support/idx_files.hpp"
#include "support/temp_dir.hpp"

using tg::test::idx_bytes;

TEST_CASE("read_idx reads raw and gzip files alike", "[data][idx]") {
  tg::test::TempDir dir;
  const std::string bytes = idx_bytes({2, 3}, {1, 2, 3, 4, 5, 250});
  tg::test::write_file(dir / "a", bytes);
  tg::test::write_gzip(dir / "a.gz", bytes);
  for (const char* name : {"a", "a.gz"}) {
    const auto array = tg::data::read_idx(dir / name);
    CHECK(array.dims == std::vector<std::size_t>{2, 3});
    CHECK(array.values == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 250});
  }
}

TEST_CASE("read_idx names the file and the byte offset of every defect", "[data][idx][errors]") {
  tg::test::TempDir dir;
  const std::string good = idx_bytes({2, 3}, {1, 2, 3, 4, 5, 6});
  auto error_for = [&](const std::string& bytes, bool gzip = false) {
    const auto path = dir / (gzip ? "bad.gz" : "bad");
    (gzip ? tg::test::write_gzip : tg::test::write_file)(path, bytes);
    try {
      tg::data::read_idx(path);
    } catch (const tg::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };

  SECTION("truncated data") {
    const std::string message = error_for(good.substr(0, good.size() - 2));
    CHECK_THAT(message, Catch::Contains("bad") && Catch::Contains("truncated data") &&
                            Catch::Contains("byte offset 12") && Catch::Contains("expected 6"));
  }
  SECTION("truncated gzip data") {
    CHECK_THAT(error_for(good.substr(0, good.size() - 1), true),
               Catch::Contains("bad.gz") && Catch::Contains("truncated"));
  }
  SECTION("a header that claims far more data than the file holds") {
    CHECK_THAT(
        error_for(idx_bytes({1u << 20, 1u << 20}, {1, 2, 3})),
        Catch::Contains("truncated data at byte offset 12") && Catch::Contains("ends after 3"));
  }
  SECTION("truncated header") {
    CHECK_THAT(error_for(good.substr(0, 6)),
               Catch::Contains("truncated dimension") && Catch::Contains("byte offset 4"));
  }
  SECTION("wrong magic number") {
    std::string bytes = good;
    bytes[0] = '\x1f';
    CHECK_THAT(error_for(bytes),
               Catch::Contains("magic number at byte offset 0") && Catch::Contains("1f 00 08 02"));
  }
  SECTION("unsupported element type") {
    std::string bytes = good;
    bytes[2] = '\x0d';
    CHECK_THAT(error_for(bytes), Catch::Contains("0x0d") && Catch::Contains("byte offset 2"));
  }
  SECTION("zero dims or a zero dim") {
    CHECK_THAT(error_for(std::string{'\0', '\0', '\x08', '\0'}), Catch::Contains("0 dims"));
    CHECK_THAT(error_for(idx_bytes({2, 0}, {})),
               Catch::Contains("dimension 1 at byte offset 8 is 0"));
  }
  SECTION("bytes after the data") {
    CHECK_THAT(error_for(good + "x"), Catch::Contains("unexpected bytes after the data") &&
                                          Catch::Contains("byte offset 18"));
  }
  SECTION("missing file") {
    CHECK_THROWS_WITH(tg::data::read_idx(dir / "nothing"), Catch::Contains("cannot open"));
  }
}
