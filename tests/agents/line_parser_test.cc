#include "../../agents/src/line_parser.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hive/agent/log_event.h"

namespace hive::agent {
namespace {

using nlohmann::json;

// docs/agent.md's example, the pattern of the std::regex crash.
constexpr char kDocumentedPattern[] = R"((?<ts>\S+) (?<level>\w+) (?<message>.*)$)";

json Parse(LineParser& p, std::string_view line) {
  std::string scratch;
  return json::parse(p.ToMappable(line, scratch).text, nullptr, false);
}

LineParser RegexParser(std::string pattern) {
  LineFormatConfig c;
  c.format = LogFormat::kRegex;
  c.pattern = std::move(pattern);
  return LineParser(c);
}

// "<ts> INFO " and words up to `bytes`.
std::string PlainLine(size_t bytes) {
  std::string line = "2026-11-22T10:00:00Z INFO ";
  while (line.size() < bytes) line += "handled request 42 for customer 7 in 3 ms ";
  line.resize(bytes);
  return line;
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
  EXPECT_EQ(p.ToMappable("just words", scratch).text,
            "just words");  // no pair: kept as the message
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
  const MappableLine unmatched = p.ToMappable("no match here", scratch);
  EXPECT_EQ(unmatched.text, "no match here");
  EXPECT_EQ(unmatched.parse_error, "");  // plain text, not a failure
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
// a back-reference or a repetition count of 19 digits; RE2 has neither issue,
// and the error still says what is wrong.
TEST(LineParserTest, HugeBackReferenceIsRejected) {
  Status s = ValidateLinePattern(R"(^(?<a>x)\4444444444444444444)", true);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("back-reference"), std::string::npos) << s.message();
  EXPECT_TRUE(ValidateLinePattern(R"(^(?<a>x) \\2024 [\d]{4})", true).ok());
  s = ValidateLinePattern(R"(^(?<a>\d{4,55555555555555555555}))", true);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("repetition count 55555555555555555555 is over 1000"),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(ValidateLinePattern(R"(^(?<a>\d{2,1000}[{99999}]))", true).ok());
}

TEST(LineParserTest, ConstructsRe2LacksAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {R"((?<a>x)\1)", "back-reference \\1"},
      {R"((?<a>x)\k<a>)", "back-reference \\k"},
      {R"((?P<a>x)(?P=a))", "back-reference (?P=name)"},
      {R"((?<a>x)(?=y))", "lookahead"},
      {R"((?<a>x)(?!y))", "lookahead"},
      {R"((?<=y)(?<a>x))", "lookbehind"},
      {R"((?<!y)(?<a>x))", "lookbehind"},
      {R"((?>(?<a>x+)))", "atomic group"},
      {R"((?<a>x*+))", "possessive quantifier"},
      {R"((?<a>x++))", "possessive quantifier"},
      {R"((?<a>x{2}+))", "possessive quantifier"},
      {R"((?<a>x(?R)?))", "recursion"},
  };
  for (const auto& [pattern, what] : cases) {
    const Status s = ValidateLinePattern(pattern, true);
    EXPECT_TRUE(s.IsInvalidArgument()) << pattern;
    EXPECT_NE(s.message().find(what), std::string::npos) << pattern << ": " << s.message();
    EXPECT_NE(s.message().find("RE2"), std::string::npos) << pattern << ": " << s.message();
  }
  // What only looks like them: escaped, in a class, a lazy quantifier, a
  // code point in braces.
  for (const char* ok :
       {R"((?<a>\(?=x\)))", R"((?<a>[(?<=!>]+))", R"((?<a>x+?)\++)", R"((?<a>\x{41}+))",
        R"((?<a>[[:alpha:]]+)(?P<b>\Q(?=\1\E))", R"((?i)(?<a>x))"}) {
    EXPECT_TRUE(ValidateLinePattern(ok, true).ok())
        << ok << ": " << ValidateLinePattern(ok, true).message();
  }
}

TEST(LineParserTest, BothNamedGroupSpellingsWorkOutsideClassesOnly) {
  LineParser p = RegexParser(R"(^(?<a>[^<]+)<(?P<b>[(?<c>)]+)>\(?<d\)$)");
  EXPECT_EQ(Parse(p, "x<(?<>)><d)"), json({{"a", "x"}, {"b", "(?<>)"}}));
}

TEST(LineParserTest, ProgramSizeIsBounded) {
  const Status s = ValidateLinePattern(R"((?<a>.{1000}))", true);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("RE2 instructions, over the 4096 allowed"), std::string::npos)
      << s.message();
  EXPECT_TRUE(ValidateLinePattern(R"((?<a>.{400}))", true).ok());
}

// The pattern that made hive-agent recurse out of its stack on a 30-50 KB
// line, on lines up to a configured max_line_bytes of 1 MiB.
TEST(LineParserTest, DocumentedPatternReadsLongLines) {
  LineParser p = RegexParser(kDocumentedPattern);
  for (size_t bytes : {size_t{50'000}, size_t{256} << 10, size_t{1} << 20}) {
    const std::string line = PlainLine(bytes);
    std::string scratch;
    const MappableLine m = p.ToMappable(line, scratch);
    EXPECT_EQ(m.parse_error, "");
    const json fields = json::parse(m.text, nullptr, false);
    ASSERT_TRUE(fields.is_object()) << bytes;
    EXPECT_EQ(fields["ts"], "2026-11-22T10:00:00Z");
    EXPECT_EQ(fields["level"], "INFO");
    EXPECT_EQ(fields["message"].get<std::string>().size(), bytes - 26);
  }
}

// Every documented format and pattern style, with lines of the default
// max_line_bytes and of 1 MiB: each becomes one event the collector can read.
TEST(LineParserTest, EveryFormatShipsLinesOfMaxLineBytes) {
  std::vector<LineFormatConfig> formats(3);
  formats[1].format = LogFormat::kLogfmt;
  formats[2].format = LogFormat::kRegex;
  formats[2].pattern = kDocumentedPattern;
  for (const char* pattern :
       {R"(^(?<ts>\S+) \[(?P<level>\w+)\] (?:req=(?<request_id>\S+) )?(?<message>.*)$)",
        R"((?<level>ERROR|WARN|INFO)?[^=]*trace=(?<trace_id>[0-9a-f]+))"}) {
    formats.push_back(formats[2]);
    formats.back().pattern = pattern;
  }
  LogLineMapper mapper("orders", "orders-1");
  for (const size_t bytes : {size_t{256} << 10, size_t{1} << 20}) {
    const std::string plain = PlainLine(bytes);
    const std::string json_line = R"({"level":"warn","msg":")" + plain.substr(40) + "\"}";
    const std::string logfmt = "level=warn msg=\"" + plain.substr(40) + "\" trace=abc";
    for (const auto& format : formats) {
      LineParser parser(format);
      for (const std::string* line : {&plain, &json_line, &logfmt}) {
        std::string scratch, out;
        const MappableLine m = parser.ToMappable(*line, scratch);
        EXPECT_EQ(m.parse_error, "");
        EXPECT_EQ(mapper.AppendEvent(m.text, hive::Clock::System().Now(), out), "");
        ASSERT_EQ(out.find('\n'), out.size() - 1);
        const json event = json::parse(out, nullptr, false);
        ASSERT_TRUE(event.is_object()) << format.pattern << " " << bytes;
        EXPECT_EQ(event["service"], "orders");
        // Every format but the trace-only pattern keeps the long message.
        if (format.pattern.find("trace=") == std::string::npos) {
          EXPECT_GT(event.value("message", "").size(), bytes - 100) << format.pattern;
        }
      }
    }
  }
}

TEST(LineParserTest, InvalidUtf8IsShippedRawWithTheReason) {
  LineParser p = RegexParser(kDocumentedPattern);
  std::string scratch;
  const MappableLine m = p.ToMappable("2026-11-22T10:00:00Z INFO caf\xE9 au lait", scratch);
  EXPECT_EQ(m.text, "2026-11-22T10:00:00Z INFO caf\xE9 au lait");
  EXPECT_EQ(m.parse_error, "invalid UTF-8");
  EXPECT_EQ(Parse(p, "2026-11-22T10:00:00Z INFO caf\xC3\xA9")["message"], "caf\xC3\xA9");
}

TEST(LineParserTest, LinesOverTheMatchBudgetAreShippedRaw) {
  // About 3,300 instructions: lines up to ~40 KB are matched.
  LineParser p = RegexParser(R"(^(?<ts>\S+) (?<level>\w+) (?<message>.{0,400}))");
  std::string scratch;
  EXPECT_EQ(p.ToMappable(PlainLine(30'000), scratch).parse_error, "");
  const std::string line = PlainLine(100'000);
  const MappableLine m = p.ToMappable(line, scratch);
  EXPECT_EQ(m.text, line);
  EXPECT_EQ(m.parse_error, "line too long for the pattern's match budget");
}

TEST(MultilineJoinerTest, StartPatternsReadLongLines) {
  for (const char* start : {R"(^\d{4}-\d{2}-\d{2})", R"(\d{4}-\d{2}-\d{2}T\S+ (?:INFO|ERROR))"}) {
    MultilineJoiner j(start, std::chrono::seconds(1), 2u << 20);
    std::vector<size_t> sizes;
    auto emit = [&](std::string_view e, const LineKey&) { sizes.push_back(e.size()); };
    j.Add(PlainLine(1u << 20), {1, 0}, emit);
    j.Add(std::string(50'000, ' '), {1, 1}, emit);
    j.Add(PlainLine(300'000), {1, 2}, emit);
    j.Flush(emit);
    EXPECT_EQ(sizes, (std::vector<size_t>{(1u << 20) + 1 + 50'000, 300'000})) << start;
  }
}

}  // namespace
}  // namespace hive::agent
