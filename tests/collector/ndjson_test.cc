#include "hive/collector/ndjson.h"

#include <gtest/gtest.h>

#include "hive/core/text.h"

namespace hive::collector {
namespace {

const TimePoint kNow = FromUnixNanos(1'700'000'000'000'000'000);

LogEvent ParseOne(std::string_view line) {
  ParsedLogs p = ParseNdjsonLogs(line, kNow);
  EXPECT_EQ(p.rejected, 0u) << (p.errors.empty() ? "" : p.errors[0].message);
  EXPECT_EQ(p.events.size(), 1u);
  return p.events.empty() ? LogEvent{} : p.events[0];
}

// The error message of a single rejected line.
std::string RejectOne(std::string_view line) {
  ParsedLogs p = ParseNdjsonLogs(line, kNow);
  EXPECT_EQ(p.events.size(), 0u);
  EXPECT_EQ(p.rejected, 1u);
  EXPECT_EQ(p.errors.size(), 1u);
  return p.errors.empty() ? "" : p.errors[0].message;
}

TEST(NdjsonTest, ParsesEveryField) {
  LogEvent e = ParseOne(
      R"({"ts":"2026-11-22T10:00:00.5Z","service":"orders","instance":"orders-1","level":"WARN",)"
      R"("message":"slow","trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","span_id":"00F067AA0BA902B7",)"
      R"("parent_span_id":"abc","attrs":{"http.status_code":503,"ok":false,"ratio":0.25,"path":"/x"}})");
  EXPECT_EQ(FormatRfc3339(FromUnixNanos(e.ts_ns)), "2026-11-22T10:00:00.500000000Z");
  EXPECT_EQ(e.service, "orders");
  EXPECT_EQ(e.instance, "orders-1");
  EXPECT_EQ(e.level, LogLevel::kWarn);
  EXPECT_EQ(e.message, "slow");
  EXPECT_EQ(e.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(e.span_id, "00f067aa0ba902b7");
  EXPECT_EQ(e.parent_span_id, "abc");
  ASSERT_EQ(e.attrs.size(), 4u);
  EXPECT_EQ(e.attrs[0].first, "http.status_code");
  EXPECT_EQ(std::get<int64_t>(e.attrs[0].second), 503);
  EXPECT_EQ(std::get<bool>(e.attrs[1].second), false);
  EXPECT_DOUBLE_EQ(std::get<double>(e.attrs[2].second), 0.25);
  EXPECT_EQ(std::get<std::string>(e.attrs[3].second), "/x");
}

TEST(NdjsonTest, DefaultsWhenFieldsAreMissing) {
  LogEvent e = ParseOne(R"({})");
  EXPECT_EQ(e.ts_ns, ToUnixNanos(kNow));
  EXPECT_EQ(e.level, LogLevel::kInfo);
  EXPECT_EQ(e.message, "");
  EXPECT_TRUE(e.service.empty());
  EXPECT_TRUE(e.trace_id.empty());
  EXPECT_TRUE(e.attrs.empty());
}

TEST(NdjsonTest, IntegerTimestampIsNanoseconds) {
  EXPECT_EQ(ParseOne(R"({"ts":1700000000123456789})").ts_ns, 1700000000123456789);
  EXPECT_NE(RejectOne(R"({"ts":-5})").find("negative"), std::string::npos);
  EXPECT_NE(RejectOne(R"({"ts":1.5})").find("'ts'"), std::string::npos);
  EXPECT_NE(RejectOne(R"({"ts":"yesterday"})").find("bad timestamp"), std::string::npos);
  EXPECT_NE(RejectOne(R"({"ts":true})").find("'ts'"), std::string::npos);
}

TEST(NdjsonTest, LevelsAreCaseInsensitiveWithAliases) {
  EXPECT_EQ(ParseOne(R"({"level":"trace"})").level, LogLevel::kTrace);
  EXPECT_EQ(ParseOne(R"({"level":"Debug"})").level, LogLevel::kDebug);
  EXPECT_EQ(ParseOne(R"({"level":"warning"})").level, LogLevel::kWarn);
  EXPECT_EQ(ParseOne(R"({"level":"ERR"})").level, LogLevel::kError);
  EXPECT_EQ(ParseOne(R"({"level":"error"})").level, LogLevel::kError);
  EXPECT_EQ(ParseOne(R"({"level":"FATAL"})").level, LogLevel::kFatal);
  EXPECT_NE(RejectOne(R"({"level":"loud"})").find("'level'"), std::string::npos);
  EXPECT_NE(RejectOne(R"({"level":3})").find("'level'"), std::string::npos);
}

TEST(NdjsonTest, NamesAreValidated) {
  EXPECT_NE(RejectOne(R"({"service":"Orders"})").find("invalid service name"), std::string::npos);
  EXPECT_NE(RejectOne(R"({"instance":"a b"})").find("invalid instance name"), std::string::npos);
  EXPECT_NE(RejectOne(R"({"service":7})").find("'service' must be a string"), std::string::npos);
}

TEST(NdjsonTest, IdsAreBoundedAndHexIdsLowerCased) {
  EXPECT_EQ(ParseOne(R"({"trace_id":"Req-ABC"})").trace_id, "Req-ABC");  // not hex: kept
  EXPECT_EQ(ParseOne(R"({"trace_id":"0AF7651916CD43DD-8448-EB211C80319C"})").trace_id,
            "0af7651916cd43dd-8448-eb211c80319c");
  EXPECT_TRUE(ParseOne(R"({"trace_id":""})").trace_id.empty());
  std::string long_id(129, 'a');
  EXPECT_NE(RejectOne(R"({"trace_id":")" + long_id + R"("})").find("longer than 128"),
            std::string::npos);
  EXPECT_NE(RejectOne(R"({"span_id":12})").find("'span_id' must be a string"), std::string::npos);
  EXPECT_NE(RejectOne(R"({"parent_span_id":[]})").find("'parent_span_id'"), std::string::npos);
}

TEST(NdjsonTest, AttrsMustBeAFlatObject) {
  EXPECT_NE(RejectOne(R"({"attrs":[1]})").find("'attrs' must be an object"), std::string::npos);
  EXPECT_NE(RejectOne(R"({"attrs":{"a":{"b":1}}})").find("'attrs.a'"), std::string::npos);
  EXPECT_NE(RejectOne(R"({"attrs":{"a":[1]}})").find("'attrs.a'"), std::string::npos);
  EXPECT_TRUE(ParseOne(R"({"attrs":{"a":null}})").attrs.empty());
  EXPECT_NE(RejectOne(R"({"message":5})").find("'message' must be a string"), std::string::npos);
}

// Every JSON body hived reads has one nesting limit, kMaxJsonDepth.
TEST(NdjsonTest, NestingPastTheLimitRejectsTheLine) {
  auto nested = [](size_t depth) {
    return R"({"message":"m","extra":)" + std::string(depth - 1, '[') +
           std::string(depth - 1, ']') + "}";
  };
  EXPECT_EQ(ParseOne(nested(kMaxJsonDepth)).message, "m");
  EXPECT_NE(RejectOne(nested(kMaxJsonDepth + 1)).find("nested deeper than 64"), std::string::npos);
  EXPECT_NE(RejectOne(nested(100'000)).find("nested deeper"), std::string::npos);
}

TEST(NdjsonTest, OtherTopLevelScalarsBecomeAttrs) {
  LogEvent e = ParseOne(
      R"({"kind":"server","name":"GET /orders","duration_ms":12.5,"status":"ok","count":3,)"
      R"("nested":{"x":1},"list":[1],"nothing":null,"attrs":{"status":"error"}})");
  ASSERT_EQ(e.attrs.size(), 5u);
  // An explicit attrs entry wins over a top-level field of the same name.
  EXPECT_EQ(e.attrs[0].first, "status");
  EXPECT_EQ(std::get<std::string>(e.attrs[0].second), "error");
  EXPECT_EQ(e.attrs[1].first, "kind");
  EXPECT_EQ(std::get<std::string>(e.attrs[1].second), "server");
  EXPECT_EQ(std::get<std::string>(e.attrs[2].second), "GET /orders");
  EXPECT_EQ(e.attrs[3].first, "duration_ms");
  EXPECT_DOUBLE_EQ(std::get<double>(e.attrs[3].second), 12.5);
  EXPECT_EQ(std::get<int64_t>(e.attrs[4].second), 3);
}

TEST(NdjsonTest, BadLinesAreRejectedAloneWithTheirLineNumbers) {
  std::string body =
      "{\"message\":\"one\"}\r\n"  // CRLF line endings are fine
      "\n"                         // blank lines are skipped but counted
      "   \n"
      "[1,2]\n"
      "{\"message\":\"two\"}\n"
      "{\"message\": oops}\n"
      "\"just a string\"\n"
      "{} {}\n" +
      std::string("{\"message\":\"") + std::string(kMaxLineBytes, 'x') + "\"}\n" +
      "{\"message\":\"three\"}";  // no final newline
  ParsedLogs p = ParseNdjsonLogs(body, kNow);
  ASSERT_EQ(p.events.size(), 3u);
  EXPECT_EQ(p.events[0].message, "one");
  EXPECT_EQ(p.events[1].message, "two");
  EXPECT_EQ(p.events[2].message, "three");
  EXPECT_EQ(p.rejected, 5u);
  ASSERT_EQ(p.errors.size(), 5u);
  EXPECT_EQ(p.errors[0].line, 4u);
  EXPECT_EQ(p.errors[0].message, "not a JSON object");
  EXPECT_EQ(p.errors[1].line, 6u);
  EXPECT_NE(p.errors[1].message.find("invalid JSON"), std::string::npos);
  EXPECT_EQ(p.errors[2].line, 7u);
  EXPECT_EQ(p.errors[2].message, "not a JSON object");
  EXPECT_EQ(p.errors[3].line, 8u);
  EXPECT_NE(p.errors[3].message.find("invalid JSON"), std::string::npos);
  EXPECT_EQ(p.errors[4].line, 9u);
  EXPECT_NE(p.errors[4].message.find("over the limit"), std::string::npos);
}

TEST(NdjsonTest, ReportsAtMostOneHundredErrors) {
  std::string body;
  for (int i = 0; i < 150; ++i) body += "nope\n";
  body += "{}\n";
  ParsedLogs p = ParseNdjsonLogs(body, kNow);
  EXPECT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.rejected, 150u);
  ASSERT_EQ(p.errors.size(), kMaxReportedLineErrors);
  EXPECT_EQ(p.errors.back().line, 100u);
}

TEST(NdjsonTest, EmptyBodyHasNoEvents) {
  ParsedLogs p = ParseNdjsonLogs("\n\n", kNow);
  EXPECT_TRUE(p.events.empty());
  EXPECT_EQ(p.rejected, 0u);
}

TEST(LogLevelTest, NamesRoundTrip) {
  for (LogLevel l : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                     LogLevel::kError, LogLevel::kFatal}) {
    EXPECT_EQ(ParseLogLevel(LogLevelName(l)), l);
  }
  EXPECT_FALSE(ParseLogLevel("").has_value());
}

TEST(LogEventJsonTest, RendersTheApiShape) {
  LogEvent e;
  e.ts_ns = 1'700'000'000'000'000'000;
  e.service = "orders";
  e.level = LogLevel::kError;
  e.message = "boom \"quoted\"";
  e.trace_id = "abc";
  e.attrs = {{"code", int64_t{500}}, {"retry", true}, {"ratio", 0.5}, {"path", std::string("/x")}};
  std::string out;
  AppendEventJson(out, e);
  EXPECT_EQ(out, R"({"ts":"2023-11-14T22:13:20.000000000Z","service":"orders","level":"error",)"
                 R"("message":"boom \"quoted\"","trace_id":"abc",)"
                 R"("attrs":{"code":500,"retry":true,"ratio":0.5,"path":"/x"}})");
}

}  // namespace
}  // namespace hive::collector
