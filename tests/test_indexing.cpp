#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <tapegrad.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xstrided_view.hpp>

#include "support/arrays.hpp"
#include "support/random.hpp"

using tg::Tensor;
using tg::test::uniform_int;

namespace {

using Labels = xt::xarray<std::int64_t>;

xt::xarray<double> values_of(const Tensor& t) { return t.value<double>(); }

// Empty arrays are equal once their shapes are (xtensor's allclose would step a null pointer,
// which UBSan reports).
bool same(const Tensor& t, const xt::xarray<double>& expected) {
  return t.shape() == expected.shape() &&
         (t.numel() == 0 || bool(xt::allclose(values_of(t), expected)));
}

bool same_labels(const Tensor& t, const Labels& expected) {
  return t.dtype() == tg::i64 && t.shape() == expected.shape() &&
         bool(xt::all(xt::equal(t.value<std::int64_t>(), expected)));
}

// 0, 1, 2, ... in `shape`, f64.
Tensor counting(const tg::Shape& shape, bool requires_grad = false) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  xt::xarray<double> values = xt::arange<double>(static_cast<double>(n));
  values.reshape(shape);
  return tg::tensor(values, requires_grad);
}

Tensor indices_of(const std::vector<std::int64_t>& values) {
  Labels array = xt::zeros<std::int64_t>({values.size()});
  for (std::size_t i = 0; i < values.size(); ++i) array(i) = values[i];
  return tg::tensor(array);
}

// t * t: its gradient depends on the input through the op and the op's backward, so a
// second-order gradcheck of it differentiates the backward ops (a linear op's own second
// derivative is zero and would check nothing).
Tensor squared(const Tensor& t) { return tg::mul(t, t); }

// The pieces of split/chunk joined into one tensor, piece k times k + 1: every piece's gradient
// differs (the layout of tests/reference/make_fixtures.py's split and chunk cases).
Tensor joined(const std::vector<Tensor>& pieces, std::int64_t dim) {
  std::vector<Tensor> scaled;
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    scaled.push_back(tg::mul(pieces[k], static_cast<double>(k + 1)));
  }
  return tg::cat(scaled, dim);
}

// x[..., first:end:step, ...] along dim, by xtensor (first and end already in range).
xt::xarray<double> strided_reference(const xt::xarray<double>& x, std::size_t dim,
                                     std::int64_t first, std::int64_t end, std::int64_t step) {
  xt::xstrided_slice_vector slices(x.dimension(), xt::all());
  slices[dim] = xt::range(first, end, step);
  return xt::strided_view(x, slices);
}

}  // namespace

TEST_CASE("cat and stack join along a dim, by hand", "[indexing]") {
  Tensor a = tg::tensor(xt::xarray<double>{{1, 2}, {3, 4}}, true);
  Tensor b = tg::tensor(xt::xarray<double>{{5, 6}}, true);
  Tensor c = tg::tensor(xt::xarray<double>{{7, 8, 9}, {10, 11, 12}}, true);
  CHECK(same(tg::cat({a, b}), {{1, 2}, {3, 4}, {5, 6}}));
  CHECK(same(tg::cat({a, c}, -1), {{1, 2, 7, 8, 9}, {3, 4, 10, 11, 12}}));
  CHECK(same(tg::cat({a}, 1), {{1, 2}, {3, 4}}));
  // An empty piece along the dim takes no place.
  CHECK(same(tg::cat({tg::zeros({2, 0}, {.dtype = tg::f64}), a}, 1), {{1, 2}, {3, 4}}));

  Tensor out = tg::cat({a, c, a}, 1);
  out.backward(counting({2, 7}));
  CHECK(same(c.grad(), {{2, 3, 4}, {9, 10, 11}}));
  // a appears twice: its gradients add, columns 0-1 plus columns 5-6.
  CHECK(same(a.grad(), {{0 + 5, 1 + 6}, {7 + 12, 8 + 13}}));

  Tensor u = tg::tensor(xt::xarray<double>{1, 2, 3}, true);
  Tensor v = tg::tensor(xt::xarray<double>{4, 5, 6}, true);
  CHECK(same(tg::stack({u, v}), {{1, 2, 3}, {4, 5, 6}}));
  Tensor columns = tg::stack({u, v}, -1);
  CHECK(same(columns, {{1, 4}, {2, 5}, {3, 6}}));
  columns.backward(counting({3, 2}));
  CHECK(same(u.grad(), {0, 2, 4}));
  CHECK(same(v.grad(), {1, 3, 5}));
  CHECK(tg::stack({a, a, a}, 1).shape() == tg::Shape{2, 3, 2});
  CHECK(same(tg::stack({tg::tensor(xt::xarray<double>(2.0))}), {2.0}));  // 0-D pieces
}

TEST_CASE("split and chunk cut as torch.split and torch.chunk", "[indexing]") {
  Tensor x = counting({5});
  std::vector<Tensor> pieces = tg::split(x, 2);
  REQUIRE(pieces.size() == 3);
  CHECK(same(pieces[0], {0, 1}));
  CHECK(same(pieces[1], {2, 3}));
  CHECK(same(pieces[2], {4}));
  REQUIRE(tg::split(x, 7).size() == 1);
  pieces = tg::split(x, std::vector<std::int64_t>{1, 0, 4});
  REQUIRE(pieces.size() == 3);
  CHECK(pieces[1].shape() == tg::Shape{0});
  CHECK(same(pieces[2], {1, 2, 3, 4}));
  // An empty dim: one empty piece (split), `chunks` empty pieces (chunk).
  CHECK(tg::split(tg::zeros({0, 2}), 3).size() == 1);
  CHECK(tg::chunk(tg::zeros({2, 0}), 3, 1).size() == 3);

  // chunk: pieces of ceil(5 / 4) = 2, so only three of them; 6 / 4 gives 2, 2, 2.
  pieces = tg::chunk(x, 4);
  REQUIRE(pieces.size() == 3);
  CHECK(same(pieces[2], {4}));
  REQUIRE(tg::chunk(counting({6}), 4).size() == 3);
  pieces = tg::chunk(counting({2, 3}), 3, -1);
  REQUIRE(pieces.size() == 3);
  CHECK(same(pieces[1], tg::test::column({1, 4})));

  Tensor y = counting({2, 5}, true);
  joined(tg::split(y, 2, 1), 1).backward(tg::ones({2, 5}, {.dtype = tg::f64}));
  CHECK(same(y.grad(), {{1, 1, 2, 2, 3}, {1, 1, 2, 2, 3}}));
}

TEST_CASE("narrow, slice and select read parts of a dim, by hand", "[indexing]") {
  Tensor x = counting({3, 4}, true);
  CHECK(same(tg::narrow(x, 1, 1, 2), {{1, 2}, {5, 6}, {9, 10}}));
  CHECK(same(tg::narrow(x, 0, -1, 1), {{8, 9, 10, 11}}));
  CHECK(tg::narrow(x, 0, 3, 0).shape() == tg::Shape{0, 4});

  Tensor r = counting({10});
  CHECK(same(tg::slice(r, 0, 1, 8, 3), {1, 4, 7}));
  CHECK(same(tg::slice(r, 0, -3, tg::kSliceEnd), {7, 8, 9}));
  CHECK(same(tg::slice(r, -1, -100, 100, 4), {0, 4, 8}));  // clamped as Python's slices
  CHECK(same(tg::slice(r, 0, 0, -7, 2), {0, 2}));
  CHECK(tg::slice(r, 0, 5, 2).shape() == tg::Shape{0});
  CHECK(tg::slice(r, 0, 20, 30).shape() == tg::Shape{0});
  CHECK(same(tg::slice(x, 1, 1, tg::kSliceEnd, 2), {{1, 3}, {5, 7}, {9, 11}}));

  CHECK(same(tg::select(x, 1, -1), {3, 7, 11}));
  CHECK(same(tg::select(x, 0, 1), {4, 5, 6, 7}));
  CHECK(tg::select(counting({3}), 0, 2).shape() == tg::Shape{});

  // Columns 0 and 3 once, row 2 once more: the gradients of the pieces add up.
  tg::add(tg::sum(tg::slice(x, 1, 0, 4, 3)), tg::sum(tg::select(x, 0, 2))).backward();
  CHECK(same(x.grad(), {{1, 0, 0, 1}, {1, 0, 0, 1}, {2, 1, 1, 2}}));
  x.zero_grad();
  tg::narrow(x, 0, 1, 2).backward(counting({2, 4}));
  CHECK(same(x.grad(), {{0, 0, 0, 0}, {0, 1, 2, 3}, {4, 5, 6, 7}}));
}

TEST_CASE("index_select gathers slices and sums repeated ones in backward", "[indexing]") {
  Tensor x = counting({3, 2}, true);
  Tensor picked = tg::index_select(x, 0, indices_of({2, 0, 2}));
  CHECK(same(picked, {{4, 5}, {0, 1}, {4, 5}}));
  picked.backward(counting({3, 2}));
  CHECK(same(x.grad(), {{2, 3}, {0, 0}, {0 + 4, 1 + 5}}));
  CHECK(same(tg::index_select(x, -1, indices_of({1})), tg::test::column({1, 3, 5})));
  CHECK(tg::index_select(x, 1, indices_of({})).shape() == tg::Shape{3, 0});
  // A 0-D index is one index (as PyTorch): the dim stays, of size 1.
  CHECK(same(tg::index_select(x, 0, tg::tensor(Labels(1))), {{2, 3}}));
}

TEST_CASE("the indexing ops work on i64 tensors without a tape", "[indexing]") {
  Tensor labels = tg::tensor(Labels{{1, 2, 3}, {4, 5, 6}});
  CHECK(same_labels(tg::cat({labels, labels}), Labels{{1, 2, 3}, {4, 5, 6}, {1, 2, 3}, {4, 5, 6}}));
  Tensor stacked = tg::stack({labels, labels}, 2);
  CHECK(stacked.shape() == tg::Shape{2, 3, 2});
  CHECK(same_labels(tg::select(stacked, 2, 1), labels.value<std::int64_t>()));
  CHECK(same_labels(tg::narrow(labels, 1, 1, 2), Labels{{2, 3}, {5, 6}}));
  CHECK(same_labels(tg::slice(labels, 1, 0, tg::kSliceEnd, 2), Labels{{1, 3}, {4, 6}}));
  CHECK(same_labels(tg::select(labels, 0, -1), Labels{4, 5, 6}));
  CHECK(same_labels(tg::index_select(labels, 1, indices_of({2, 2})), Labels{{3, 3}, {6, 6}}));
  const std::vector<Tensor> halves = tg::chunk(labels, 2, 1);
  REQUIRE(halves.size() == 2);
  CHECK(halves[1].shape() == tg::Shape{2, 1});
  CHECK(same_labels(tg::reshape(halves[1], {-1}), Labels{3, 6}));
  CHECK(same_labels(tg::split(labels, 1)[1], Labels{{4, 5, 6}}));
  CHECK_FALSE(tg::cat({labels}).requires_grad());
}

// Shapes up to [6, 5, 4, 3] against xtensor: every dim, every kind of slab (a whole row, slabs
// of one value, strided ones).
TEST_CASE("cat, stack, slice and index_select match xtensor on random shapes", "[indexing]") {
  tg::manual_seed(61);
  tg::Generator gen(61);
  for (int trial = 0; trial < 40; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, 1, 4, 6);
    const auto rank = static_cast<std::int64_t>(shape.size());
    const auto dim = static_cast<std::size_t>(uniform_int(gen, 0, rank - 1));
    tg::Shape other_shape = shape;
    other_shape[dim] = static_cast<std::size_t>(uniform_int(gen, 0, 3));
    INFO(tg::to_string(shape) << " and " << tg::to_string(other_shape) << " along " << dim);
    Tensor a = tg::test::randn64(shape, false);
    Tensor b = tg::test::randn64(other_shape, false);
    const xt::xarray<double> joined_ref =
        xt::concatenate(xt::xtuple(values_of(a), values_of(b)), dim);
    CHECK(same(tg::cat({a, b}, static_cast<std::int64_t>(dim) - rank), joined_ref));
    // The stack reference: a with a dim of size 1 inserted, twice along it (xt::stack trips
    // GCC 12's -Warray-bounds inside xtensor).
    tg::Shape unsqueezed_shape;
    for (std::size_t k = 0; k <= shape.size(); ++k) {
      unsqueezed_shape.push_back(k == dim ? 1 : shape[k < dim ? k : k - 1]);
    }
    xt::xarray<double> unsqueezed = values_of(a);
    unsqueezed.reshape(unsqueezed_shape);
    const xt::xarray<double> stacked_ref = xt::concatenate(xt::xtuple(unsqueezed, unsqueezed), dim);
    CHECK(same(tg::stack({a, a}, static_cast<std::int64_t>(dim)), stacked_ref));

    const auto size = static_cast<std::int64_t>(shape[dim]);
    const std::int64_t first = uniform_int(gen, 0, size - 1);
    const std::int64_t end = uniform_int(gen, first, size);
    const std::int64_t step = uniform_int(gen, 1, 3);
    CHECK(same(tg::slice(a, static_cast<std::int64_t>(dim), first, end, step),
               strided_reference(values_of(a), dim, first, end, step)));

    std::vector<std::int64_t> picks;
    for (int k = 0; k < 4; ++k) picks.push_back(uniform_int(gen, 0, size - 1));
    xt::xarray<double> picked_ref = strided_reference(values_of(a), dim, picks[0], picks[0] + 1, 1);
    for (std::size_t k = 1; k < picks.size(); ++k) {
      picked_ref = xt::concatenate(
          xt::xtuple(picked_ref, strided_reference(values_of(a), dim, picks[k], picks[k] + 1, 1)),
          dim);
    }
    CHECK(same(tg::index_select(a, static_cast<std::int64_t>(dim), indices_of(picks)), picked_ref));
  }
}

// Large enough that the copies are split across threads: the same values at 1 and 2 threads.
TEST_CASE("large copies are split across threads with the same result", "[indexing]") {
  tg::manual_seed(62);
  Tensor a = tg::randn({8, 64, 32, 32});
  Tensor b = tg::randn({8, 32, 32, 32});
  for (const int threads : {1, 2}) {
    tg::set_num_threads(threads);
    Tensor joined_ab = tg::cat({a, b}, 1);
    tg::set_num_threads(0);
    const bool first_part = tg::narrow(joined_ab, 1, 0, 64).value<float>() == a.value<float>();
    const bool second_part = tg::narrow(joined_ab, 1, 64, 32).value<float>() == b.value<float>();
    CHECK(first_part);
    CHECK(second_part);
  }
}

TEST_CASE("gradcheck of the indexing ops on 20 random shapes, second order too", "[indexing]") {
  tg::manual_seed(63);
  tg::Generator gen(63);
  for (int trial = 0; trial < 20; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, 1, 3);
    const auto rank = static_cast<std::int64_t>(shape.size());
    const std::int64_t dim = uniform_int(gen, -rank, rank - 1);
    const auto d = static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
    const auto size = static_cast<std::int64_t>(shape[d]);
    tg::Shape other_shape = shape;
    other_shape[d] = static_cast<std::size_t>(uniform_int(gen, 1, 3));
    const std::int64_t new_dim = uniform_int(gen, -rank - 1, rank);
    const std::int64_t start = uniform_int(gen, -size, size - 1);
    const std::int64_t length = uniform_int(gen, 0, size - (start < 0 ? start + size : start));
    const std::int64_t slice_start = uniform_int(gen, -size - 2, size + 2);
    const std::int64_t slice_end = uniform_int(gen, -size - 2, size + 2);
    const std::int64_t step = uniform_int(gen, 1, 3);
    const std::int64_t index = uniform_int(gen, -size, size - 1);
    const std::int64_t piece = uniform_int(gen, 1, size + 1);
    const std::int64_t chunks = uniform_int(gen, 1, size + 1);
    std::vector<std::int64_t> picks;
    for (int k = 0; k < 5; ++k) picks.push_back(uniform_int(gen, 0, size - 1));
    const Tensor indices = indices_of(picks);
    INFO(tg::to_string(shape) << " dim " << dim << " new dim " << new_dim << " narrow " << start
                              << "+" << length << " slice " << slice_start << ":" << slice_end
                              << ":" << step << " select " << index << " split " << piece
                              << " chunks " << chunks);
    Tensor x = tg::test::randn64(shape);
    Tensor y = tg::test::randn64(other_shape);
    const tg::GradcheckOptions second{.check_grad_grad = true};
    CHECK(tg::gradcheck(
        [&](const auto& in) {
          return squared(tg::cat({in[0], in[1], in[0]}, dim));
        },
        {x, y}, second));
    CHECK(tg::gradcheck(
        [&](const auto& in) {
          return squared(tg::stack({in[0], in[1]}, new_dim));
        },
        {x, tg::test::randn64(shape)}, second));
    CHECK(tg::gradcheck(
        [&](const auto& in) { return squared(tg::narrow(in[0], dim, start, length)); }, {x},
        second));
    CHECK(tg::gradcheck(
        [&](const auto& in) {
          return squared(tg::slice(in[0], dim, slice_start, slice_end, step));
        },
        {x}, second));
    CHECK(tg::gradcheck([&](const auto& in) { return squared(tg::select(in[0], dim, index)); }, {x},
                        second));
    CHECK(tg::gradcheck(
        [&](const auto& in) { return squared(tg::index_select(in[0], dim, indices)); }, {x},
        second));
    CHECK(tg::gradcheck(
        [&](const auto& in) { return squared(joined(tg::split(in[0], piece, dim), dim)); }, {x},
        second));
    CHECK(tg::gradcheck(
        [&](const auto& in) { return squared(joined(tg::chunk(in[0], chunks, dim), dim)); }, {x},
        second));
  }
}

TEST_CASE("the backward ops are linear in grad and their gradient is the forward op",
          "[indexing]") {
  tg::manual_seed(64);
  tg::Generator gen(64);
  for (int trial = 0; trial < 10; ++trial) {
    const tg::Shape shape = tg::test::random_shape(gen, 1, 3);
    const auto rank = static_cast<std::int64_t>(shape.size());
    const std::int64_t dim = uniform_int(gen, -rank, rank - 1);
    const auto d = static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
    const auto size = static_cast<std::int64_t>(shape[d]);
    const std::int64_t start = uniform_int(gen, -size, size);
    const std::int64_t step = uniform_int(gen, 1, 2);
    const std::int64_t index = uniform_int(gen, -size, size - 1);
    const Tensor indices =
        indices_of({uniform_int(gen, 0, size - 1), uniform_int(gen, 0, size - 1)});
    INFO(tg::to_string(shape) << " dim " << dim << " start " << start << " step " << step);
    Tensor x = tg::test::randn64(shape, false);
    // Each backward op scatters what its forward op gathered: <forward(x), g> = <x, backward(g)>.
    Tensor sliced = tg::slice(x, dim, start, tg::kSliceEnd, step);
    Tensor g = tg::test::randn64(sliced.shape());
    CHECK(tg::sum(tg::mul(sliced, g)).item() ==
          Approx(tg::sum(tg::mul(x, tg::slice_backward(g, shape, dim, start, tg::kSliceEnd, step)))
                     .item()));
    CHECK(tg::gradcheck(
        [&](const auto& in) {
          return tg::slice_backward(in[0], shape, dim, start, tg::kSliceEnd, step);
        },
        {g}));
    Tensor selected_grad = tg::test::randn64(tg::select(x, dim, index).shape());
    CHECK(
        tg::gradcheck([&](const auto& in) { return tg::select_backward(in[0], shape, dim, index); },
                      {selected_grad}));
    Tensor picked_grad = tg::test::randn64(tg::index_select(x, dim, indices).shape());
    CHECK(tg::gradcheck(
        [&](const auto& in) { return tg::index_select_backward(in[0], shape, dim, indices); },
        {picked_grad}));
  }
}

TEST_CASE("cat and stack reject bad lists", "[indexing][errors]") {
  Tensor a = tg::ones({2, 3});
  REQUIRE_THROWS_AS(tg::cat({}), tg::Error);
  REQUIRE_THROWS_WITH(tg::cat({}), Catch::Contains("cat") && Catch::Contains("empty"));
  REQUIRE_THROWS_WITH(tg::cat({a, tg::ones({2, 4})}, 0), Catch::Contains("cat") &&
                                                             Catch::Contains("[2,4]") &&
                                                             Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(tg::cat({a, tg::ones({2, 3, 1})}, 0), Catch::Contains("cat"));
  REQUIRE_THROWS_WITH(tg::cat({a, tg::ones({2, 3}, {.dtype = tg::f64})}),
                      Catch::Contains("cat") && Catch::Contains("f64"));
  REQUIRE_THROWS_WITH(tg::cat({a, Tensor{}}),
                      Catch::Contains("cat") && Catch::Contains("tensor 1"));
  REQUIRE_THROWS_WITH(tg::cat({a}, 2), Catch::Contains("cat") && Catch::Contains("dim 2"));
  REQUIRE_THROWS_WITH(tg::cat({tg::ones({})}), Catch::Contains("cat") && Catch::Contains("0-D"));
  REQUIRE_THROWS_AS(tg::stack({}), tg::Error);
  REQUIRE_THROWS_WITH(tg::stack({}), Catch::Contains("stack"));
  REQUIRE_THROWS_WITH(tg::stack({a, tg::ones({3, 2})}),
                      Catch::Contains("stack") && Catch::Contains("[3,2]"));
  REQUIRE_THROWS_WITH(tg::stack({a, tg::zeros({2, 3}, {.dtype = tg::i64})}),
                      Catch::Contains("stack") && Catch::Contains("i64"));
  REQUIRE_THROWS_WITH(tg::stack({a}, 3), Catch::Contains("stack") && Catch::Contains("dim 3"));
  REQUIRE_THROWS_WITH(tg::stack({a}, -4), Catch::Contains("stack") && Catch::Contains("-4"));
}

TEST_CASE("split, chunk, narrow, slice and select reject bad arguments", "[indexing][errors]") {
  Tensor x = tg::ones({2, 5});
  REQUIRE_THROWS_AS(tg::split(x, 0, 1), tg::Error);
  REQUIRE_THROWS_WITH(tg::split(x, 0, 1), Catch::Contains("split") && Catch::Contains("[2,5]"));
  REQUIRE_THROWS_WITH(tg::split(x, -2), Catch::Contains("split"));
  REQUIRE_THROWS_WITH(tg::split(x, std::vector<std::int64_t>{2, 2}, 1),
                      Catch::Contains("split") && Catch::Contains("sum to 4"));
  REQUIRE_THROWS_WITH(tg::split(x, std::vector<std::int64_t>{6, -1}, 1), Catch::Contains("split"));
  REQUIRE_THROWS_WITH(tg::split(x, 1, 2), Catch::Contains("split") && Catch::Contains("dim 2"));
  REQUIRE_THROWS_AS(tg::chunk(x, 0), tg::Error);
  REQUIRE_THROWS_WITH(tg::chunk(x, 0), Catch::Contains("chunk") && Catch::Contains("[2,5]"));
  REQUIRE_THROWS_WITH(tg::chunk(tg::ones({}), 2), Catch::Contains("chunk"));
  REQUIRE_THROWS_AS(tg::narrow(x, 1, 6, 0), tg::Error);
  REQUIRE_THROWS_WITH(tg::narrow(x, 1, 6, 0),
                      Catch::Contains("narrow") && Catch::Contains("[2,5]"));
  REQUIRE_THROWS_WITH(tg::narrow(x, 1, -6, 1), Catch::Contains("narrow"));
  REQUIRE_THROWS_WITH(tg::narrow(x, 1, 3, 3),
                      Catch::Contains("narrow") && Catch::Contains("length 3"));
  REQUIRE_THROWS_WITH(tg::narrow(x, 1, 0, -1), Catch::Contains("narrow"));
  REQUIRE_THROWS_WITH(tg::narrow(x, -3, 0, 1), Catch::Contains("narrow") && Catch::Contains("-3"));
  REQUIRE_THROWS_AS(tg::slice(x, 1, 0, 5, 0), tg::Error);
  REQUIRE_THROWS_WITH(tg::slice(x, 1, 0, 5, 0),
                      Catch::Contains("slice") && Catch::Contains("step"));
  REQUIRE_THROWS_WITH(tg::slice(x, 1, 0, 5, -1), Catch::Contains("slice"));
  REQUIRE_THROWS_WITH(tg::slice(x, 2, 0, 5), Catch::Contains("slice") && Catch::Contains("dim 2"));
  REQUIRE_THROWS_AS(tg::select(x, 1, 5), tg::Error);
  REQUIRE_THROWS_WITH(tg::select(x, 1, 5), Catch::Contains("select") && Catch::Contains("index 5"));
  REQUIRE_THROWS_WITH(tg::select(x, 0, -3), Catch::Contains("select") && Catch::Contains("[2,5]"));
  REQUIRE_THROWS_WITH(tg::select(tg::ones({}), 0, 0), Catch::Contains("select"));
  REQUIRE_THROWS_WITH(tg::narrow(Tensor{}, 0, 0, 1), Catch::Contains("narrow"));
}

TEST_CASE("index_select and the backward ops reject bad indices and shapes", "[indexing][errors]") {
  Tensor x = tg::ones({3, 2});
  REQUIRE_THROWS_AS(tg::index_select(x, 0, indices_of({3})), tg::Error);
  REQUIRE_THROWS_WITH(tg::index_select(x, 0, indices_of({0, 3})), Catch::Contains("index_select") &&
                                                                      Catch::Contains("index 3") &&
                                                                      Catch::Contains("[3,2]"));
  REQUIRE_THROWS_WITH(tg::index_select(x, 0, indices_of({-1})),
                      Catch::Contains("index_select") && Catch::Contains("-1"));
  REQUIRE_THROWS_WITH(tg::index_select(x, 0, tg::zeros({2})),
                      Catch::Contains("index_select") && Catch::Contains("i64"));
  REQUIRE_THROWS_WITH(tg::index_select(x, 0, tg::zeros({1, 1}, {.dtype = tg::i64})),
                      Catch::Contains("index_select") && Catch::Contains("1-D"));
  REQUIRE_THROWS_WITH(tg::index_select(x, 2, indices_of({0})),
                      Catch::Contains("index_select") && Catch::Contains("dim 2"));
  REQUIRE_THROWS_WITH(tg::index_select(x, 0, Tensor{}), Catch::Contains("index_select"));

  Tensor g = tg::ones({2, 2});
  REQUIRE_THROWS_AS(tg::slice_backward(g, {3, 2}, 0, 0, 3), tg::Error);
  REQUIRE_THROWS_WITH(tg::slice_backward(g, {3, 2}, 0, 0, 3),
                      Catch::Contains("slice_backward") && Catch::Contains("[3,2]"));
  REQUIRE_THROWS_WITH(tg::select_backward(g, {3, 2}, 0, 1), Catch::Contains("select_backward"));
  REQUIRE_THROWS_WITH(tg::select_backward(tg::ones({2}), {3, 2}, 0, 3),
                      Catch::Contains("select_backward") && Catch::Contains("index 3"));
  REQUIRE_THROWS_WITH(tg::index_select_backward(g, {3, 2}, 0, indices_of({0})),
                      Catch::Contains("index_select_backward"));
  REQUIRE_THROWS_WITH(tg::slice_backward(tg::zeros({2, 2}, {.dtype = tg::i64}), {2, 2}, 0, 0, 2),
                      Catch::Contains("slice_backward") && Catch::Contains("i64"));
}

TEST_CASE("chunk refuses more empty pieces than a list can hold", "[indexing]") {
  REQUIRE_THROWS_WITH(tg::chunk(tg::zeros({0, 3}), INT64_MAX, 0),
                      Catch::Contains("chunk") && Catch::Contains("[0,3]"));
  CHECK(tg::chunk(tg::zeros({0, 3}), 5, 0).size() == 5);  // as PyTorch: 5 empty pieces
}
