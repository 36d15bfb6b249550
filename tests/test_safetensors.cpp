#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>

#include "support/temp_dir.hpp"

using tg::Tensor;

namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string error_reading(const std::filesystem::path& path) {
  try {
    tg::read_safetensors(path);
  } catch (const tg::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("safetensors round-trips every dtype and the metadata", "[safetensors]") {
  tg::test::TempDir dir;
  tg::manual_seed(5);
  Tensor a = tg::randn({2, 3});
  Tensor b = tg::randn({4}, {.dtype = tg::f64});
  Tensor c = tg::tensor(xt::xarray<std::int64_t>{7, -8, 9});
  Tensor scalar = tg::full({}, 3.5, {.dtype = tg::f64});
  tg::write_safetensors(dir / "t.safetensors", {{"a", a}, {"b", b}, {"c", c}, {"s", scalar}},
                        {{"note", "hello"}});
  const auto file = tg::read_safetensors(dir / "t.safetensors");
  CHECK(file.metadata.at("note") == "hello");
  REQUIRE(file.tensors.size() == 4);
  REQUIRE(bool(xt::all(xt::equal(file.tensors.at("a").value<float>(), a.value<float>()))));
  REQUIRE(bool(xt::all(xt::equal(file.tensors.at("b").value<double>(), b.value<double>()))));
  REQUIRE(bool(
      xt::all(xt::equal(file.tensors.at("c").value<std::int64_t>(), c.value<std::int64_t>()))));
  CHECK(file.tensors.at("s").dim() == 0);
  CHECK(file.tensors.at("s").item() == 3.5);
}

TEST_CASE("the header is JSON after an 8-byte little-endian length", "[safetensors]") {
  tg::test::TempDir dir;
  tg::write_safetensors(dir / "t.safetensors", {{"w", tg::ones({2})}});
  const std::string bytes = read_bytes(dir / "t.safetensors");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  CHECK(bytes.size() == 8 + n + 8);
  CHECK_THAT(bytes.substr(8, n),
             Catch::Contains(R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})"));
}

TEST_CASE("writing leaves no temporary file and replaces the target whole", "[safetensors]") {
  tg::test::TempDir dir;
  tg::write_safetensors(dir / "t.safetensors", {{"w", tg::ones({2})}});
  tg::write_safetensors(dir / "t.safetensors", {{"w", tg::zeros({3})}});
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path()))
    ++files;
  CHECK(files == 1);
  CHECK(tg::read_safetensors(dir / "t.safetensors").tensors.at("w").numel() == 3);
  CHECK_THROWS_WITH(
      tg::write_safetensors(dir / "no" / "such" / "dir.safetensors", {{"w", tg::ones({1})}}),
      Catch::Contains("cannot create"));
}

TEST_CASE("corrupt files are rejected with the path and what is wrong", "[safetensors][errors]") {
  tg::test::TempDir dir;
  const auto path = dir / "t.safetensors";
  tg::write_safetensors(path, {{"w", tg::ones({2, 2})}, {"v", tg::ones({3})}});
  const std::string good = read_bytes(path);

  SECTION("too short") {
    write_bytes(path, good.substr(0, 5));
    CHECK_THAT(error_reading(path),
               Catch::Contains("t.safetensors") && Catch::Contains("too short"));
  }
  SECTION("header length beyond the file") {
    std::string bytes = good;
    bytes[4] = '\x01';
    write_bytes(path, bytes);
    CHECK_THAT(error_reading(path), Catch::Contains("exceeds the file"));
  }
  SECTION("corrupt JSON") {
    std::string bytes = good;
    bytes[12] = '}';
    write_bytes(path, bytes);
    CHECK_THAT(error_reading(path), Catch::Contains("corrupt JSON header at byte offset"));
  }
  SECTION("truncated data") {
    write_bytes(path, good.substr(0, good.size() - 4));
    CHECK_THAT(error_reading(path), Catch::Contains("past the end of the file"));
  }
  SECTION("extra data") {
    write_bytes(path, good + "xxxx");
    CHECK_THAT(error_reading(path), Catch::Contains("4 bytes of data after the last tensor"));
  }
  SECTION("a wrong dtype name") {
    std::string bytes = good;
    bytes.replace(bytes.find("F32"), 3, "F16");
    write_bytes(path, bytes);
    CHECK_THAT(error_reading(path), Catch::Contains("'w'") && Catch::Contains("dtype"));
  }
  SECTION("offsets that do not match the shape") {
    std::string bytes = good;
    bytes.replace(bytes.find("[2,2]"), 5, "[2,3]");
    write_bytes(path, bytes);
    CHECK_THAT(error_reading(path), Catch::Contains("'w'") && Catch::Contains("data_offsets"));
  }
  SECTION("a shape whose element count overflows") {
    // [2^62, 4] F32 with no data: 2^64 bytes wrap to 0, which would match the empty offsets.
    const std::string header =
        R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})";
    std::string bytes(8, '\0');
    for (std::size_t i = 0; i < 8; ++i)
      bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    write_bytes(path, bytes + header);
    CHECK_THAT(error_reading(path), Catch::Contains("'w'") && Catch::Contains("2^48"));
  }
  SECTION("missing file") {
    CHECK_THAT(error_reading(dir / "none"), Catch::Contains("cannot open"));
  }
  SECTION("a number beyond a double in the header") {  // found by fuzz_safetensors: terminated
    const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[24E526,4]}})";
    std::string bytes(8, '\0');
    for (std::size_t i = 0; i < 8; ++i)
      bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    write_bytes(path, bytes + header + "abcd");
    CHECK_THAT(error_reading(path), Catch::Contains("JSON header at offset 8 not readable") &&
                                        Catch::Contains("number overflow"));
  }
  SECTION("a directory") {  // said it was 2^63 - 1 bytes, too short for the header
    CHECK_THAT(error_reading(dir.path()), Catch::Contains("is not a regular file"));
  }
}

namespace {

// The pid of a process that has exited (and been reaped): no process has it until the kernel
// hands it out again, which takes a full cycle of pids.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

}  // namespace

// Every kill -9 between a writer's mkstemp and its rename left a temporary file, and nothing
// ever removed them.
TEST_CASE("a write removes the files of killed writers, and only those", "[safetensors][errors]") {
  tg::test::TempDir dir;
  const auto path = dir / "ck.safetensors";
  const std::string dead = std::to_string(dead_pid());
  const auto abandoned = dir / ("ck.safetensors.tapegrad-tmp." + dead + ".a1b2c3");
  const auto abandoned_probe = dir / ("ck.safetensors.tapegrad-probe." + dead + ".Zz9Zz9");
  // This process is alive: its file stays even though nobody holds its lock.
  const auto live = dir / ("ck.safetensors.tapegrad-tmp." + std::to_string(::getpid()) + ".d4e5f6");
  const auto user_files = {dir / "ck.safetensors.tapegrad-tmp.notes",
                           dir / ("ck.safetensors.tmp." + dead + ".backup"),
                           dir / ("ck.safetensors.tapegrad-tmp." + dead + ".toolong"),
                           dir / ("other.safetensors.tapegrad-tmp." + dead + ".g7h8i9")};
  for (const auto& file : {abandoned, abandoned_probe, live}) write_bytes(file, "partial");
  for (const auto& file : user_files) write_bytes(file, "partial");
  tg::write_safetensors(path, {{"x", tg::ones({2})}});
  CHECK_FALSE(std::filesystem::exists(abandoned));
  CHECK_FALSE(std::filesystem::exists(abandoned_probe));
  CHECK(std::filesystem::exists(live));
  for (const auto& file : user_files) CHECK(std::filesystem::exists(file));
  CHECK(tg::read_safetensors(path).tensors.at("x").numel() == 2);
  // The write's own temporary file is gone too: the checkpoint, `live` and the user's four.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 6);
}

// A writer in another pid namespace (a container, another machine on a shared volume) looks dead
// by its pid; the lock it holds on its file says it is not.
TEST_CASE("a file whose writer holds its lock is left alone whatever its pid",
          "[safetensors][errors]") {
  tg::test::TempDir dir;
  const auto other =
      dir / ("ck.safetensors.tapegrad-tmp." + std::to_string(dead_pid()) + ".q1w2e3");
  write_bytes(other, "being written elsewhere");
  const int fd = ::open(other.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  tg::write_safetensors(dir / "ck.safetensors", {{"x", tg::ones({2})}});
  CHECK(std::filesystem::exists(other));
  ::close(fd);  // the writer is gone now
  tg::write_safetensors(dir / "ck.safetensors", {{"x", tg::ones({2})}});
  CHECK_FALSE(std::filesystem::exists(other));
}

// The example trained a whole epoch before finding that --save pointed into a missing directory.
TEST_CASE("check_writable refuses a path no file can be written to, before any work",
          "[safetensors][errors]") {
  tg::test::TempDir dir;
  CHECK_NOTHROW(tg::check_writable(dir / "ck.safetensors"));
  CHECK_FALSE(std::filesystem::exists(dir / "ck.safetensors"));
  CHECK(std::filesystem::is_empty(dir.path()));  // its probe removed
  CHECK_THROWS_WITH(tg::check_writable(dir / "missing" / "ck.safetensors"),
                    Catch::Contains("cannot create a file beside") &&
                        Catch::Contains("missing/ck.safetensors") &&
                        Catch::Contains("No such file or directory"));
  write_bytes(dir / "plain", "a file, not a directory");
  CHECK_THROWS_WITH(tg::check_writable(dir / "plain" / "ck.safetensors"),
                    Catch::Contains("Not a directory"));
  CHECK_THROWS_WITH(tg::check_writable(dir.path()), Catch::Contains("is a directory"));
  const auto abandoned =
      dir / ("ck.safetensors.tapegrad-tmp." + std::to_string(dead_pid()) + ".zzzzzz");
  write_bytes(abandoned, "partial");
  tg::check_writable(dir / "ck.safetensors");
  CHECK_FALSE(std::filesystem::exists(abandoned));
}
