// Random op calls: the input is a program of up to 8 ops on tensors of random shapes, dtypes and
// options (out-of-range dims, negative or huge sizes, zero-sized dims, wrong dtypes, labels out
// of range), each followed by a backward when it recorded one. Every call returns or throws
// tg::Error; anything else (a crash, another exception, a sanitizer report) is a finding. The
// memory guard is set to 8 MiB: a huge request must be refused by it, not attempted (and a
// program of ops on arrays near the limit stays within the fuzzer's 10 s under the sanitizers).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <utility>
#include <vector>

#include <tapegrad.hpp>

namespace {

using tg::Tensor;

// Sizes the provider picks: mostly small, sometimes zero, now and then huge or negative.
std::int64_t size(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 15)) {
    case 0:
      return 0;
    case 1:
      return in.ConsumeIntegral<std::int64_t>();
    case 2:
      return std::int64_t{1} << in.ConsumeIntegralInRange(16, 62);
    default:
      return in.ConsumeIntegralInRange<std::int64_t>(1, 6);
  }
}

tg::Shape shape(FuzzedDataProvider& in) {
  tg::Shape dims(in.ConsumeIntegralInRange<std::size_t>(0, 5));
  for (auto& d : dims) d = static_cast<std::size_t>(in.ConsumeIntegralInRange(0, 6));
  return dims;
}

Tensor operand(FuzzedDataProvider& in) {
  const tg::DType dtypes[] = {tg::DType::f32, tg::DType::f64, tg::DType::i64};
  const tg::DType dtype = dtypes[in.ConsumeIntegralInRange(0, 5) % 3 == 2 ? 2 : in.ConsumeBool()];
  const tg::Shape dims = shape(in);
  if (dtype == tg::DType::i64) {  // labels, in range or not
    xt::xarray<std::int64_t> labels = xt::xarray<std::int64_t>::from_shape(dims);
    for (auto& label : labels) label = in.ConsumeIntegralInRange<std::int64_t>(-2, 8);
    return tg::tensor(std::move(labels));
  }
  Tensor t = tg::randn(dims, {.dtype = dtype});
  if (in.ConsumeBool()) t.set_requires_grad(true);
  return t;
}

std::vector<std::int64_t> dims(FuzzedDataProvider& in) {
  std::vector<std::int64_t> result(in.ConsumeIntegralInRange<std::size_t>(0, 4));
  for (auto& d : result) d = in.ConsumeBool() ? in.ConsumeIntegralInRange(-6, 6) : size(in);
  return result;
}

tg::Size2 size2(FuzzedDataProvider& in) { return {size(in), size(in)}; }

std::vector<Tensor> tensors(FuzzedDataProvider& in, const Tensor& a, const Tensor& b,
                            const Tensor& c) {
  std::vector<Tensor> list{a, b, c};
  list.resize(in.ConsumeIntegralInRange<std::size_t>(0, 3));
  return list;
}

// The first piece, if there is one.
Tensor first(const std::vector<Tensor>& pieces) { return pieces.empty() ? Tensor{} : pieces[0]; }

// The ops of the models issue: normalisation, pooling options, joining, indexing, selection.
Tensor call_more(FuzzedDataProvider& in, const Tensor& a, const Tensor& b, const Tensor& c) {
  switch (in.ConsumeIntegralInRange(0, 21)) {
    case 0:
      return tg::batch_norm(a, b.detach(), c.detach(), b, c,
                            {.training = in.ConsumeBool(),
                             .momentum = in.ConsumeFloatingPoint<double>(),
                             .eps = in.ConsumeFloatingPoint<double>()});
    case 1:
      return tg::layer_norm(a, dims(in), b, c, {.eps = in.ConsumeFloatingPoint<double>()});
    case 2:
      return tg::conv2d(a, b, c, {.padding = size2(in), .groups = size(in)});
    case 3:
      return tg::max_pool2d(a, {.kernel = size2(in),
                                .stride = size2(in),
                                .padding = size2(in),
                                .dilation = size2(in),
                                .ceil_mode = in.ConsumeBool()});
    case 4:
      return tg::adaptive_avg_pool2d(a, size2(in));
    case 5:
      return tg::cat(tensors(in, a, b, c), size(in));
    case 6:
      return tg::stack(tensors(in, a, b, c), size(in));
    case 7:
      return first(tg::split(a, size(in), size(in)));
    case 8:
      return first(tg::chunk(a, size(in), size(in)));
    case 9:
      return tg::narrow(a, size(in), size(in), size(in));
    case 10:
      return tg::slice(a, size(in), size(in), size(in), size(in));
    case 11:
      return tg::select(a, size(in), size(in));
    case 12:
      return tg::index_select(a, size(in), b);
    case 13:
      return tg::permute(tg::unsqueeze(tg::squeeze(a), size(in)), dims(in));
    case 14:
      return tg::max(a, size(in), in.ConsumeBool()).values;
    case 15:
      return tg::min(a);
    case 16:
      return tg::clamp(a, in.ConsumeFloatingPoint<double>(), in.ConsumeFloatingPoint<double>());
    case 17:
      return tg::where(tg::gt(a, b), b, c);
    case 18:
      return tg::softplus(tg::elu(tg::gelu(tg::silu(a)), in.ConsumeFloatingPoint<double>()),
                          in.ConsumeFloatingPoint<double>(), in.ConsumeFloatingPoint<double>());
    case 19:
      return tg::binary_cross_entropy_with_logits(a, b, {.weight = c});
    case 20:
      return tg::smooth_l1_loss(tg::sqrt(tg::abs(a)), b,
                                {.beta = in.ConsumeFloatingPoint<double>()});
    default:
      return tg::cross_entropy(a, b, {.label_smoothing = in.ConsumeFloatingPoint<double>()});
  }
}

Tensor call(FuzzedDataProvider& in, const Tensor& a, const Tensor& b, const Tensor& c) {
  switch (in.ConsumeIntegralInRange(0, 25)) {
    case 0:
      return tg::conv2d(a, b, c,
                        {.stride = size2(in), .padding = size2(in), .dilation = size2(in)});
    case 1:
      return tg::conv2d_relu(a, b, c, {.stride = size2(in), .padding = size2(in)});
    case 2:
      return tg::conv2d_relu_max_pool2d(a, b, c, {.padding = size2(in)}, {.kernel = size2(in)});
    case 3:
      return tg::max_pool2d(a, {.kernel = size2(in), .stride = size(in), .padding = size2(in)});
    case 4:
      return tg::avg_pool2d(
          a, {.kernel = size2(in), .padding = size2(in), .count_include_pad = in.ConsumeBool()});
    case 5:
      return tg::linear(a, b, c);
    case 6:
      return tg::matmul(a, b);
    case 7:
      return tg::reshape(a, dims(in));
    case 8: {
      tg::Shape to;
      for (std::int64_t d : dims(in)) to.push_back(static_cast<std::size_t>(d));
      return tg::expand(a, to);
    }
    case 9:
      return tg::transpose(a, size(in), size(in));
    case 10:
      return tg::sum(a, dims(in), in.ConsumeBool());
    case 11:
      return tg::mean(a, dims(in), in.ConsumeBool());
    case 12:
      return tg::softmax(a, size(in));
    case 13:
      return tg::log_softmax(a, size(in));
    case 14:
      return tg::cross_entropy(a, b);
    case 15:
      return tg::nll_loss(a, b);
    case 16:
      return tg::mse_loss(a, b);
    case 17:
      return tg::flatten(a, size(in), size(in));
    case 18:
      return tg::argmax(a, size(in), in.ConsumeBool());
    case 19:
      return tg::dropout(a, in.ConsumeFloatingPoint<double>(), in.ConsumeBool());
    case 20:
      return tg::add(a, b) * c;
    case 21:
      return tg::div(a, b);
    case 22:
      return tg::pow(tg::log(a), in.ConsumeFloatingPoint<double>());
    case 23:
      return tg::leaky_relu(tg::sigmoid(a) - tg::tanh(b), in.ConsumeFloatingPoint<double>());
    case 24:
      return tg::sum_to(a, b.shape());
    default:
      return call_more(in, a, b, c);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tg::set_memory_limit(std::size_t{8} << 20);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  tg::manual_seed(in.ConsumeIntegral<std::uint64_t>());
  std::vector<Tensor> values;
  try {
    for (int i = 0; i < 3; ++i) values.push_back(operand(in));
  } catch (const tg::Error&) {
    return 0;
  }
  for (int step = 0; step < 8 && in.remaining_bytes() > 0; ++step) {
    // Now and then no tensor at all (an op's optional bias, or a missing input).
    auto pick = [&] {
      return in.ConsumeIntegralInRange(0, 7) == 0
                 ? Tensor{}
                 : values[in.ConsumeIntegralInRange<std::size_t>(0, values.size() - 1)];
    };
    try {
      const Tensor a = pick(), b = pick(), c = pick();
      Tensor out = call(in, a, b, c);
      if (out.defined() && out.requires_grad()) tg::sum(out).backward();
      values.push_back(out);
    } catch (const tg::Error&) {
    }
  }
  return 0;
}
