#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xview.hpp>

namespace {

using tg::data::Compose;
using tg::data::Normalize;
using tg::data::RandomCrop;
using tg::data::RandomHorizontalFlip;

// The example [[1,2,3],[4,5,6]] with one channel.
tg::Tensor two_by_three() { return tg::tensor(xt::xarray<float>{{{1, 2, 3}, {4, 5, 6}}}); }

// The crop at (top, left) of `x` [C,H,W] zero-padded by (ph, pw), read from an explicitly padded
// copy: the definition, written independently of RandomCrop::crop.
xt::xarray<float> reference_crop(const xt::xarray<float>& x, std::size_t ph, std::size_t pw,
                                 std::size_t h, std::size_t w, std::size_t top, std::size_t left) {
  xt::xarray<float> padded =
      xt::zeros<float>({x.shape(0), x.shape(1) + 2 * ph, x.shape(2) + 2 * pw});
  xt::view(padded, xt::all(), xt::range(ph, ph + x.shape(1)), xt::range(pw, pw + x.shape(2))) = x;
  return xt::view(padded, xt::all(), xt::range(top, top + h), xt::range(left, left + w));
}

bool same(const tg::Tensor& a, const tg::Tensor& b) {
  return a.shape() == b.shape() && bool(xt::all(xt::equal(a.value<float>(), b.value<float>())));
}

}  // namespace

TEST_CASE("Normalize subtracts each channel's mean and divides by its std", "[data][transforms]") {
  const tg::Tensor x = tg::tensor(xt::xarray<float>{{{1, 3}}, {{2, 10}}});  // [2,1,2]
  tg::Generator generator(0);
  const tg::Tensor y = Normalize({1.0, 2.0}, {2.0, 4.0})(x, generator);
  REQUIRE(bool(xt::allclose(y.value<float>(), xt::xarray<float>{{{0, 1}}, {{0, 2}}})));

  // One mean and std serve every channel, as torchvision's broadcast.
  const tg::Tensor z = Normalize({1.0}, {0.5})(x, generator);
  REQUIRE(bool(xt::allclose(z.value<float>(), xt::xarray<float>{{{0, 4}}, {{2, 18}}})));

  // In float, as (x - mean) / std: bitwise what torchvision computes.
  const tg::Tensor w = Normalize({0.1307}, {0.3081})(tg::full({1, 1, 1}, 0.7f), generator);
  CHECK(w.value<float>()(0, 0, 0) == (0.7f - 0.1307f) / 0.3081f);
}

TEST_CASE("RandomCrop zero-pads and crops at the drawn corner", "[data][transforms]") {
  const tg::Tensor x = two_by_three();  // padded by 1: 4x5
  const RandomCrop crop(2, 1);
  CHECK(crop.output_shape({1, 2, 3}) == tg::Shape{1, 2, 2});

  // Hand-computed corners of the padded example
  //   0 0 0 0 0
  //   0 1 2 3 0
  //   0 4 5 6 0
  //   0 0 0 0 0
  std::vector<float> out(4);
  crop.crop(x.value<float>().data(), out.data(), {1, 2, 3}, 0, 0);
  CHECK(out == std::vector<float>{0, 0, 0, 1});
  crop.crop(x.value<float>().data(), out.data(), {1, 2, 3}, 2, 3);
  CHECK(out == std::vector<float>{6, 0, 0, 0});
  crop.crop(x.value<float>().data(), out.data(), {1, 2, 3}, 1, 1);
  CHECK(out == std::vector<float>{1, 2, 4, 5});

  // The corner comes from the generator: top first, then left, as torchvision's get_params.
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    tg::Generator draws(seed);
    const std::size_t top = draws.below(3);
    const std::size_t left = draws.below(4);
    tg::Generator generator(seed);
    const tg::Tensor y = crop(x, generator);
    REQUIRE(bool(xt::all(
        xt::equal(y.value<float>(), reference_crop(x.value<float>(), 1, 1, 2, 2, top, left)))));
    REQUIRE(generator.next() == draws.next());  // two draws, no more
  }
}

TEST_CASE("RandomCrop matches the padded-copy definition at every corner, random shapes",
          "[data][transforms]") {
  tg::Generator gen(42);
  for (int trial = 0; trial < 30; ++trial) {
    const std::size_t c = 1 + gen.below(3), h = 1 + gen.below(6), w = 1 + gen.below(6);
    const std::size_t ph = gen.below(4), pw = gen.below(4);
    const std::size_t ch = 1 + gen.below(h + 2 * ph), cw = 1 + gen.below(w + 2 * pw);
    tg::manual_seed(static_cast<std::uint64_t>(trial));
    const tg::Tensor x = tg::randn({c, h, w});
    const RandomCrop crop({static_cast<std::int64_t>(ch), static_cast<std::int64_t>(cw)},
                          {static_cast<std::int64_t>(ph), static_cast<std::int64_t>(pw)});
    REQUIRE(crop.output_shape({c, h, w}) == tg::Shape{c, ch, cw});
    std::vector<float> out(c * ch * cw);
    for (std::size_t top = 0; top + ch <= h + 2 * ph; ++top) {
      for (std::size_t left = 0; left + cw <= w + 2 * pw; ++left) {
        crop.crop(x.value<float>().data(), out.data(), {c, h, w}, top, left);
        const auto expected = reference_crop(x.value<float>(), ph, pw, ch, cw, top, left);
        REQUIRE(std::vector<float>(expected.begin(), expected.end()) == out);
      }
    }
  }
}

TEST_CASE("a crop the size of the padded example is the padded example, with no draw",
          "[data][transforms]") {
  const tg::Tensor x = two_by_three();
  tg::Generator generator(5);
  const tg::Tensor y = RandomCrop({4, 5}, 1)(x, generator);
  REQUIRE(bool(xt::all(xt::equal(
      y.value<float>(),
      xt::xarray<float>{{{0, 0, 0, 0, 0}, {0, 1, 2, 3, 0}, {0, 4, 5, 6, 0}, {0, 0, 0, 0, 0}}}))));
  CHECK(generator.next() == tg::Generator(5).next());
  // Without padding, the whole example is itself.
  REQUIRE(same(RandomCrop({2, 3}, 0)(x, generator), x));
}

TEST_CASE("RandomHorizontalFlip mirrors rows with probability p, one draw per example",
          "[data][transforms]") {
  const tg::Tensor x = two_by_three();
  tg::Generator generator(1);
  const tg::Tensor flipped = RandomHorizontalFlip(1.0)(x, generator);
  REQUIRE(
      bool(xt::all(xt::equal(flipped.value<float>(), xt::xarray<float>{{{3, 2, 1}, {6, 5, 4}}}))));
  REQUIRE(same(RandomHorizontalFlip(0.0)(x, generator), x));

  tg::Generator draws(9);
  tg::Generator used(9);
  for (int i = 0; i < 50; ++i) {
    const bool flip = draws.uniform() < 0.3;
    const tg::Tensor y = RandomHorizontalFlip(0.3)(x, used);
    REQUIRE(same(y, flip ? flipped : x));
  }
  CHECK(used.next() == draws.next());

  // About half of the examples of a batch at the default p, each with its own draw.
  const tg::Tensor batch = tg::zeros({1000, 1, 1, 2}) + tg::tensor(xt::xarray<float>{0, 1});
  const tg::Tensor out = RandomHorizontalFlip()(batch, generator);
  const double fraction = xt::mean(xt::view(out.value<float>(), xt::all(), 0, 0, 0))();
  CHECK(fraction > 0.44);
  CHECK(fraction < 0.56);
}

TEST_CASE("Compose chains the transforms and their draws", "[data][transforms]") {
  tg::manual_seed(3);
  const tg::Tensor batch = tg::randn({6, 3, 5, 7});
  const Compose compose{RandomCrop({4, 6}, 2), RandomHorizontalFlip(), Normalize({0.5}, {2.0})};
  CHECK(compose.output_shape({3, 5, 7}) == tg::Shape{3, 4, 6});
  CHECK(compose.name() ==
        "Compose(RandomCrop(size=(4, 6), padding=(2, 2)), RandomHorizontalFlip(p=0.5), "
        "Normalize(mean=[0.5], std=[2]))");

  tg::Generator generator(17);
  const tg::Tensor composed = compose(batch, generator);
  // The same transforms one after the other, each example drawing in turn from one generator.
  tg::Generator step(17);
  for (std::size_t i = 0; i < 6; ++i) {
    tg::Tensor example = tg::tensor(xt::xarray<float>(xt::view(batch.value<float>(), i)));
    example = RandomCrop({4, 6}, 2)(example, step);
    example = RandomHorizontalFlip()(example, step);
    example = Normalize({0.5}, {2.0})(example, step);
    REQUIRE(bool(xt::all(xt::equal(xt::view(composed.value<float>(), i), example.value<float>()))));
  }
  CHECK(generator.next() == step.next());

  // Empty: the identity. Nested and copied: the same transforms.
  tg::Generator g1(1), g2(1);
  REQUIRE(same(Compose{}(batch, g1), batch));
  const Compose copy = compose;
  const Compose nested{compose, Compose{}};
  tg::Generator g3(17), g4(17);
  REQUIRE(same(copy(batch, g3), composed));
  REQUIRE(same(nested(batch, g4), composed));
}

TEST_CASE("example_generator depends on seed, epoch and index only", "[data][transforms]") {
  using tg::data::example_generator;
  const auto first = [](std::uint64_t s, std::uint64_t e, std::uint64_t i) {
    return example_generator(s, e, i).next();
  };
  CHECK(first(1, 2, 3) == first(1, 2, 3));
  CHECK(first(1, 2, 3) != first(0, 2, 3));
  CHECK(first(1, 2, 3) != first(1, 3, 3));
  CHECK(first(1, 2, 3) != first(1, 2, 4));
  CHECK(first(0, 1, 0) != first(0, 0, 1));  // the arguments do not commute
  CHECK(first(0, 0, 0) != tg::Generator(0).next());
}

TEST_CASE("transforms reject bad options and examples they cannot take, naming both",
          "[data][transforms][errors]") {
  REQUIRE_THROWS_AS(RandomHorizontalFlip(-0.5), tg::Error);
  REQUIRE_THROWS_WITH(RandomHorizontalFlip(-0.5),
                      Catch::Contains("RandomHorizontalFlip") && Catch::Contains("-0.5"));
  REQUIRE_THROWS_WITH(RandomHorizontalFlip(1.5), Catch::Contains("not in [0, 1]"));
  REQUIRE_THROWS_AS(RandomHorizontalFlip(std::nan("")), tg::Error);

  REQUIRE_THROWS_AS(Normalize({0.5, 0.5}, {0.2, 0.0}), tg::Error);
  REQUIRE_THROWS_WITH(Normalize({0.5, 0.5}, {0.2, 0.0}),
                      Catch::Contains("Normalize") && Catch::Contains("std[1] is 0"));
  REQUIRE_THROWS_WITH(Normalize({0.5, 0.5}, {0.2}),
                      Catch::Contains("Normalize") && Catch::Contains("mean [2], std [1]"));
  REQUIRE_THROWS_WITH(Normalize({}, {}), Catch::Contains("Normalize"));
  REQUIRE_THROWS_WITH(Normalize({std::numeric_limits<double>::infinity()}, {1.0}),
                      Catch::Contains("finite"));

  // Wrong channel count.
  const Normalize normalize({0.1, 0.2}, {1.0, 1.0});
  REQUIRE_THROWS_AS(normalize.output_shape({3, 4, 4}), tg::Error);
  REQUIRE_THROWS_WITH(normalize.output_shape({3, 4, 4}), Catch::Contains("Normalize") &&
                                                             Catch::Contains("2 means") &&
                                                             Catch::Contains("3 channels [3,4,4]"));

  // A crop larger than the padded example.
  REQUIRE_THROWS_AS(RandomCrop(9, 2).output_shape({1, 4, 5}), tg::Error);
  REQUIRE_THROWS_WITH(RandomCrop(9, 2).output_shape({1, 4, 5}),
                      Catch::Contains("RandomCrop") && Catch::Contains("crop 9x9") &&
                          Catch::Contains("padded example 8x9") && Catch::Contains("[1,4,5]"));
  CHECK(RandomCrop({8, 9}, 2).output_shape({1, 4, 5}) == tg::Shape{1, 8, 9});
  REQUIRE_THROWS_WITH(RandomCrop(0), Catch::Contains("RandomCrop") && Catch::Contains("positive"));
  REQUIRE_THROWS_WITH(RandomCrop(3, -1),
                      Catch::Contains("RandomCrop") && Catch::Contains("padding (-1, -1)"));

  // Examples that are not [C,H,W], tensors that are not f32 examples or batches.
  REQUIRE_THROWS_WITH(RandomHorizontalFlip().output_shape({784}),
                      Catch::Contains("RandomHorizontalFlip") && Catch::Contains("[784]"));
  tg::Generator generator(0);
  REQUIRE_THROWS_WITH(RandomCrop(2)(tg::zeros({4, 4}), generator),
                      Catch::Contains("RandomCrop") && Catch::Contains("[4,4]"));
  REQUIRE_THROWS_WITH(RandomCrop(2)(tg::zeros({1, 4, 4}, {.dtype = tg::f64}), generator),
                      Catch::Contains("RandomCrop") && Catch::Contains("f64"));
  REQUIRE_THROWS_WITH((Compose{RandomCrop(2), normalize}(tg::zeros({3, 4, 4}), generator)),
                      Catch::Contains("Normalize") && Catch::Contains("[3,2,2]"));
  REQUIRE_THROWS_WITH(Compose(std::vector<std::shared_ptr<const tg::data::Transform>>{nullptr}),
                      Catch::Contains("Compose"));
}
