#include "../../agents/src/line_parser.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace hive::agent {
namespace {

using nlohmann::json;

json Parse(LineParser& p, std::string_view line) {
  std::string scratch;
  return json::parse(p.ToMappable(line, scratch), nullptr, false);
}

TEST(LineParserTest, LogfmtBecomesAnObjectOfStrings) {
  LineFormatConfig c;
  c.format = LogFormat::kLogfmt;
  LineParser p(c);
  EXPECT_EQ(
      Parse(p, R"(ts=2026-11-22T10:00:00Z level=warn msg="disk \"sda\" slow" trace_id=abc retry)"),
      json({{"ts", "2026-11-22T10:00:00Z"},
            {"level", "warn"},
            {"msg", "disk \"sda\" slow"},
            {"trace_id", "abc"},
            {"retry", true}}));
  std::string scratch;
  EXPECT_EQ(p.ToMappable("just words", scratch), "just words");  // no pair: kept as the message
}

TEST(LineParserTest, RegexNamedGroupsBecomeFields) {
  LineFormatConfig c;
  c.format = LogFormat::kRegex;
  c.pattern = R"(^(?<ts>\S+) \[(?P<level>\w+)\] (?:req=(?<request_id>\S+) )?(?<message>.*)$)";
  ASSERT_TRUE(ValidateLinePattern(c.pattern, true).ok());
  LineParser p(c);
  EXPECT_EQ(Parse(p, "2026-11-22T10:00:00Z [ERROR] req=r-1 payment failed (card)"),
            json({{"ts", "2026-11-22T10:00:00Z"},
                  {"level", "ERROR"},
                  {"request_id", "r-1"},
                  {"message", "payment failed (card)"}}));
  EXPECT_EQ(Parse(p, "2026-11-22T10:00:00Z [info] started"),
            json({{"ts", "2026-11-22T10:00:00Z"}, {"level", "info"}, {"message", "started"}}));
  std::string scratch;
  EXPECT_EQ(p.ToMappable("no match here", scratch), "no match here");
}

TEST(LineParserTest, ValidationExplainsBadPatterns) {
  EXPECT_FALSE(ValidateLinePattern("(unclosed", false).ok());
  EXPECT_NE(ValidateLinePattern("(.*)", true).message().find("named group"), std::string::npos);
  EXPECT_TRUE(ValidateLinePattern(R"([(](?<x>a))", true).ok());  // '(' in a class is no group
}

TEST(MultilineJoinerTest, JoinsContinuationLinesAndFlushesOnTimeout) {
  MultilineJoiner j(R"(^\d{4}-\d{2}-\d{2})", std::chrono::milliseconds(50), 1 << 20);
  std::vector<std::pair<std::string, uint64_t>> events;
  auto emit = [&](std::string_view e, const LineKey& k) { events.emplace_back(e, k.start); };
  j.Add("2026-11-22 ERROR boom", {1, 0}, emit);
  j.Add("java.lang.IllegalStateException: x", {1, 22}, emit);
  j.Add("    at A.b(A.java:1)", {1, 58}, emit);
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(j.pending());
  EXPECT_EQ(j.pending_key().start, 0u);
  j.Add("2026-11-22 INFO next", {1, 80}, emit);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first,
            "2026-11-22 ERROR boom\njava.lang.IllegalStateException: x\n    at A.b(A.java:1)");
  j.FlushIfDue(std::chrono::steady_clock::now(), emit);
  EXPECT_EQ(events.size(), 1u);  // not due yet
  j.FlushIfDue(std::chrono::steady_clock::now() + std::chrono::seconds(1), emit);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1], (std::pair<std::string, uint64_t>{"2026-11-22 INFO next", 80}));
}

TEST(MultilineJoinerTest, AnotherFileEndsTheEventAndOverlongEventsAreCut) {
  MultilineJoiner j("^S", std::chrono::seconds(1), 10);
  std::vector<std::pair<std::string, bool>> events;
  auto emit = [&](std::string_view e, const LineKey& k) { events.emplace_back(e, k.truncated); };
  j.Add("S1", {1, 0}, emit);
  j.Add("cont", {2, 0}, emit);  // another file: not a continuation of S1
  j.Add("more-more-more", {2, 5}, emit);
  j.Flush(emit);
  EXPECT_EQ(events,
            (std::vector<std::pair<std::string, bool>>{{"S1", false}, {"cont\nmore-", true}}));
}

// Found by fuzz/agent_config: std::regex overflowed a signed integer reading
// a back-reference or a repetition count of 19 digits.
TEST(LineParserTest, HugeBackReferenceIsRejected) {
  Status s = ValidateLinePattern(R"(^(?<a>x)\4444444444444444444)", true);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("back-reference"), std::string::npos) << s.message();
  EXPECT_TRUE(ValidateLinePattern(R"(^(?<a>x)\1 \\2024 [\d]{4})", true).ok());
  s = ValidateLinePattern(R"(^(?<a>\d{4,55555555555555555555}))", true);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("repetition count 55555555555555555555 is over 1000"),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(ValidateLinePattern(R"(^(?<a>\d{2,1000}[{99999}]))", true).ok());
}

}  // namespace
}  // namespace hive::agent
