// Per-layer yardsticks (Google Benchmark), in one binary and all on one thread: tapegrad's
// convolution kernels against oneDNN on every convolution layer of the MNIST examples (batch 64,
// float; forward, backward-data and backward-weights timed apart; oneDNN both in its own layouts
// and with the reorders from and to NCHW timed), and tapegrad's GEMM against OpenBLAS's sgemm.
// oneDNN and OpenBLAS appear here only, as yardsticks. Before timing, it checks that every side
// computes the same results, and exits nonzero if they do not.
// bench/compare_layers.sh builds and runs it and prints the ratios.
//   build/bench/bench_layers [--benchmark_filter=conv/mnist_cnn.c2]
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <oneapi/dnnl/dnnl.hpp>
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <tapegrad.hpp>

#include "../ops/kernels/conv.hpp"
#include "../ops/kernels/gemm.hpp"
#include "../ops/kernels/reduce.hpp"

namespace {

// ---- The layers: every convolution of examples/mnist/models.cpp, stride 1, batch 64 ----

constexpr std::size_t batch = 64;

struct Layer {
  const char* name;  // model.layer, as examples/mnist/models.cpp registers it
  std::size_t in_channels;
  std::size_t out_channels;
  std::size_t kernel;  // square
  std::size_t padding;
  std::size_t height;  // of the layer's input
  std::size_t width;

  std::size_t out_h() const { return height + 2 * padding - kernel + 1; }
  std::size_t out_w() const { return width + 2 * padding - kernel + 1; }
  std::size_t src_size() const { return batch * in_channels * height * width; }
  std::size_t weights_size() const { return out_channels * in_channels * kernel * kernel; }
  std::size_t dst_size() const { return batch * out_channels * out_h() * out_w(); }
  // The multiply-adds of one pass (each of the three passes does as many), times 2.
  double flops() const {
    return 2.0 * static_cast<double>(batch * out_channels * in_channels * kernel * kernel *
                                     out_h() * out_w());
  }
};

const std::array<Layer, 4> layers{{
    {"lenet5.c1", 1, 6, 5, 2, 28, 28},
    {"lenet5.c2", 6, 16, 5, 0, 14, 14},  // after c1 and a 2x2 max-pool
    {"mnist_cnn.c1", 1, 32, 3, 0, 28, 28},
    {"mnist_cnn.c2", 32, 64, 3, 0, 26, 26},
}};

// forward_relu: the forward pass with the ReLU that follows each of these layers fused into it
// (tapegrad's conv2d_relu, oneDNN's eltwise post-op).
enum class Pass { forward, forward_relu, backward_data, backward_weights };
const std::array<Pass, 4> passes{Pass::forward, Pass::forward_relu, Pass::backward_data,
                                 Pass::backward_weights};

const char* pass_name(Pass pass) {
  switch (pass) {
    case Pass::forward:
      return "forward";
    case Pass::forward_relu:
      return "forward_relu";
    case Pass::backward_data:
      return "backward_data";
    case Pass::backward_weights:
      return "backward_weights";
  }
  return "?";
}

// ---- Operands, shared by both sides ----

// 64-byte aligned floats (a cache line, an AVX-512 vector), so neither side pays for alignment.
class Buffer {
 public:
  explicit Buffer(std::size_t size) : size_(size), data_(allocate(size)) {}
  float* data() const { return data_.get(); }
  std::span<const float> span() const { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  static float* allocate(std::size_t size) {
    const std::size_t bytes = std::max<std::size_t>((size * sizeof(float) + 63) / 64 * 64, 64);
    auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  std::size_t size_;
  std::unique_ptr<float[], Free> data_;
};

Buffer random_buffer(std::size_t size, unsigned seed) {
  Buffer b(size);
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  std::generate_n(b.data(), size, [&] { return normal(gen); });
  return b;
}

// A layer's inputs to all three passes, in tapegrad's layouts (NCHW, OIHW): input x, weight w,
// bias b and output gradient dy.
struct Operands {
  explicit Operands(const Layer& l)
      : x(random_buffer(l.src_size(), 1)),
        w(random_buffer(l.weights_size(), 2)),
        b(random_buffer(l.out_channels, 3)),
        dy(random_buffer(l.dst_size(), 4)) {}
  Buffer x, w, b, dy;
};

// ---- tapegrad: the kernels ops/conv.cpp calls, without the autograd around them ----

class TapegradConv {
 public:
  TapegradConv(const Layer& l, const Operands& in)
      : layer_(l),
        g_{.channels = l.in_channels,
           .height = l.height,
           .width = l.width,
           .kernel_h = l.kernel,
           .kernel_w = l.kernel,
           .pad_h = l.padding,
           .pad_w = l.padding,
           .out_h = l.out_h(),
           .out_w = l.out_w()},
        in_(in),
        y_(l.dst_size()),
        y_relu_(l.dst_size()),
        dx_(l.src_size()),
        dw_(l.weights_size()),
        db_(l.out_channels) {}

  void run(Pass pass) {
    namespace k = tg::kernels;
    const std::size_t c_out = layer_.out_channels;
    switch (pass) {
      case Pass::forward:
        k::conv2d_forward<float>(g_, batch, c_out, in_.x.data(), in_.w.data(), in_.b.data(),
                                 y_.data());
        break;
      case Pass::forward_relu:
        k::conv2d_forward<float>(g_, batch, c_out, in_.x.data(), in_.w.data(), in_.b.data(),
                                 y_relu_.data(), k::Activation::relu);
        break;
      case Pass::backward_data:
        k::conv2d_backward_input<float>(g_, batch, c_out, in_.dy.data(), in_.w.data(), dx_.data());
        break;
      case Pass::backward_weights: {
        // With the bias gradient, as a training step takes both (ops/conv.cpp).
        k::conv2d_backward_weight<float>(g_, batch, c_out, in_.dy.data(), in_.x.data(), dw_.data(),
                                         db_.data());
        break;
      }
    }
  }
  std::span<const float> dst() const { return y_.span(); }
  std::span<const float> dst_relu() const { return y_relu_.span(); }
  std::span<const float> diff_src() const { return dx_.span(); }
  std::span<const float> diff_weights() const { return dw_.span(); }
  std::span<const float> diff_bias() const { return db_.span(); }

 private:
  Layer layer_;
  tg::kernels::ConvGeometry g_;
  const Operands& in_;
  Buffer y_, y_relu_, dx_, dw_, db_;
};

// ---- oneDNN: the strongest baseline we can set up, and as an NCHW framework runs it ----
// Every operand but the bias is declared format_tag::any, so that each primitive picks its best
// (blocked) layouts. Side `onednn` reorders the operands into them once, outside the timed loops:
// the strongest baseline, as a framework keeping every tensor in oneDNN's layouts would run it.
// Side `onednn_nchw` times each pass with the reorders around it that a framework keeping NCHW
// and OIHW tensors pays on every call, as PyTorch does: the pass's inputs into the blocked
// layouts, its output back (tapegrad reads and writes NCHW).
// The algorithm is convolution_direct, tapegrad's (and what PyTorch asks oneDNN for), so both sides
// do the multiply-adds the GFLOP/s counter counts: convolution_auto would pick Winograd
// (jit_wino_4x3) for the 3x3 layers, another algorithm with fewer of them.

using dnnl::memory;
using Args = std::unordered_map<int, memory>;

// Whether the changes between the user's layouts and oneDNN's are made once, before the timing
// (side onednn), or timed around every pass (side onednn_nchw).
enum class LayoutChanges { untimed, timed };

class OnednnConv {
 public:
  OnednnConv(const Layer& l, const Operands& in, LayoutChanges changes) {
    const auto n = static_cast<memory::dim>(batch);
    const auto c_in = static_cast<memory::dim>(l.in_channels);
    const auto c_out = static_cast<memory::dim>(l.out_channels);
    const auto k = static_cast<memory::dim>(l.kernel);
    const auto pad = static_cast<memory::dim>(l.padding);
    src_dims_ = {n, c_in, static_cast<memory::dim>(l.height), static_cast<memory::dim>(l.width)};
    weights_dims_ = {c_out, c_in, k, k};
    dst_dims_ = {n, c_out, static_cast<memory::dim>(l.out_h()),
                 static_cast<memory::dim>(l.out_w())};
    const memory::dims bias_dims{c_out};
    const memory::dims strides{1, 1}, padding{pad, pad};
    const auto any = [](const memory::dims& dims) {
      return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
    };
    const memory::desc bias_desc = plain_desc(bias_dims, memory::format_tag::x);
    const auto algo = dnnl::algorithm::convolution_direct;

    // forward_training, not inference: the pass a training step runs, and the hint the backward
    // primitives require.
    const dnnl::convolution_forward::desc fwd_desc(dnnl::prop_kind::forward_training, algo,
                                                   any(src_dims_), any(weights_dims_), bias_desc,
                                                   any(dst_dims_), strides, padding, padding);
    fwd_pd_ = dnnl::convolution_forward::primitive_desc(fwd_desc, engine_);
    dnnl::post_ops relu;
    relu.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    dnnl::primitive_attr with_relu;
    with_relu.set_post_ops(relu);
    fwd_relu_pd_ = dnnl::convolution_forward::primitive_desc(fwd_desc, with_relu, engine_);
    bwd_data_pd_ = dnnl::convolution_backward_data::primitive_desc(
        {algo, any(src_dims_), any(weights_dims_), any(dst_dims_), strides, padding, padding},
        engine_, fwd_pd_);
    bwd_weights_pd_ = dnnl::convolution_backward_weights::primitive_desc(
        {algo, any(src_dims_), any(weights_dims_), bias_desc, any(dst_dims_), strides, padding,
         padding},
        engine_, fwd_pd_);

    const memory x = user(src_dims_, memory::format_tag::nchw, in.x);
    const memory w = user(weights_dims_, memory::format_tag::oihw, in.w);
    const memory b = user(bias_dims, memory::format_tag::x, in.b);
    const memory dy = user(dst_dims_, memory::format_tag::nchw, in.dy);
    of(Pass::forward).args = {{DNNL_ARG_SRC, reordered(x, fwd_pd_.src_desc())},
                              {DNNL_ARG_WEIGHTS, reordered(w, fwd_pd_.weights_desc())},
                              {DNNL_ARG_BIAS, b},
                              {DNNL_ARG_DST, memory(fwd_pd_.dst_desc(), engine_)}};
    of(Pass::forward_relu).args = {{DNNL_ARG_SRC, reordered(x, fwd_relu_pd_.src_desc())},
                                   {DNNL_ARG_WEIGHTS, reordered(w, fwd_relu_pd_.weights_desc())},
                                   {DNNL_ARG_BIAS, b},
                                   {DNNL_ARG_DST, memory(fwd_relu_pd_.dst_desc(), engine_)}};
    of(Pass::backward_data).args = {
        {DNNL_ARG_DIFF_DST, reordered(dy, bwd_data_pd_.diff_dst_desc())},
        {DNNL_ARG_WEIGHTS, reordered(w, bwd_data_pd_.weights_desc())},
        {DNNL_ARG_DIFF_SRC, memory(bwd_data_pd_.diff_src_desc(), engine_)}};
    of(Pass::backward_weights).args = {
        {DNNL_ARG_SRC, reordered(x, bwd_weights_pd_.src_desc())},
        {DNNL_ARG_DIFF_DST, reordered(dy, bwd_weights_pd_.diff_dst_desc())},
        {DNNL_ARG_DIFF_WEIGHTS, memory(bwd_weights_pd_.diff_weights_desc(), engine_)},
        {DNNL_ARG_DIFF_BIAS, memory(bwd_weights_pd_.diff_bias_desc(), engine_)}};
    of(Pass::forward).primitive = dnnl::convolution_forward(fwd_pd_);
    of(Pass::forward_relu).primitive = dnnl::convolution_forward(fwd_relu_pd_);
    of(Pass::backward_data).primitive = dnnl::convolution_backward_data(bwd_data_pd_);
    of(Pass::backward_weights).primitive = dnnl::convolution_backward_weights(bwd_weights_pd_);
    if (changes == LayoutChanges::timed) {
      for (const Pass pass : {Pass::forward, Pass::forward_relu}) {
        add_change(pass, x, of(pass).args.at(DNNL_ARG_SRC));
        add_change(pass, w, of(pass).args.at(DNNL_ARG_WEIGHTS));
        add_output_change(pass, DNNL_ARG_DST, dst_dims_, nchw);
      }
      add_change(Pass::backward_data, dy, of(Pass::backward_data).args.at(DNNL_ARG_DIFF_DST));
      add_change(Pass::backward_data, w, of(Pass::backward_data).args.at(DNNL_ARG_WEIGHTS));
      add_output_change(Pass::backward_data, DNNL_ARG_DIFF_SRC, src_dims_, nchw);
      add_change(Pass::backward_weights, x, of(Pass::backward_weights).args.at(DNNL_ARG_SRC));
      add_change(Pass::backward_weights, dy, of(Pass::backward_weights).args.at(DNNL_ARG_DIFF_DST));
      add_output_change(Pass::backward_weights, DNNL_ARG_DIFF_WEIGHTS, weights_dims_, oihw);
    }
  }

  void run(Pass pass) {
    PassRun& run = of(pass);
    for (LayoutChange& c : run.changes.before) c.reorder.execute(stream_, c.from, c.to);
    run.primitive.execute(stream_, run.args);
    for (LayoutChange& c : run.changes.after) c.reorder.execute(stream_, c.from, c.to);
    stream_.wait();
  }

  // The implementation oneDNN picked for a pass, e.g. jit:avx512_core.
  std::string impl(Pass pass) const {
    switch (pass) {
      case Pass::forward:
        return fwd_pd_.impl_info_str();
      case Pass::forward_relu:
        return fwd_relu_pd_.impl_info_str();
      case Pass::backward_data:
        return bwd_data_pd_.impl_info_str();
      case Pass::backward_weights:
        return bwd_weights_pd_.impl_info_str();
    }
    return "?";
  }

  // The results in tapegrad's layouts, for the checks (never timed): where the timed layout
  // change left a pass's output, else read out of the primitive's own memory now.
  std::vector<float> dst() { return result(Pass::forward, DNNL_ARG_DST, dst_dims_, nchw); }
  std::vector<float> dst_relu() {
    return result(Pass::forward_relu, DNNL_ARG_DST, dst_dims_, nchw);
  }
  std::vector<float> diff_src() {
    return result(Pass::backward_data, DNNL_ARG_DIFF_SRC, src_dims_, nchw);
  }
  std::vector<float> diff_weights() {
    return result(Pass::backward_weights, DNNL_ARG_DIFF_WEIGHTS, weights_dims_, oihw);
  }
  std::vector<float> diff_bias() {
    return plain(of(Pass::backward_weights).args.at(DNNL_ARG_DIFF_BIAS), {dst_dims_[1]},
                 memory::format_tag::x);
  }

 private:
  static constexpr memory::format_tag nchw = memory::format_tag::nchw;
  static constexpr memory::format_tag oihw = memory::format_tag::oihw;

  struct LayoutChange {
    dnnl::reorder reorder;
    memory from, to;
  };
  struct LayoutChangesOfPass {
    std::vector<LayoutChange> before, after;
    std::optional<memory> output;  // the output in the user's layout, when changes are timed
  };
  // What runs a pass: its primitive, its arguments, and (when timed) the layout changes around it.
  struct PassRun {
    dnnl::primitive primitive;
    Args args;
    LayoutChangesOfPass changes;
  };
  PassRun& of(Pass pass) { return runs_[static_cast<std::size_t>(pass)]; }
  // Before `pass`, the user's operand `from` into the primitive's `to`, unless they share a
  // layout (then the pass reads the user's memory itself).
  void add_change(Pass pass, const memory& from, const memory& to) {
    if (from.get_desc() != to.get_desc()) {
      of(pass).changes.before.push_back({dnnl::reorder(from, to), from, to});
    }
  }
  // After `pass`, its output `arg` into a memory in the user's layout, unless it already is in
  // that layout (then the user reads the primitive's memory itself).
  void add_output_change(Pass pass, int arg, const memory::dims& dims, memory::format_tag tag) {
    const memory& from = of(pass).args.at(arg);
    LayoutChangesOfPass& changes = of(pass).changes;
    if (from.get_desc() == plain_desc(dims, tag)) {
      changes.output = from;
      return;
    }
    const memory to(plain_desc(dims, tag), engine_);
    changes.after.push_back({dnnl::reorder(from, to), from, to});
    changes.output = to;
  }
  std::vector<float> result(Pass pass, int arg, const memory::dims& dims, memory::format_tag tag) {
    const std::optional<memory>& output = of(pass).changes.output;
    return plain(output ? *output : of(pass).args.at(arg), dims, tag);
  }

  static memory::desc plain_desc(const memory::dims& dims, memory::format_tag tag) {
    return {dims, memory::data_type::f32, tag};
  }
  // A memory object over one of the shared operands (oneDNN only reads it).
  memory user(const memory::dims& dims, memory::format_tag tag, const Buffer& data) const {
    return {plain_desc(dims, tag), engine_, data.data()};
  }
  // `from` in the layout `desc`: itself if it already is, else a reordered copy.
  memory reordered(memory from, const memory::desc& desc) {
    if (from.get_desc() == desc) return from;
    memory to(desc, engine_);
    dnnl::reorder(from, to).execute(stream_, from, to);
    stream_.wait();
    return to;
  }
  std::vector<float> plain(memory from, const memory::dims& dims, memory::format_tag tag) {
    std::vector<float> out(plain_desc(dims, tag).get_size() / sizeof(float));
    memory to(plain_desc(dims, tag), engine_, out.data());
    dnnl::reorder(from, to).execute(stream_, from, to);
    stream_.wait();
    return out;
  }

  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{engine_};
  memory::dims src_dims_, weights_dims_, dst_dims_;
  dnnl::convolution_forward::primitive_desc fwd_pd_, fwd_relu_pd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd_;
  std::array<PassRun, std::tuple_size_v<decltype(passes)>> runs_;
};

// ---- GEMM: row-major, C = op(A)[m,k] op(B)[k,n] ----

struct GemmShape {
  std::string name;
  std::size_t m, n, k;
  bool trans_a = false, trans_b = false;
  double flops() const { return 2.0 * static_cast<double>(m * n * k); }
  // Row strides of A and B as stored.
  std::size_t lda() const { return trans_a ? m : k; }
  std::size_t ldb() const { return trans_b ? k : n; }
};

// Square sizes, then the products tapegrad runs through its GEMM in the MNIST examples at batch
// 64: the first fully connected layer's forward (X W^T), input gradient (dY W) and weight
// gradient (dY^T X) of both models (their convolutions run on the shifted-row and Winograd
// kernels).
std::vector<GemmShape> gemm_shapes() {
  std::vector<GemmShape> shapes;
  for (const std::size_t n : {256, 512, 1024}) shapes.push_back({std::to_string(n), n, n, n});
  auto add = [&](const std::string& name, std::size_t m, std::size_t n, std::size_t k, bool ta,
                 bool tb) {
    shapes.push_back({name + ":" + std::to_string(m) + "x" + std::to_string(n) + "x" +
                          std::to_string(k) + (ta ? "T" : "N") + (tb ? "T" : "N"),
                      m, n, k, ta, tb});
  };
  for (const auto& [model, in, out] :
       {std::tuple<const char*, std::size_t, std::size_t>{"lenet5.fc1", 400, 120},
        {"mnist_cnn.fc1", 9216, 128}}) {
    add(std::string(model) + ".forward", 64, out, in, false, true);
    add(std::string(model) + ".input_grad", 64, in, out, false, false);
    add(std::string(model) + ".weight_grad", out, in, 64, true, false);
  }
  return shapes;
}

struct GemmOperands {
  explicit GemmOperands(const GemmShape& s)
      : a(random_buffer(s.m * s.k, 5)), b(random_buffer(s.k * s.n, 6)), c(s.m * s.n) {}
  Buffer a, b, c;
};

void tapegrad_gemm(const GemmShape& s, GemmOperands& o) {
  using tg::kernels::Trans;
  tg::kernels::gemm(s.trans_a ? Trans::yes : Trans::no, s.trans_b ? Trans::yes : Trans::no, s.m,
                    s.n, s.k, 1.0f, o.a.data(), s.lda(), o.b.data(), s.ldb(), 0.0f, o.c.data(),
                    s.n);
}

void openblas_gemm(const GemmShape& s, GemmOperands& o) {
  const auto m = static_cast<blasint>(s.m), n = static_cast<blasint>(s.n),
             k = static_cast<blasint>(s.k);
  cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans,
              s.trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, o.a.data(),
              static_cast<blasint>(s.lda()), o.b.data(), static_cast<blasint>(s.ldb()), 0.0f,
              o.c.data(), n);
}

// ---- The benchmarks ----

benchmark::Counter gflops(double flops_per_iteration) {
  return {flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate,
          benchmark::Counter::kIs1000};
}

// `options`: what the side's constructor takes after the layer and its operands.
template <class Side, class... Options>
void time_conv(benchmark::State& state, const Layer& layer, Pass pass, Options... options) {
  const Operands in(layer);
  Side side(layer, in, options...);
  // One untimed pass first: the outputs' first-touch page faults and any lazy initialisation
  // are not what is measured (each of Google Benchmark's trials builds everything anew).
  side.run(pass);
  for (auto _ : state) {
    side.run(pass);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = gflops(layer.flops());
}

template <void (*run)(const GemmShape&, GemmOperands&)>
void time_gemm(benchmark::State& state, const GemmShape& shape) {
  GemmOperands o(shape);
  run(shape, o);  // untimed, as in time_conv
  for (auto _ : state) {
    run(shape, o);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = gflops(shape.flops());
}

void register_benchmarks() {
  // Each tapegrad benchmark right before its oneDNN (both ways) or OpenBLAS twins, so all see the
  // same machine state; the names pair them for bench/compare_layers.sh.
  for (const Layer& layer : layers) {
    for (const Pass pass : passes) {
      const std::string name = std::string("conv/") + layer.name + "/" + pass_name(pass) + "/";
      benchmark::RegisterBenchmark(
          (name + "tapegrad").c_str(),
          [layer, pass](benchmark::State& s) { time_conv<TapegradConv>(s, layer, pass); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark((name + "onednn").c_str(),
                                   [layer, pass](benchmark::State& s) {
                                     time_conv<OnednnConv>(s, layer, pass, LayoutChanges::untimed);
                                   })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark((name + "onednn_nchw").c_str(),
                                   [layer, pass](benchmark::State& s) {
                                     time_conv<OnednnConv>(s, layer, pass, LayoutChanges::timed);
                                   })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (const GemmShape& shape : gemm_shapes()) {
    const std::string name = "gemm/" + shape.name + "/";
    benchmark::RegisterBenchmark(
        (name + "tapegrad").c_str(),
        [shape](benchmark::State& s) { time_gemm<tapegrad_gemm>(s, shape); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(
        (name + "openblas").c_str(),
        [shape](benchmark::State& s) { time_gemm<openblas_gemm>(s, shape); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
}

// ---- Setup and checks ----

// One thread everywhere. tapegrad's knob is TBB's global limit; oneDNN follows its own threading
// runtime, OpenMP in Debian's build (a TBB build would follow tapegrad's limit; a sequential one
// needs nothing). Must run before any primitive is created: oneDNN picks its blocking for the
// thread count it sees then.
void set_one_thread() {
  tg::set_num_threads(1);
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  omp_set_num_threads(1);
#endif
  openblas_set_num_threads(1);
}

std::string runtime_name(unsigned runtime) {
  switch (runtime) {
    case DNNL_RUNTIME_NONE:
      return "none";
    case DNNL_RUNTIME_SEQ:
      return "sequential";
    case DNNL_RUNTIME_OMP:
      return "OpenMP";
    case DNNL_RUNTIME_TBB:
      return "TBB";
    case DNNL_RUNTIME_THREADPOOL:
      return "threadpool";
    case DNNL_RUNTIME_OCL:
      return "OpenCL";
    case DNNL_RUNTIME_SYCL:
      return "SYCL";
    default:
      return "unknown (" + std::to_string(runtime) + ")";
  }
}

// Records the versions, runtimes and picked implementations in the benchmark context (printed
// with the results, and in their JSON). Fails if the library is not the build the header said.
bool add_context() {
  const dnnl_version_t* v = dnnl_version();
  if (v->cpu_runtime != DNNL_CPU_RUNTIME) {
    std::fprintf(stderr, "oneDNN: the library runs on %s, its headers say %s\n",
                 runtime_name(v->cpu_runtime).c_str(), runtime_name(DNNL_CPU_RUNTIME).c_str());
    return false;
  }
  std::string threads = "tapegrad " + std::to_string(tg::get_num_threads());
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  threads += ", oneDNN (omp_get_max_threads) " + std::to_string(omp_get_max_threads());
#endif
  threads += ", OpenBLAS " + std::to_string(openblas_get_num_threads());
  benchmark::AddCustomContext("threads", threads);
  benchmark::AddCustomContext("onednn_version",
                              std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                                  std::to_string(v->patch) + " (" + v->hash + ")");
  benchmark::AddCustomContext("onednn_cpu_runtime", runtime_name(v->cpu_runtime));
  for (const Layer& layer : layers) {
    const Operands in(layer);
    const OnednnConv conv(layer, in, LayoutChanges::untimed);
    for (const Pass pass : passes) {
      benchmark::AddCustomContext(std::string("onednn_impl.") + layer.name + "." + pass_name(pass),
                                  conv.impl(pass));
    }
  }
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  return true;
}

// max |a - b| / max |b|, b being tapegrad's result: the error relative to the result's scale
// (an element-wise ratio would blow up on the elements that happen to be near 0).
double relative_error(std::span<const float> a, std::span<const float> b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::abs(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

constexpr double tolerance = 1e-3;

bool agree(const std::string& what, std::span<const float> other, std::span<const float> tapegrad) {
  if (other.size() != tapegrad.size()) {
    std::fprintf(stderr, "check %s: %zu elements against tapegrad's %zu\n", what.c_str(),
                 other.size(), tapegrad.size());
    return false;
  }
  const double error = relative_error(other, tapegrad);
  const bool ok = error <= tolerance;
  std::fprintf(stderr, "check %-48s max|diff|/max|tapegrad| = %.1e %s\n", what.c_str(), error,
               ok ? "ok" : "MISMATCH");
  return ok;
}

// Every side of every layer and every pass, and both GEMMs on every shape, computed once and
// compared (on stderr, so that --benchmark_format=json keeps stdout to itself).
bool check() {
  bool ok = true;
  for (const Layer& layer : layers) {
    const Operands in(layer);
    TapegradConv t(layer, in);
    for (const Pass pass : passes) t.run(pass);
    for (const LayoutChanges changes : {LayoutChanges::untimed, LayoutChanges::timed}) {
      OnednnConv d(layer, in, changes);
      for (const Pass pass : passes) d.run(pass);
      const std::string name = std::string(layer.name) +
                               (changes == LayoutChanges::timed ? " (oneDNN from NCHW) " : " ");
      ok &= agree(name + "forward", d.dst(), t.dst());
      ok &= agree(name + "forward_relu", d.dst_relu(), t.dst_relu());
      ok &= agree(name + "backward_data", d.diff_src(), t.diff_src());
      ok &= agree(name + "backward_weights", d.diff_weights(), t.diff_weights());
      ok &= agree(name + "backward_weights bias", d.diff_bias(), t.diff_bias());
    }
  }
  for (const GemmShape& shape : gemm_shapes()) {
    GemmOperands t(shape), o(shape);
    tapegrad_gemm(shape, t);
    openblas_gemm(shape, o);
    ok &= agree("gemm " + shape.name, o.c.span(), t.c.span());
  }
  return ok;
}

int run(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  set_one_thread();
  if (!add_context()) return 1;
  if (!check()) {
    std::fprintf(stderr, "tapegrad and oneDNN/OpenBLAS disagree: not timing\n");
    return 1;
  }
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // dnnl::error among them
    std::fprintf(stderr, "bench_layers: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "bench_layers: unknown exception\n");
  }
  return 1;
}
