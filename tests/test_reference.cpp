// Agreement with PyTorch: the forward value and every input gradient of each op, against
// fixtures computed by torch in float64 (tests/reference/make_fixtures.py; the .npy files are
// committed, so this test needs no Python). Each case of fixtures/manifest.txt is a line
// "op index key=value ...", its arrays are fixtures/<op>_<index>_<name>.npy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnpy.hpp>

namespace {

namespace fs = std::filesystem;
using tg::Tensor;

// Fewer cases than this means a truncated or missing manifest: the test must not pass vacuously.
constexpr std::size_t kMinCases = 50;
constexpr std::size_t kMinCasesPerOp = 8;
const std::set<std::string> kOps = {
    "conv2d", "max_pool2d", "linear", "log_softmax", "cross_entropy", "add", "sub", "mul", "div"};

// torch and tapegrad sum in different orders: agreement to a few ulps, not bitwise.
constexpr double kRtol = 1e-9;
constexpr double kAtol = 1e-12;

fs::path fixture_dir() { return fs::path(TG_FIXTURE_DIR); }

// A broken fixture set (not a disagreement with torch): fails the case that meets it.
[[noreturn]] void bad_fixtures(const std::string& message) {
  throw std::runtime_error("reference fixtures: " + message);
}

struct Case {
  std::string op;
  int index = -1;
  std::map<std::string, std::string> options;
  std::string line;

  std::string name() const { return op + " #" + std::to_string(index); }

  const std::string& option(const std::string& key) const {
    const auto it = options.find(key);
    if (it == options.end()) bad_fixtures("manifest line \"" + line + "\" has no " + key + "=");
    return it->second;
  }
};

std::vector<Case> read_manifest() {
  std::ifstream in(fixture_dir() / "manifest.txt");
  std::vector<Case> cases;
  if (!in) return cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    std::istringstream words(line);
    Case c;
    c.line = line;
    words >> c.op >> c.index;
    if (!words) bad_fixtures("malformed manifest line \"" + line + "\"");
    std::string word;
    while (words >> word) {
      const auto eq = word.find('=');
      if (eq == std::string::npos) bad_fixtures("malformed option \"" + word + "\" in: " + line);
      c.options[word.substr(0, eq)] = word.substr(eq + 1);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

// "2,1" -> {2, 1}; "" -> {} (the shape of a 0-D tensor).
std::vector<std::int64_t> ints(const std::string& text) {
  std::vector<std::int64_t> values;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) values.push_back(std::stoll(item));
  return values;
}

tg::Size2 size2(const Case& c, const std::string& key) {
  const auto v = ints(c.option(key));
  if (v.size() != 2) bad_fixtures(c.line + ": " + key + " needs two values");
  return {v[0], v[1]};
}

bool flag(const Case& c, const std::string& key) { return c.option(key) == "1"; }

std::vector<std::size_t> dims(const tg::Shape& shape) { return {shape.begin(), shape.end()}; }

// The arrays of one case.
class Fixture {
 public:
  explicit Fixture(const Case& c) : case_(c) {}

  std::string file(const std::string& name) const {
    return case_.op + "_" + std::to_string(case_.index) + "_" + name + ".npy";
  }
  bool has(const std::string& name) const { return fs::exists(fixture_dir() / file(name)); }

  template <class T = double>
  xt::xarray<T> array(const std::string& name) const {
    const fs::path path = fixture_dir() / file(name);
    if (!fs::exists(path)) bad_fixtures(case_.name() + ": missing " + path.string());
    return xt::load_npy<T>(path.string());
  }

  // An input that requires grad: its gradient is compared with "grad_<name>".
  Tensor leaf(const std::string& name) {
    Tensor t = tg::tensor(array(name), true);
    leaves_.emplace_back(name, t);
    return t;
  }
  Tensor labels() const { return tg::tensor(array<std::int64_t>("labels")); }

  const std::vector<std::pair<std::string, Tensor>>& leaves() const { return leaves_; }

 private:
  const Case& case_;
  std::vector<std::pair<std::string, Tensor>> leaves_;
};

void check_close(const Fixture& fixture, const std::string& name, const Tensor& actual) {
  INFO("array " << name << " (" << fixture.file(name) << ")");
  REQUIRE(actual.defined());
  REQUIRE(actual.dtype() == tg::f64);
  const xt::xarray<double> expected = fixture.array(name);
  const xt::xarray<double>& got = actual.value<double>();
  INFO("tapegrad shape " << tg::to_string(got.shape()) << ", torch shape "
                         << tg::to_string(expected.shape()));
  // Shapes first: allclose would broadcast [1] against [] and call them equal.
  REQUIRE(dims(got.shape()) == dims(expected.shape()));
  const bool close = bool(xt::allclose(got, expected, kRtol, kAtol));
  INFO("max |tapegrad - torch| = "
       << (got.size() == 0 ? 0.0 : double(xt::amax(xt::abs(got - expected))())));
  CHECK(close);
}

Tensor run_conv2d(const Case& c, Fixture& f) {
  Tensor x = f.leaf("input");
  Tensor w = f.leaf("weight");
  Tensor b = flag(c, "bias") ? f.leaf("bias") : Tensor{};
  REQUIRE(f.has("bias") == flag(c, "bias"));
  return tg::conv2d(x, w, b,
                    {.stride = size2(c, "stride"),
                     .padding = size2(c, "padding"),
                     .dilation = size2(c, "dilation")});
}

Tensor run_max_pool2d(const Case& c, Fixture& f) {
  Tensor x = f.leaf("input");
  return tg::max_pool2d(
      x,
      {.kernel = size2(c, "kernel"), .stride = size2(c, "stride"), .padding = size2(c, "padding")});
}

Tensor run_linear(const Case& c, Fixture& f) {
  Tensor x = f.leaf("input");
  Tensor w = f.leaf("weight");
  Tensor b = flag(c, "bias") ? f.leaf("bias") : Tensor{};
  REQUIRE(f.has("bias") == flag(c, "bias"));
  REQUIRE(x.dim() == static_cast<std::size_t>(std::stoll(c.option("rank"))));
  return tg::linear(x, w, b);
}

Tensor run_log_softmax(const Case& c, Fixture& f) {
  return tg::log_softmax(f.leaf("input"), std::stoll(c.option("dim")));
}

Tensor run_cross_entropy(const Case& c, Fixture& f) {
  const std::string& reduction = c.option("reduction");
  REQUIRE((reduction == "mean" || reduction == "sum"));
  Tensor logits = f.leaf("logits");
  return tg::cross_entropy(logits, f.labels(),
                           reduction == "mean" ? tg::Reduction::mean : tg::Reduction::sum);
}

Tensor run_arithmetic(const Case& c, Fixture& f) {
  Tensor a = f.leaf("a");
  Tensor b = f.leaf("b");
  // The manifest names the broadcast it covers: make sure the arrays are those shapes.
  const auto shape_of = [](const Tensor& t) {
    return std::vector<std::int64_t>(t.shape().begin(), t.shape().end());
  };
  REQUIRE(shape_of(a) == ints(c.option("a")));
  REQUIRE(shape_of(b) == ints(c.option("b")));
  if (c.op == "add") return tg::add(a, b);
  if (c.op == "sub") return tg::sub(a, b);
  if (c.op == "mul") return tg::mul(a, b);
  return tg::div(a, b);
}

Tensor run(const Case& c, Fixture& f) {
  if (c.op == "conv2d") return run_conv2d(c, f);
  if (c.op == "max_pool2d") return run_max_pool2d(c, f);
  if (c.op == "linear") return run_linear(c, f);
  if (c.op == "log_softmax") return run_log_softmax(c, f);
  if (c.op == "cross_entropy") return run_cross_entropy(c, f);
  if (c.op == "add" || c.op == "sub" || c.op == "mul" || c.op == "div") return run_arithmetic(c, f);
  bad_fixtures("unknown op in manifest: " + c.line);
}

void check_case(const Case& c) {
  Fixture f(c);
  Tensor out = run(c, f);
  check_close(f, "output", out);
  out.backward(tg::tensor(f.array("grad_output")));
  for (const auto& [name, input] : f.leaves()) check_close(f, "grad_" + name, input.grad());
}

}  // namespace

TEST_CASE("the reference fixtures are present and cover every op", "[reference]") {
  INFO("fixture directory "
       << fixture_dir().string()
       << ": regenerate with /usr/bin/python3 tests/reference/make_fixtures.py");
  REQUIRE(fs::is_directory(fixture_dir()));
  REQUIRE_FALSE(fs::is_empty(fixture_dir()));
  const auto cases = read_manifest();
  REQUIRE(cases.size() >= kMinCases);
  std::map<std::string, std::size_t> count;
  for (const auto& c : cases) {
    INFO(c.line);
    CHECK(kOps.count(c.op) == 1);
    ++count[c.op];
  }
  for (const auto& op : kOps) {
    INFO(op);
    CHECK(count[op] >= kMinCasesPerOp);
  }
}

TEST_CASE("forward values and gradients agree with PyTorch to 1e-9", "[reference]") {
  const auto cases = read_manifest();
  INFO("manifest " << (fixture_dir() / "manifest.txt").string());
  REQUIRE(cases.size() >= kMinCases);
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name()) {
      INFO("case: " << c.line);
      check_case(c);
    }
  }
}
