#include <catch2/catch.hpp>

#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xview.hpp>

TEST_CASE("TensorDataset serves images[i] and labels[i]", "[data][tensor_dataset]") {
  const tg::Tensor images = tg::tensor(xt::xarray<float>{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}});
  const tg::Tensor labels = tg::tensor(xt::xarray<std::int64_t>{7, 3});
  const tg::data::TensorDataset data(images, labels);
  CHECK(data.size() == 2);
  CHECK(data.example_shape() == tg::Shape{2, 2});
  std::vector<float> out(4);
  CHECK(data.get(1, out.data()) == 3);
  CHECK(out == std::vector<float>{5, 6, 7, 8});
  CHECK(data.get(0, out.data()) == 7);
  CHECK(out == std::vector<float>{1, 2, 3, 4});

  // The arrays are shared, as torch's TensorDataset: a change in place shows.
  images.value<float>()(0, 0, 0) = 10;
  data.get(0, out.data());
  CHECK(out[0] == 10);
}

TEST_CASE("TensorDataset takes f64 images (as f32) and any example rank",
          "[data][tensor_dataset]") {
  tg::manual_seed(1);
  const tg::Tensor images = tg::randn({3, 5}, {.dtype = tg::f64, .requires_grad = true});
  const tg::data::TensorDataset data(images, tg::zeros({3}, {.dtype = tg::i64}));
  CHECK(data.images().dtype() == tg::f32);
  CHECK_FALSE(data.images().requires_grad());
  CHECK(data.example_shape() == tg::Shape{5});
  std::vector<float> out(5);
  data.get(2, out.data());
  for (std::size_t j = 0; j < 5; ++j)
    CHECK(out[j] == static_cast<float>(images.value<double>()(2, j)));

  // One number per example: batches [B].
  const tg::data::TensorDataset scalars(tg::ones({4}), tg::zeros({4}, {.dtype = tg::i64}));
  CHECK(scalars.example_shape().empty());
  tg::data::DataLoader loader(scalars, {.batch_size = 3, .shuffle = false});
  CHECK(loader.batch(1).images.shape() == tg::Shape{1});
}

TEST_CASE("a DataLoader over a TensorDataset batches it as MNIST's", "[data][tensor_dataset]") {
  tg::manual_seed(2);
  const tg::Tensor images = tg::rand({10, 3, 4, 4});
  const tg::Tensor labels = tg::tensor(xt::xarray<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  const tg::data::TensorDataset data(images, labels);
  tg::data::DataLoader loader(data, {.batch_size = 4, .shuffle = false});
  REQUIRE(loader.num_batches() == 3);
  std::size_t seen = 0;
  for (const auto& batch : loader) {
    const std::size_t n = batch.labels.numel();
    REQUIRE(batch.images.shape() == tg::Shape{n, 3, 4, 4});
    REQUIRE(bool(xt::all(xt::equal(batch.images.value<float>(),
                                   xt::view(images.value<float>(), xt::range(seen, seen + n))))));
    for (std::size_t i = 0; i < n; ++i)
      REQUIRE(batch.labels.value<std::int64_t>()(i) == static_cast<std::int64_t>(seen + i));
    seen += n;
  }
  CHECK(seen == 10);
}

TEST_CASE("TensorDataset rejects mismatched or malformed tensors, naming the shapes",
          "[data][tensor_dataset][errors]") {
  const tg::Tensor images = tg::zeros({5, 1, 2, 2});
  const tg::Tensor labels = tg::zeros({5}, {.dtype = tg::i64});
  REQUIRE_THROWS_AS(tg::data::TensorDataset(images, tg::zeros({4}, {.dtype = tg::i64})), tg::Error);
  REQUIRE_THROWS_WITH(tg::data::TensorDataset(images, tg::zeros({4}, {.dtype = tg::i64})),
                      Catch::Contains("TensorDataset: 5 images but 4 labels") &&
                          Catch::Contains("images f32 [5,1,2,2], labels i64 [4]"));
  REQUIRE_THROWS_WITH(tg::data::TensorDataset(images, tg::zeros({5})),
                      Catch::Contains("TensorDataset") && Catch::Contains("i64 labels [N]") &&
                          Catch::Contains("labels f32 [5]"));
  REQUIRE_THROWS_WITH(tg::data::TensorDataset(images, tg::zeros({5, 1}, {.dtype = tg::i64})),
                      Catch::Contains("TensorDataset") && Catch::Contains("labels i64 [5,1]"));
  REQUIRE_THROWS_WITH(tg::data::TensorDataset(tg::zeros({5, 3}, {.dtype = tg::i64}), labels),
                      Catch::Contains("TensorDataset") && Catch::Contains("f32 or f64 images") &&
                          Catch::Contains("images i64 [5,3]"));
  REQUIRE_THROWS_WITH(tg::data::TensorDataset(tg::tensor(xt::xarray<float>(1.0f)), labels),
                      Catch::Contains("TensorDataset") && Catch::Contains("scalar"));
  REQUIRE_THROWS_WITH(tg::data::TensorDataset(tg::Tensor{}, labels),
                      Catch::Contains("TensorDataset") && Catch::Contains("undefined images"));

  const tg::data::TensorDataset data(images, labels);
  std::vector<float> out(4);
  REQUIRE_THROWS_WITH(data.get(5, out.data()),
                      Catch::Contains("TensorDataset: index 5 out of range for 5 examples"));
  // A transform that cannot take its examples fails as the loader is made.
  REQUIRE_THROWS_WITH(
      tg::data::DataLoader(data, {.transform = tg::data::Normalize({0.5, 0.5}, {1.0, 1.0})}),
      Catch::Contains("Normalize") && Catch::Contains("[1,2,2]"));
}
