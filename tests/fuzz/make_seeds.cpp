// Writes the committed seed corpus of the fuzz targets (tests/fuzz/corpus/): a valid input of
// each kind, from which the fuzzer mutates. Run it again if a format changes:
//   make_seeds tests/fuzz/corpus
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <tapegrad.hpp>

#include "checkpoint_model.hpp"

namespace {

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string idx(const std::vector<std::uint32_t>& dims) {
  std::string bytes = {0, 0, 8, static_cast<char>(dims.size())};
  std::size_t count = 1;
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((d >> shift) & 0xff);
    count *= d;
  }
  for (std::size_t i = 0; i < count; ++i) bytes += static_cast<char>(i * 37);
  return bytes;
}

std::string gzip(const std::string& bytes) {
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, bytes.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  const std::filesystem::path corpus = argv[1];
  for (const char* target : {"idx", "safetensors", "checkpoint", "ops"}) {
    std::filesystem::create_directories(corpus / target);
  }
  write(corpus / "idx" / "images", idx({3, 4, 5}));
  write(corpus / "idx" / "labels", idx({7}));
  write(corpus / "idx" / "images.gz", gzip(idx({2, 3, 3})));

  tg::manual_seed(1);
  tg::write_safetensors(corpus / "safetensors" / "three_dtypes",
                        {{"w", tg::randn({2, 3})},
                         {"d", tg::randn({4}, {.dtype = tg::DType::f64})},
                         {"n", tg::tensor(xt::xarray<std::int64_t>{{1, -2}, {3, 4}})},
                         {"empty", tg::zeros({0, 3})}},
                        {{"format", "pt"}});

  tg::fuzz::CheckpointModel model;
  tg::optim::Adam adam(model.parameters(), {});
  tg::sum(model(tg::ones({1, 1, 4, 4}))).backward();
  adam.step();
  tg::save_checkpoint(corpus / "checkpoint" / "after_one_step", model, adam,
                      {.epoch = 1, .step = 1});
  tg::save(model, corpus / "checkpoint" / "weights_only");

  // Op programs: the provider reads from both ends; any bytes make a program.
  std::string program;
  for (int i = 0; i < 256; ++i) program += static_cast<char>(i * 13 + 5);
  write(corpus / "ops" / "mixed", program);
  write(corpus / "ops" / "small_sizes", std::string(128, '\x03'));
  return 0;
}
