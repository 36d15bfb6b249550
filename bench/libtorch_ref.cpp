// The C++ frontend baseline: bench/torch_ref.py's two models and protocol in libtorch (Debian's
// libtorch-dev 1.13, the same build as python3-torch), so that tapegrad is also compared with
// what a C++ engineer would otherwise use. Same data, models, initialisation scheme, SGD with
// momentum 0.9, batch, shuffling per epoch and output line as the Python script.
//   libtorch_ref --data DIR --model lenet5|mnist_cnn [--epochs 1] [--batch 64] [--threads 2]
//                [--lr 0.01] [--limit N]
#include <torch/torch.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// An IDX file (raw or gzip: gzread reads both) as bytes, with its dims.
struct Idx {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> bytes;
};

Idx read_idx(const std::filesystem::path& stem) {
  std::filesystem::path path = stem;
  if (!std::filesystem::exists(path)) path += ".gz";
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error("cannot open " + stem.string() + "[.gz]");
  auto read_u32 = [&] {
    unsigned char b[4];
    if (gzread(file, b, 4) != 4) throw std::runtime_error("truncated " + path.string());
    return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
  };
  Idx idx;
  const std::uint32_t magic = read_u32();
  std::int64_t count = 1;
  for (std::uint32_t d = 0; d < (magic & 0xff); ++d) {
    idx.dims.push_back(read_u32());
    count *= idx.dims.back();
  }
  idx.bytes.resize(static_cast<std::size_t>(count));
  if (gzread(file, idx.bytes.data(), static_cast<unsigned>(count)) != count) {
    throw std::runtime_error("truncated " + path.string());
  }
  gzclose(file);
  return idx;
}

struct Split {
  torch::Tensor images;  // [N,1,28,28] in [0, 1]
  torch::Tensor labels;  // [N] int64
};

Split load(const std::filesystem::path& dir, const std::string& prefix, std::int64_t limit) {
  Idx images = read_idx(dir / (prefix + "-images-idx3-ubyte"));
  Idx labels = read_idx(dir / (prefix + "-labels-idx1-ubyte"));
  std::int64_t n = images.dims[0];
  if (limit > 0) n = std::min(n, limit);
  auto x = torch::from_blob(images.bytes.data(), {images.dims[0], 1, 28, 28}, torch::kUInt8)
               .slice(0, 0, n)
               .to(torch::kFloat32)
               .div_(255.0);
  auto y = torch::from_blob(labels.bytes.data(), {labels.dims[0]}, torch::kUInt8)
               .slice(0, 0, n)
               .to(torch::kInt64);
  return {x.clone(), y.clone()};
}

struct LeNet5Impl : torch::nn::Module {
  torch::nn::Conv2d c1{torch::nn::Conv2dOptions(1, 6, 5).padding(2)};
  torch::nn::Conv2d c2{torch::nn::Conv2dOptions(6, 16, 5)};
  torch::nn::Linear f1{400, 120}, f2{120, 84}, f3{84, 10};
  LeNet5Impl() {
    register_module("c1", c1), register_module("c2", c2);
    register_module("f1", f1), register_module("f2", f2), register_module("f3", f3);
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(c1(x)), 2);
    x = torch::max_pool2d(torch::relu(c2(x)), 2);
    x = x.flatten(1);
    return f3(torch::relu(f2(torch::relu(f1(x)))));
  }
};
TORCH_MODULE(LeNet5);

struct MnistCNNImpl : torch::nn::Module {  // PyTorch's examples/mnist network, without dropout
  torch::nn::Conv2d c1{torch::nn::Conv2dOptions(1, 32, 3)};
  torch::nn::Conv2d c2{torch::nn::Conv2dOptions(32, 64, 3)};
  torch::nn::Linear f1{9216, 128}, f2{128, 10};
  MnistCNNImpl() {
    register_module("c1", c1), register_module("c2", c2);
    register_module("f1", f1), register_module("f2", f2);
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(c1(x));
    x = torch::max_pool2d(torch::relu(c2(x)), 2).flatten(1);
    return f2(torch::relu(f1(x)));
  }
};
TORCH_MODULE(MnistCNN);

template <class Model>
void train(Model model, const Split& train_set, const Split& test_set, int epochs,
           std::int64_t batch, double lr) {
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(lr).momentum(0.9));
  const std::int64_t n = train_set.images.size(0);
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    model->train();
    const torch::Tensor order = torch::randperm(n);
    double total = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < n; i += batch) {
      const torch::Tensor index = order.slice(0, i, std::min(n, i + batch));
      sgd.zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(
          model->forward(train_set.images.index_select(0, index)),
          train_set.labels.index_select(0, index));
      loss.backward();
      sgd.step();
      total += loss.item<double>() * static_cast<double>(index.size(0));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    model->eval();
    torch::NoGradGuard no_grad;
    std::int64_t correct = 0;
    const std::int64_t m = test_set.images.size(0);
    for (std::int64_t i = 0; i < m; i += 1000) {
      const torch::Tensor logits =
          model->forward(test_set.images.slice(0, i, std::min(m, i + 1000)));
      const torch::Tensor hits =
          logits.argmax(1).eq(test_set.labels.slice(0, i, std::min(m, i + 1000))).sum();
      correct += hits.item<std::int64_t>();
    }
    std::printf("epoch %d train_s %.2f img_per_s %.0f loss %.4f test_acc %.4f\n", epoch, seconds,
                static_cast<double>(n) / seconds, total / static_cast<double>(n),
                static_cast<double>(correct) / static_cast<double>(m));
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, model = "lenet5";
  int epochs = 1, threads = 2;
  std::int64_t batch = 64, limit = 0;
  double lr = 0.01;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--data")
      data = value;
    else if (flag == "--model")
      model = value;
    else if (flag == "--epochs")
      epochs = std::stoi(value);
    else if (flag == "--batch")
      batch = std::stoll(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--lr")
      lr = std::stod(value);
    else if (flag == "--limit")
      limit = std::stoll(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (data.empty() || (model != "lenet5" && model != "mnist_cnn")) {
    std::fprintf(stderr,
                 "usage: libtorch_ref --data DIR --model lenet5|mnist_cnn [--epochs N] "
                 "[--batch B] [--threads T] [--lr X] [--limit N]\n");
    return 2;
  }
  try {
    torch::set_num_threads(threads);
    torch::manual_seed(0);
    const Split train_set = load(data, "train", limit);
    const Split test_set = load(data, "t10k", 0);
    if (model == "lenet5") {
      train(LeNet5(), train_set, test_set, epochs, batch, lr);
    } else {
      train(MnistCNN(), train_set, test_set, epochs, batch, lr);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
