// Graph export: the tape as Graphviz DOT.
#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <tapegrad.hpp>

namespace {

using Catch::Matchers::Contains;
using tg::Tensor;

// The ids a DOT text declares ("  op0 [shape=box, ...]") and the edges it draws.
struct DotGraph {
  std::vector<std::string> declared;
  std::vector<std::pair<std::string, std::string>> edges;
};

// Parses `dot` and checks that it is well formed: every id declared once, every edge between
// declared ids.
DotGraph parse(const std::string& dot) {
  DotGraph graph;
  const std::regex declaration(R"(^  (\w+) \[)");
  const std::regex edge(R"(^  (\w+) -> (\w+))");
  std::istringstream lines(dot);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_search(line, match, edge)) {
      graph.edges.emplace_back(match[1], match[2]);
    } else if (std::regex_search(line, match, declaration)) {
      graph.declared.push_back(match[1]);
    }
  }
  const std::set<std::string> ids(graph.declared.begin(), graph.declared.end());
  CHECK(ids.size() == graph.declared.size());
  for (const auto& [from, to] : graph.edges) {
    CHECK(ids.count(from) == 1);
    CHECK(ids.count(to) == 1);
  }
  return graph;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("to_dot draws ops, named leaves and the shapes on the edges", "[graph_export]") {
  Tensor x = tg::ones({5, 4});  // a constant: not on the tape
  Tensor w = tg::ones({3, 4}).set_requires_grad(true);
  Tensor b = tg::ones({3}).set_requires_grad(true);
  Tensor loss = tg::sum(tg::relu(tg::linear(x, w, b)));

  const std::string dot = tg::to_dot({loss}, {{"fc.weight", w}, {"fc.bias", b}});
  CHECK_THAT(dot, Contains("digraph tapegrad {"));
  CHECK_THAT(dot, Contains(R"(label="fc.weight\n[3,4] f32")"));
  CHECK_THAT(dot, Contains(R"(label="fc.bias\n[3] f32")"));
  CHECK_THAT(dot, Contains(R"(label="output 0\n[] f32")"));
  for (const char* op : {"\"linear\"", "\"relu\"", "\"sum\""}) CHECK_THAT(dot, Contains(op));
  CHECK_THAT(dot, Contains(R"(label="[5,3]")"));  // linear's output, into relu

  const DotGraph graph = parse(dot);
  CHECK(graph.declared.size() == 6);  // 3 ops, 2 leaves, the output
  CHECK(graph.edges.size() == 5);     // w, b -> linear -> relu -> sum -> output
  CHECK(count(dot, "style=dashed") == 0);
}

TEST_CASE("to_dot writes a shared op once and marks ops a backward freed", "[graph_export]") {
  Tensor a = tg::tensor(xt::xarray<double>{1.0, 2.0}, true);
  Tensor shared = tg::exp(a);
  Tensor loss = tg::sum(tg::add(tg::mul(shared, shared), tg::neg(shared)));

  CHECK(count(tg::to_dot({loss}), "\"exp\"") == 1);
  const DotGraph graph = parse(tg::to_dot({loss}));
  CHECK(graph.declared.size() == 7);  // exp, mul, neg, add, sum, leaf, output
  // leaf->exp, exp->mul twice, exp->neg, mul->add, neg->add, add->sum, sum->output
  CHECK(graph.edges.size() == 8);

  loss.backward();
  const std::string freed = tg::to_dot({loss});
  CHECK(parse(freed).declared.size() == 7);
  CHECK(count(freed, "style=dashed") == 5);
}

TEST_CASE("to_dot numbers the ops recorded in anomaly mode", "[graph_export][anomaly]") {
  Tensor a = tg::tensor(xt::xarray<double>{1.0, 2.0}, true);
  tg::DetectAnomalyGuard anomaly;
  Tensor y = tg::exp(tg::neg(a));
  const std::string dot = tg::to_dot({y});
  CHECK_THAT(dot, Contains("\"neg #1\"") && Contains("\"exp #2\""));
  CHECK(parse(dot).edges.size() == 3);  // leaf -> neg -> exp -> output
}

TEST_CASE("to_dot escapes names and takes a leaf as an output", "[graph_export]") {
  Tensor w = tg::ones({2}).set_requires_grad(true);
  const std::string dot = tg::to_dot({w}, {{R"(a "quoted" \ name)", w}});
  CHECK_THAT(dot, Contains(R"(label="a \"quoted\" \\ name\n[2] f32")"));
  CHECK(parse(dot).edges.size() == 1);
}

TEST_CASE("to_dot walks a 100,000-op chain without recursion", "[graph_export]") {
  Tensor x = tg::ones({1}).set_requires_grad(true);
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = tg::neg(y);
  const std::string dot = tg::to_dot({y});  // counted, not parsed: a regex per line is slow
  CHECK(count(dot, "[shape=box") == 100000);
  CHECK(count(dot, " -> ") == 100001);
}

TEST_CASE("to_dot rejects outputs that are not on the tape", "[graph_export][errors]") {
  CHECK_THROWS_WITH(tg::to_dot({tg::ones({2, 3})}),
                    Contains("to_dot: output 0 (shape [2,3]) is not on the tape"));
  CHECK_THROWS_WITH(tg::to_dot({Tensor{}}), Contains("to_dot: output 0 is undefined"));
}
