#include <catch2/catch.hpp>

#include <tapegrad.hpp>

#include "support/idx_files.hpp"
#include "support/temp_dir.hpp"

TEST_CASE("MNIST finds the standard files with or without .gz", "[data][mnist]") {
  tg::test::TempDir dir;
  tg::test::write_mnist_dir(dir.path(), "train", 30, true);
  tg::test::write_mnist_dir(dir.path(), "t10k", 12, false);
  tg::data::MNIST train(dir.path(), tg::data::Split::train);
  tg::data::MNIST test(dir.path(), tg::data::Split::test);
  CHECK(train.size() == 30);
  CHECK(test.size() == 12);
  CHECK(train.example_shape() == tg::Shape{1, 28, 28});
  std::vector<float> image(784);
  CHECK(train.get(13, image.data()) == 3);
  CHECK(image[0] == 13.0f / 255.0f);
  CHECK(image[242] == 255.0f / 255.0f);  // (13 + 242) % 256
  train.truncate(5);
  CHECK(train.size() == 5);
}

TEST_CASE("MNIST explains missing and inconsistent files", "[data][mnist][errors]") {
  tg::test::TempDir dir;
  CHECK_THROWS_WITH(
      tg::data::MNIST(dir.path(), tg::data::Split::train),
      Catch::Contains("train-images-idx3-ubyte") && Catch::Contains("scripts/mnist.sh"));
  tg::test::write_mnist_dir(dir.path(), "train", 10, false);
  tg::test::write_file(dir / "train-labels-idx1-ubyte",
                       tg::test::idx_bytes({9}, std::vector<std::uint8_t>(9, 1)));
  CHECK_THROWS_WITH(tg::data::MNIST(dir.path(), tg::data::Split::train),
                    Catch::Contains("10 images") && Catch::Contains("9 labels"));
  tg::test::write_file(dir / "train-labels-idx1-ubyte",
                       tg::test::idx_bytes({10}, std::vector<std::uint8_t>(10, 12)));
  CHECK_THROWS_WITH(tg::data::MNIST(dir.path(), tg::data::Split::train),
                    Catch::Contains("label 12 at byte offset 8"));
}
