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
#include <optional>
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
constexpr std::size_t kMinCases = 562;
constexpr std::size_t kMinCasesPerOp = 8;
// Every differentiable op of ops/, but dropout (a random mask) and the backward maps such as
// conv2d_input_grad (whose values the gradients here check, though not their own gradients).
const std::set<std::string> kOps = {"conv2d",
                                    "max_pool2d",
                                    "avg_pool2d",
                                    "linear",
                                    "matmul",
                                    "relu",
                                    "leaky_relu",
                                    "sigmoid",
                                    "tanh",
                                    "softmax",
                                    "log_softmax",
                                    "add",
                                    "sub",
                                    "mul",
                                    "div",
                                    "neg",
                                    "exp",
                                    "log",
                                    "pow",
                                    "sum",
                                    "mean",
                                    "reshape",
                                    "flatten",
                                    "transpose",
                                    "expand",
                                    "sum_to",
                                    "nll_loss",
                                    "cross_entropy",
                                    "mse_loss",
                                    "conv2d_relu",
                                    "conv2d_relu_max_pool2d",
                                    "batch_norm",
                                    "layer_norm",
                                    "adaptive_avg_pool2d",
                                    "abs",
                                    "sqrt",
                                    "clamp",
                                    "where",
                                    "gelu",
                                    "silu",
                                    "elu",
                                    "softplus",
                                    "binary_cross_entropy_with_logits",
                                    "smooth_l1_loss",
                                    "cat",
                                    "stack",
                                    "split",
                                    "chunk",
                                    "narrow",
                                    "slice",
                                    "select",
                                    "index_select",
                                    "squeeze",
                                    "unsqueeze",
                                    "permute",
                                    "max",
                                    "min"};

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

  bool has(const std::string& key) const { return options.count(key) == 1; }

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

std::int64_t integer(const Case& c, const std::string& key) { return std::stoll(c.option(key)); }

// Written by Python's repr(float): the shortest text that reads back as the same double.
double number(const Case& c, const std::string& key) { return std::stod(c.option(key)); }

tg::Shape shape(const Case& c, const std::string& key) {
  tg::Shape result;
  for (const std::int64_t size : ints(c.option(key))) {
    if (size < 0) bad_fixtures(c.line + ": " + key + " has a negative size");
    result.push_back(static_cast<std::size_t>(size));
  }
  return result;
}

tg::Reduction reduction(const Case& c) {
  const std::string& name = c.option("reduction");
  if (name == "mean") return tg::Reduction::mean;
  if (name == "sum") return tg::Reduction::sum;
  if (name == "none") return tg::Reduction::none;
  bad_fixtures(c.line + ": unknown reduction \"" + name + "\"");
}

std::vector<std::size_t> dims(const tg::Shape& shape) { return {shape.begin(), shape.end()}; }

std::vector<std::int64_t> sizes(const Tensor& t) { return {t.shape().begin(), t.shape().end()}; }

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
  // An empty array is close once the shapes agree (xtensor's allclose would step a null pointer).
  const bool close = got.size() == 0 || bool(xt::allclose(got, expected, kRtol, kAtol));
  INFO("max |tapegrad - torch| = "
       << (got.size() == 0 ? 0.0 : double(xt::amax(xt::abs(got - expected))())));
  CHECK(close);
}

// The leaf `name`; the manifest names the shape it covers under `key`: make sure it is that.
Tensor leaf(const Case& c, Fixture& f, const std::string& name, const std::string& key) {
  Tensor t = f.leaf(name);
  REQUIRE(sizes(t) == ints(c.option(key)));
  return t;
}

// The one input of an elementwise, reduction or shape op, of the manifest's shape=.
Tensor input(const Case& c, Fixture& f) { return leaf(c, f, "input", "shape"); }

// conv2d, conv2d_relu and conv2d_relu_max_pool2d.
Tensor run_conv2d(const Case& c, Fixture& f) {
  Tensor x = f.leaf("input");
  Tensor w = f.leaf("weight");
  Tensor b = flag(c, "bias") ? f.leaf("bias") : Tensor{};
  REQUIRE(f.has("bias") == flag(c, "bias"));
  // Without groups= the case checks the default (1).
  const tg::Conv2dOptions options{.stride = size2(c, "stride"),
                                  .padding = size2(c, "padding"),
                                  .dilation = size2(c, "dilation"),
                                  .groups = c.has("groups") ? integer(c, "groups") : 1};
  if (c.op == "conv2d") return tg::conv2d(x, w, b, options);
  if (c.op == "conv2d_relu") return tg::conv2d_relu(x, w, b, options);
  return tg::conv2d_relu_max_pool2d(x, w, b, options,
                                    {.kernel = size2(c, "pool_kernel"),
                                     .stride = size2(c, "pool_stride"),
                                     .padding = size2(c, "pool_padding")});
}

// With dilation= (and ceil_mode=) the case also holds the indices PyTorch's return_indices gives.
Tensor run_max_pool2d(const Case& c, Fixture& f) {
  Tensor x = f.leaf("input");
  tg::MaxPool2dOptions options{
      .kernel = size2(c, "kernel"), .stride = size2(c, "stride"), .padding = size2(c, "padding")};
  if (!c.has("dilation")) return tg::max_pool2d(x, options);
  options.dilation = size2(c, "dilation");
  options.ceil_mode = flag(c, "ceil_mode");
  auto [values, indices] = tg::max_pool2d_with_indices(x, options);
  const xt::xarray<std::int64_t> expected = f.array<std::int64_t>("indices");
  REQUIRE(dims(indices.shape()) == dims(expected.shape()));
  CHECK(bool(xt::all(xt::equal(indices.value<std::int64_t>(), expected))));
  return values;
}

Tensor run_avg_pool2d(const Case& c, Fixture& f) {
  Tensor x = f.leaf("input");
  tg::AvgPool2dOptions options{.kernel = size2(c, "kernel"),
                               .padding = size2(c, "padding"),
                               .count_include_pad = flag(c, "count_include_pad")};
  // Without stride= the case checks the default (the kernel size).
  if (c.has("stride")) options.stride = size2(c, "stride");
  return tg::avg_pool2d(x, options);
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
  return tg::log_softmax(f.leaf("input"), integer(c, "dim"));
}

Tensor run_softmax(const Case& c, Fixture& f) {
  return tg::softmax(f.leaf("input"), integer(c, "dim"));
}

Tensor run_leaky_relu(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  // Without negative_slope= the case checks the default (PyTorch's is 0.01).
  return c.has("negative_slope") ? tg::leaky_relu(x, number(c, "negative_slope"))
                                 : tg::leaky_relu(x);
}

Tensor run_reduction(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  const bool is_sum = c.op == "sum";
  // Without dims= the case checks the overload that reduces every element.
  if (!c.has("dims")) return is_sum ? tg::sum(x) : tg::mean(x);
  const auto reduced = ints(c.option("dims"));
  // An empty list means every dim to tapegrad; PyTorch 1.13 reads it so too, but deprecated.
  if (reduced.empty()) bad_fixtures(c.line + ": dims= is empty");
  const bool keepdim = flag(c, "keepdim");
  return is_sum ? tg::sum(x, reduced, keepdim) : tg::mean(x, reduced, keepdim);
}

Tensor run_flatten(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  // Without start_dim= the case checks the defaults (0, -1).
  if (!c.has("start_dim")) return tg::flatten(x);
  return tg::flatten(x, integer(c, "start_dim"), integer(c, "end_dim"));
}

Tensor run_cross_entropy(const Case& c, Fixture& f) {
  Tensor logits = f.leaf("logits");
  // Without label_smoothing= the case checks the overload taking a Reduction.
  if (!c.has("label_smoothing")) return tg::cross_entropy(logits, f.labels(), reduction(c));
  return tg::cross_entropy(
      logits, f.labels(),
      {.reduction = reduction(c), .label_smoothing = number(c, "label_smoothing")});
}

// An array without a gradient (a mask, a loss's weight), if the case has it (undefined if not).
Tensor constant(const Fixture& f, const std::string& name, bool present) {
  REQUIRE(f.has(name) == present);
  return present ? tg::tensor(f.array(name)) : Tensor{};
}

Tensor run_clamp(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  const auto bound = [&c](const std::string& key) {
    return c.has(key) ? std::optional<double>(number(c, key)) : std::nullopt;
  };
  return tg::clamp(x, bound("lo"), bound("hi"));
}

Tensor run_where(const Case& c, Fixture& f) {
  Tensor mask = constant(f, "mask", true);
  REQUIRE(sizes(mask) == ints(c.option("mask")));
  return tg::where(mask, leaf(c, f, "a", "a"), leaf(c, f, "b", "b"));
}

Tensor run_gelu(const Case& c, Fixture& f) {
  const std::string& approximate = c.option("approximate");
  if (approximate != "none" && approximate != "tanh") {
    bad_fixtures(c.line + ": unknown approximate \"" + approximate + "\"");
  }
  return tg::gelu(input(c, f),
                  approximate == "tanh" ? tg::GeluApproximate::tanh : tg::GeluApproximate::none);
}

// Without alpha= (elu) or beta= and threshold= (softplus) the case checks the defaults.
Tensor run_elu(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  return c.has("alpha") ? tg::elu(x, number(c, "alpha")) : tg::elu(x);
}

Tensor run_softplus(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  if (!c.has("beta")) return tg::softplus(x);
  return tg::softplus(x, number(c, "beta"), number(c, "threshold"));
}

Tensor run_binary_cross_entropy_with_logits(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  Tensor target = leaf(c, f, "target", "shape");
  const tg::BinaryCrossEntropyWithLogitsOptions options{
      .weight = constant(f, "weight", flag(c, "weight")),
      .pos_weight = constant(f, "pos_weight", flag(c, "pos_weight")),
      .reduction = reduction(c)};
  return tg::binary_cross_entropy_with_logits(x, target, options);
}

Tensor run_smooth_l1_loss(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  Tensor target = leaf(c, f, "target", "shape");
  tg::SmoothL1LossOptions options{.reduction = reduction(c)};
  if (c.has("beta")) options.beta = number(c, "beta");
  return tg::smooth_l1_loss(x, target, options);
}

Tensor run_nll_loss(const Case& c, Fixture& f) {
  Tensor log_probs = f.leaf("log_probs");
  return tg::nll_loss(log_probs, f.labels(), reduction(c));
}

Tensor run_mse_loss(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  Tensor target = leaf(c, f, "target", "shape");
  return tg::mse_loss(x, target, reduction(c));
}

// The manifest names the shapes (a broadcast, a matrix product) it covers under a= and b=.
Tensor run_binary(const Case& c, Fixture& f) {
  Tensor a = leaf(c, f, "a", "a");
  Tensor b = leaf(c, f, "b", "b");
  if (c.op == "add") return tg::add(a, b);
  if (c.op == "sub") return tg::sub(a, b);
  if (c.op == "mul") return tg::mul(a, b);
  if (c.op == "div") return tg::div(a, b);
  return tg::matmul(a, b);
}

// The running estimates are checked here, after the forward pass that updates them.
Tensor run_batch_norm(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  Tensor w = flag(c, "weight") ? f.leaf("weight") : Tensor{};
  Tensor b = flag(c, "bias") ? f.leaf("bias") : Tensor{};
  const bool running = flag(c, "running");
  REQUIRE(f.has("running_mean") == running);
  Tensor running_mean = running ? tg::tensor(f.array("running_mean")) : Tensor{};
  Tensor running_var = running ? tg::tensor(f.array("running_var")) : Tensor{};
  Tensor y = tg::batch_norm(x, running_mean, running_var, w, b,
                            {.training = flag(c, "training"),
                             .momentum = number(c, "momentum"),
                             .eps = number(c, "eps")});
  if (running) {
    check_close(f, "running_mean_after", running_mean);
    check_close(f, "running_var_after", running_var);
  }
  return y;
}

Tensor run_layer_norm(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  const bool affine = flag(c, "affine");
  Tensor w = affine ? f.leaf("weight") : Tensor{};
  Tensor b = affine ? f.leaf("bias") : Tensor{};
  return tg::layer_norm(x, ints(c.option("normalized_shape")), w, b, {.eps = number(c, "eps")});
}

// cat and stack: count= inputs named input0, input1, ... (cat's manifest lists their shapes,
// separated by ';', under shapes=).
Tensor run_cat_stack(const Case& c, Fixture& f) {
  std::vector<Tensor> inputs;
  std::vector<std::string> shapes;
  if (c.op == "cat") {
    std::istringstream text(c.option("shapes"));
    for (std::string item; std::getline(text, item, ';');) shapes.push_back(item);
  }
  for (std::int64_t k = 0; k < integer(c, "count"); ++k) {
    Tensor t = f.leaf("input" + std::to_string(k));
    const std::string expected =
        c.op == "cat" ? shapes.at(static_cast<std::size_t>(k)) : c.option("shape");
    REQUIRE(sizes(t) == ints(expected));
    inputs.push_back(t);
  }
  const std::int64_t dim = integer(c, "dim");
  return c.op == "cat" ? tg::cat(inputs, dim) : tg::stack(inputs, dim);
}

// split and chunk give several pieces; the fixture holds them joined back along dim, piece k
// times k + 1 (make_fixtures.py's joined_pieces), so that each piece's gradient differs.
Tensor run_split_chunk(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  const std::int64_t dim = integer(c, "dim");
  std::vector<Tensor> pieces;
  if (c.op == "chunk") {
    pieces = tg::chunk(x, integer(c, "chunks"), dim);
  } else if (c.has("size")) {
    pieces = tg::split(x, integer(c, "size"), dim);
  } else {
    pieces = tg::split(x, ints(c.option("sizes")), dim);
  }
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    pieces[k] = tg::mul(pieces[k], static_cast<double>(k + 1));
  }
  return tg::cat(pieces, dim);
}

// The i64 array `indices` of the case, exactly.
void check_same_indices(const Fixture& f, const Tensor& indices) {
  INFO("array indices (" << f.file("indices") << ")");
  const xt::xarray<std::int64_t> expected = f.array<std::int64_t>("indices");
  REQUIRE(indices.dtype() == tg::i64);
  REQUIRE(dims(indices.shape()) == dims(expected.shape()));
  CHECK(
      (expected.size() == 0 || bool(xt::all(xt::equal(indices.value<std::int64_t>(), expected)))));
}

Tensor run_index_select(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  return tg::index_select(x, integer(c, "dim"), tg::tensor(f.array<std::int64_t>("indices")));
}

Tensor run_slice(const Case& c, Fixture& f) {
  return tg::slice(input(c, f), integer(c, "dim"), integer(c, "start"), integer(c, "end"),
                   integer(c, "step"));
}

Tensor run_squeeze(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  // Without dim= the case checks the overload that removes every size-1 dim.
  return c.has("dim") ? tg::squeeze(x, integer(c, "dim")) : tg::squeeze(x);
}

// Without dim= the case checks the overloads over all elements; with it, the indices too.
Tensor run_max_min(const Case& c, Fixture& f) {
  Tensor x = input(c, f);
  const bool is_max = c.op == "max";
  if (!c.has("dim")) return is_max ? tg::max(x) : tg::min(x);
  const std::int64_t dim = integer(c, "dim");
  const bool keepdim = flag(c, "keepdim");
  auto [values, indices] = is_max ? tg::max(x, dim, keepdim) : tg::min(x, dim, keepdim);
  check_same_indices(f, indices);
  return values;
}

Tensor run(const Case& c, Fixture& f) {
  if (c.op == "batch_norm") return run_batch_norm(c, f);
  if (c.op == "layer_norm") return run_layer_norm(c, f);
  if (c.op.starts_with("conv2d")) return run_conv2d(c, f);
  if (c.op == "max_pool2d") return run_max_pool2d(c, f);
  if (c.op == "adaptive_avg_pool2d") {
    return tg::adaptive_avg_pool2d(input(c, f), size2(c, "output_size"));
  }
  if (c.op == "avg_pool2d") return run_avg_pool2d(c, f);
  if (c.op == "linear") return run_linear(c, f);
  if (c.op == "relu") return tg::relu(input(c, f));
  if (c.op == "leaky_relu") return run_leaky_relu(c, f);
  if (c.op == "sigmoid") return tg::sigmoid(input(c, f));
  if (c.op == "tanh") return tg::tanh(input(c, f));
  if (c.op == "softmax") return run_softmax(c, f);
  if (c.op == "log_softmax") return run_log_softmax(c, f);
  if (c.op == "neg") return tg::neg(input(c, f));
  if (c.op == "exp") return tg::exp(input(c, f));
  if (c.op == "log") return tg::log(input(c, f));
  if (c.op == "pow") return tg::pow(input(c, f), number(c, "exponent"));
  if (c.op == "sum" || c.op == "mean") return run_reduction(c, f);
  if (c.op == "reshape") return tg::reshape(input(c, f), ints(c.option("target")));
  if (c.op == "flatten") return run_flatten(c, f);
  if (c.op == "transpose") {
    return tg::transpose(input(c, f), integer(c, "dim0"), integer(c, "dim1"));
  }
  if (c.op == "expand") return tg::expand(input(c, f), shape(c, "target"));
  if (c.op == "sum_to") return tg::sum_to(input(c, f), shape(c, "target"));
  if (c.op == "cross_entropy") return run_cross_entropy(c, f);
  if (c.op == "nll_loss") return run_nll_loss(c, f);
  if (c.op == "mse_loss") return run_mse_loss(c, f);
  if (c.op == "abs") return tg::abs(input(c, f));
  if (c.op == "sqrt") return tg::sqrt(input(c, f));
  if (c.op == "clamp") return run_clamp(c, f);
  if (c.op == "where") return run_where(c, f);
  if (c.op == "gelu") return run_gelu(c, f);
  if (c.op == "silu") return tg::silu(input(c, f));
  if (c.op == "elu") return run_elu(c, f);
  if (c.op == "softplus") return run_softplus(c, f);
  if (c.op == "binary_cross_entropy_with_logits") return run_binary_cross_entropy_with_logits(c, f);
  if (c.op == "smooth_l1_loss") return run_smooth_l1_loss(c, f);
  if (c.op == "cat" || c.op == "stack") return run_cat_stack(c, f);
  if (c.op == "split" || c.op == "chunk") return run_split_chunk(c, f);
  if (c.op == "narrow") {
    return tg::narrow(input(c, f), integer(c, "dim"), integer(c, "start"), integer(c, "length"));
  }
  if (c.op == "slice") return run_slice(c, f);
  if (c.op == "select") return tg::select(input(c, f), integer(c, "dim"), integer(c, "index"));
  if (c.op == "index_select") return run_index_select(c, f);
  if (c.op == "squeeze") return run_squeeze(c, f);
  if (c.op == "unsqueeze") return tg::unsqueeze(input(c, f), integer(c, "dim"));
  if (c.op == "permute") return tg::permute(input(c, f), ints(c.option("dims")));
  if (c.op == "max" || c.op == "min") return run_max_min(c, f);
  if (c.op == "add" || c.op == "sub" || c.op == "mul" || c.op == "div" || c.op == "matmul") {
    return run_binary(c, f);
  }
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
