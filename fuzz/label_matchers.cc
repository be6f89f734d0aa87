// GET /api/v1/metrics/query's match[]: ParseLabelMatchers, then
// LabelSelector::Compile and Matches. The input's first line is the matcher
// text; each further line is the value of the next matcher's label (cycled),
// so the fuzzer controls both the patterns and the values they run against.
// Invariants: a refusal is InvalidArgument; a selector agrees with its
// matchers taken one by one (Compile reorders them); = and != (=~ and !~)
// give opposite answers on the same value; = agrees with plain comparison.
// A pattern that stalled (backtracking) would fail on libFuzzer's -timeout.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "hive/collector/metrics_store.h"
#include "hive/core/text.h"

namespace {

using hive::collector::LabelMatcher;
using hive::collector::Labels;
using hive::collector::LabelSelector;
using hive::collector::MatchOp;

MatchOp Negated(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual:
      return MatchOp::kNotEqual;
    case MatchOp::kNotEqual:
      return MatchOp::kEqual;
    case MatchOp::kRegex:
      return MatchOp::kNotRegex;
    case MatchOp::kNotRegex:
      return MatchOp::kRegex;
  }
  return op;
}

bool MatchesAlone(const LabelMatcher& m, const Labels& labels) {
  auto selector = LabelSelector::Compile({m});
  FUZZ_CHECK(selector.ok());  // it compiled as part of the whole selector
  return selector->Matches(labels);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> lines = hive::Split(hive::fuzz::AsText(data, size), '\n');
  auto matchers = hive::collector::ParseLabelMatchers(lines[0]);
  if (!matchers.ok()) {
    FUZZ_CHECK(matchers.status().IsInvalidArgument());
    return 0;
  }
  auto selector = LabelSelector::Compile(*matchers);
  if (!selector.ok()) {
    FUZZ_CHECK(selector.status().IsInvalidArgument());
    return 0;
  }
  Labels labels;
  for (size_t i = 0; i < matchers->size(); ++i) {
    const std::string& name = (*matchers)[i].name;
    bool seen = false;
    for (const auto& [n, unused] : labels) seen = seen || n == name;
    if (!seen && lines.size() > 1) {
      labels.emplace_back(name, std::string(lines[1 + i % (lines.size() - 1)]));
    }
  }
  bool all = true;
  for (const LabelMatcher& m : *matchers) {
    const bool alone = MatchesAlone(m, labels);
    all = all && alone;
    LabelMatcher negated = m;
    negated.op = Negated(m.op);
    FUZZ_CHECK(MatchesAlone(negated, labels) == !alone);
    if (m.op == MatchOp::kEqual) {
      std::string_view value;
      for (const auto& [n, v] : labels) {
        if (n == m.name) value = v;
      }
      FUZZ_CHECK(alone == (value == m.value));
    }
  }
  FUZZ_CHECK(selector->Matches(labels) == all);
  return 0;
}
