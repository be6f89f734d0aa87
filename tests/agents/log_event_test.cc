#include "hive/agent/log_event.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hive/core/text.h"

namespace hive::agent {
namespace {

using nlohmann::json;

const TimePoint kReadTime = FromUnixNanos(1'700'000'000'000'000'000);

json Map(std::string_view line) {
  LogLineMapper mapper("orders", "orders-1");
  std::string out;
  mapper.AppendEvent(line, kReadTime, out);
  EXPECT_TRUE(out.ends_with("\n"));
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one event per line";
  auto j = json::parse(out, nullptr, false);
  EXPECT_TRUE(j.is_object()) << out;
  return j;
}

int64_t Nanos(std::string_view rfc3339) { return ToUnixNanos(*ParseRfc3339(rfc3339)); }

TEST(LogLineMapperTest, MapsCanonicalFields) {
  auto e = Map(R"({"ts":"2026-11-22T10:00:00.5Z","level":"error","message":"boom",)"
               R"("trace_id":"abc","span_id":"s1","parent_span_id":"p0","user":"ann"})");
  EXPECT_EQ(e["ts"], Nanos("2026-11-22T10:00:00.5Z"));
  EXPECT_EQ(e["service"], "orders");
  EXPECT_EQ(e["instance"], "orders-1");
  EXPECT_EQ(e["level"], "error");
  EXPECT_EQ(e["message"], "boom");
  EXPECT_EQ(e["trace_id"], "abc");
  EXPECT_EQ(e["span_id"], "s1");
  EXPECT_EQ(e["parent_span_id"], "p0");
  EXPECT_EQ(e["attrs"], json({{"user", "ann"}}));
}

TEST(LogLineMapperTest, AcceptsEveryTimestampAlias) {
  const int64_t want = Nanos("2026-01-02T03:04:05Z");
  for (const char* key : {"ts", "time", "timestamp", "@timestamp"}) {
    auto e = Map(std::string(R"({")") + key + R"(":"2026-01-02T03:04:05Z","msg":"x"})");
    EXPECT_EQ(e["ts"], want) << key;
    EXPECT_FALSE(e.contains("attrs")) << key;
  }
}

TEST(LogLineMapperTest, ReadsEpochNumbersByMagnitude) {
  const int64_t want = 1'767'323'045'000'000'000;  // 2026-01-02T03:04:05Z
  EXPECT_EQ(Map(R"({"ts":1767323045})")["ts"], want);
  EXPECT_EQ(Map(R"({"ts":1767323045000})")["ts"], want);
  EXPECT_EQ(Map(R"({"ts":1767323045000000})")["ts"], want);
  EXPECT_EQ(Map(R"({"ts":1767323045000000000})")["ts"], want);
  EXPECT_NEAR(Map(R"({"ts":1767323045.25})")["ts"].get<double>(), want + 250'000'000, 1000);
  EXPECT_EQ(Map(R"({"ts":1767323045123})")["ts"], want + 123'000'000);
  EXPECT_EQ(Map(R"({"ts":"1767323045"})")["ts"], want);
}

TEST(LogLineMapperTest, UnusableTimestampKeepsReadTimeAndTheValue) {
  auto e = Map(R"({"time":"yesterday","msg":"x"})");
  EXPECT_EQ(e["ts"], ToUnixNanos(kReadTime));
  EXPECT_EQ(e["attrs"]["time"], "yesterday");
  EXPECT_EQ(Map(R"({"msg":"no time"})")["ts"], ToUnixNanos(kReadTime));
}

TEST(LogLineMapperTest, AcceptsEveryLevelAliasAndNormalises) {
  for (const char* key : {"level", "severity", "lvl"}) {
    EXPECT_EQ(Map(std::string(R"({")") + key + R"(":"WARNING"})")["level"], "warn") << key;
  }
  EXPECT_EQ(Map(R"({"level":"err"})")["level"], "error");
  EXPECT_EQ(Map(R"({"level":"CRITICAL"})")["level"], "fatal");
  EXPECT_EQ(Map(R"({"level":"debug"})")["level"], "debug");
  EXPECT_EQ(Map(R"({"level":"notice"})")["level"], "info");
  EXPECT_EQ(Map(R"({"level":50})")["level"], "error");  // pino
  EXPECT_EQ(Map(R"({"level":20})")["level"], "debug");
  EXPECT_EQ(Map(R"({"level":3})")["level"], "error");  // syslog
  auto odd = Map(R"({"level":"chatty"})");
  EXPECT_EQ(odd["level"], "info");
  EXPECT_EQ(odd["attrs"]["level"], "chatty");
  EXPECT_EQ(Map(R"({"msg":"x"})")["level"], "info");
}

TEST(LogLineMapperTest, AcceptsEveryMessageAlias) {
  EXPECT_EQ(Map(R"({"message":"a"})")["message"], "a");
  EXPECT_EQ(Map(R"({"msg":"b"})")["message"], "b");
  auto both = Map(R"({"msg":"short","message":"long"})");
  EXPECT_EQ(both["message"], "long");
  EXPECT_EQ(both["attrs"]["msg"], "short");
}

TEST(LogLineMapperTest, AcceptsEveryTraceIdAlias) {
  for (const char* key : {"trace_id", "traceId", "trace.id", "correlation_id", "correlationId",
                          "x-correlation-id", "request_id"}) {
    auto e = Map(std::string(R"({")") + key + R"(":"0af7651916cd43dd8448eb211c80319c"})");
    EXPECT_EQ(e["trace_id"], "0af7651916cd43dd8448eb211c80319c") << key;
    EXPECT_FALSE(e.contains("attrs")) << key;
  }
  // ECS nests it: {"trace":{"id":...}}.
  auto ecs = Map(R"({"trace":{"id":"t-ecs"},"span":{"id":"s-ecs"}})");
  EXPECT_EQ(ecs["trace_id"], "t-ecs");
  EXPECT_EQ(ecs["span_id"], "s-ecs");
  // Numbers are IDs too; the first alias in order wins, the rest stay in attrs.
  auto two = Map(R"({"request_id":42,"correlationId":"c-1"})");
  EXPECT_EQ(two["trace_id"], "c-1");
  EXPECT_EQ(two["attrs"]["request_id"], 42);
  EXPECT_EQ(Map(R"({"request_id":42})")["trace_id"], "42");
}

TEST(LogLineMapperTest, AcceptsSpanAliases) {
  auto e = Map(R"({"spanId":"s1","parentSpanId":"p1"})");
  EXPECT_EQ(e["span_id"], "s1");
  EXPECT_EQ(e["parent_span_id"], "p1");
}

TEST(LogLineMapperTest, TraceparentGivesTraceAndSpanAndIsPreferred) {
  auto e = Map(R"({"traceparent":"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",)"
               R"("request_id":"req-9"})");
  EXPECT_EQ(e["trace_id"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(e["span_id"], "b7ad6b7169203331");
  EXPECT_EQ(e["attrs"]["trace_id"], "req-9");
  EXPECT_FALSE(e["attrs"].contains("traceparent"));

  auto explicit_span = Map(
      R"({"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","span_id":"own"})");
  EXPECT_EQ(explicit_span["span_id"], "own");

  for (const char* bad : {"garbage", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                          "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333x-01"}) {
    auto e2 = Map(std::string(R"({"traceparent":")") + bad + R"("})");
    EXPECT_FALSE(e2.contains("trace_id")) << bad;
    EXPECT_EQ(e2["attrs"]["traceparent"], bad);
  }
}

TEST(LogLineMapperTest, MergesAttrsAndFlattensNestedObjects) {
  auto e = Map(R"({"msg":"x","attrs":{"route":"/pay","http":{"status":502}},)"
               R"("user":{"id":7,"geo":{"cc":"de"}},"ok":false,"ratio":0.5,"tags":["a","b"],)"
               R"("nothing":null,"service":"spoofed"})");
  EXPECT_EQ(e["service"], "orders");
  EXPECT_EQ(e["instance"], "orders-1");
  const json& a = e["attrs"];
  EXPECT_EQ(a["route"], "/pay");
  EXPECT_EQ(a["http.status"], 502);
  EXPECT_EQ(a["user.id"], 7);
  EXPECT_EQ(a["user.geo.cc"], "de");
  EXPECT_EQ(a["ok"], false);
  EXPECT_EQ(a["ratio"], 0.5);
  EXPECT_EQ(a["tags"], R"(["a","b"])");
  EXPECT_FALSE(a.contains("nothing"));
  EXPECT_EQ(a["service"], "spoofed");
}

TEST(LogLineMapperTest, NonJsonLineIsShippedAsMessage) {
  for (const char* line : {"plain text line", "{not json", "[1,2,3]", "42", ""}) {
    auto e = Map(line);
    EXPECT_EQ(e["message"], line) << line;
    EXPECT_EQ(e["level"], "info");
    EXPECT_EQ(e["ts"], ToUnixNanos(kReadTime));
    EXPECT_EQ(e["service"], "orders");
    EXPECT_FALSE(e.contains("attrs"));
  }
  EXPECT_EQ(Map("windows line\r")["message"], "windows line");
  auto quoted = Map(R"(say "hi" \ then go)");
  EXPECT_EQ(quoted["message"], R"(say "hi" \ then go)");
}

TEST(LogLineMapperTest, InvalidUtf8StillMakesValidJson) {
  auto e = Map("bad \xff\xfe bytes");
  EXPECT_TRUE(e["message"].get<std::string>().starts_with("bad "));
}

// A JSON line nested past kMaxJsonDepth, or with bytes that are not UTF-8,
// is shipped as its raw text, flagged, rather than walked or dropped.
TEST(LogLineMapperTest, DeepOrNonUtf8JsonIsShippedRawWithParseError) {
  LogLineMapper mapper("orders", "orders-1");
  const std::string deep = R"({"a":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  const std::string bad_utf8 = "{\"msg\":\"caf\xE9\"}";
  const std::pair<const std::string*, std::string_view> cases[] = {
      {&deep, "JSON nested deeper than 64 levels"}, {&bad_utf8, "invalid UTF-8"}};
  for (const auto& [line, why] : cases) {
    std::string out;
    EXPECT_EQ(mapper.AppendEvent(*line, kReadTime, out), why);
    const json e = json::parse(out, nullptr, false);
    ASSERT_TRUE(e.is_object()) << why;
    EXPECT_EQ(e["message"].get<std::string>().size(), line->size() + (line == &bad_utf8 ? 2 : 0));
    EXPECT_EQ(e["level"], "info");
    EXPECT_EQ(e["attrs"], json({{"parse_error", why}}));
  }
  // 64 levels are read as usual; a parse_error the caller gives is kept once.
  const std::string nested_64 =
      R"({"msg":"ok","a":)" + std::string(63, '[') + std::string(63, ']') + "}";
  std::string out;
  EXPECT_EQ(mapper.AppendEvent(nested_64, kReadTime, out), "");
  EXPECT_EQ(json::parse(out)["message"], "ok");
  const ExtraAttr extra[] = {{"parse_error", "\"invalid UTF-8\""}};
  out.clear();
  mapper.AppendEvent(deep, kReadTime, out, extra);
  EXPECT_EQ(json::parse(out)["attrs"], json({{"parse_error", "invalid UTF-8"}}));
  EXPECT_EQ(out.find("parse_error"), out.rfind("parse_error"));
}

// Found by fuzz/line_parser: the collector refuses a whole line whose ts is
// before 1970 or whose id is over 128 bytes, so the mapper keeps such values
// in attrs rather than lose the event.
TEST(LogLineMapperTest, ValuesTheCollectorRefusesStayInAttrs) {
  const std::string long_id(129, 'a');
  auto e = Map(R"({"ts":"1969-12-31T23:59:59Z","msg":"old","trace_id":")" + long_id +
               R"(","request_id":"r-1","span_id":")" + long_id + R"("})");
  EXPECT_EQ(e["ts"], ToUnixNanos(kReadTime));
  EXPECT_EQ(e["trace_id"], "r-1");
  EXPECT_FALSE(e.contains("span_id"));
  EXPECT_EQ(e["attrs"],
            json({{"ts", "1969-12-31T23:59:59Z"}, {"trace_id", long_id}, {"span_id", long_id}}));
}

// Found by fuzz/line_parser: an epoch number read as ms or s could overflow
// int64 nanoseconds; such a ts is unusable and stays in attrs.
TEST(LogLineMapperTest, EpochNumbersPast2262StayInAttrs) {
  auto e = Map(R"({"time":17000000001023,"msg":"x"})");
  EXPECT_EQ(e["ts"], ToUnixNanos(kReadTime));
  EXPECT_EQ(e["attrs"], json({{"time", 17000000001023}}));
  EXPECT_EQ(Map(R"({"ts":9200000000})")["ts"], int64_t{9'200'000'000'000'000'000});
}

TEST(LogLineMapperTest, ReusesItsParserAcrossLines) {
  LogLineMapper mapper("orders", "orders-1");
  std::string out;
  mapper.AppendEvent(R"({"msg":"first","a":1})", kReadTime, out);
  mapper.AppendEvent("second, not json", kReadTime, out);
  mapper.AppendEvent(R"({"msg":"third","b":2})", kReadTime, out);
  std::vector<json> events;
  for (auto line : Split(out, '\n')) {
    if (!line.empty()) events.push_back(json::parse(line));
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["attrs"], json({{"a", 1}}));
  EXPECT_EQ(events[1]["message"], "second, not json");
  EXPECT_EQ(events[2]["attrs"], json({{"b", 2}}));
}

}  // namespace
}  // namespace hive::agent
