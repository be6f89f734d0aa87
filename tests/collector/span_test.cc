#include "hive/collector/span.h"

#include <gtest/gtest.h>

#include "hive/collector/ndjson.h"
#include "hive/core/text.h"

namespace hive::collector {
namespace {

const TimePoint kNow = FromUnixNanos(1'800'000'000'000'000'000);

// A client span line exactly as the demo services write it (demo/demo_service.cpp),
// with the service and instance the agent adds.
constexpr std::string_view kDemoClientLine =
    R"({"ts":"2026-11-22T02:30:42.388354Z","level":"info","message":"GET /orders -> orders 200 in 14.053 ms","trace_id":"9d35252106f2632fae580fda6c04fcec","span_id":"1e27449e990e7288","parent_span_id":"ac8a8acb70abd951","http.method":"GET","http.path":"/orders","item":"sku-32","qty":1,"kind":"client","name":"GET /orders","peer.service":"orders","duration_ms":14.053,"status":"ok","http.status_code":200,"service":"gateway","instance":"gateway-1"})";

TEST(SpanTest, DerivedFromDemoSpanLine) {
  ParsedLogs logs = ParseNdjsonLogs(kDemoClientLine, kNow);
  ASSERT_EQ(logs.events.size(), 1u);
  std::optional<Span> span = SpanFromLogEvent(logs.events[0]);
  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(span->trace_id, "9d35252106f2632fae580fda6c04fcec");
  EXPECT_EQ(span->span_id, "1e27449e990e7288");
  EXPECT_EQ(span->parent_span_id, "ac8a8acb70abd951");
  EXPECT_EQ(span->service, "gateway");
  EXPECT_EQ(span->instance, "gateway-1");
  EXPECT_EQ(span->name, "GET /orders");
  EXPECT_EQ(span->kind, SpanKind::kClient);
  EXPECT_DOUBLE_EQ(span->duration_ms, 14.053);
  EXPECT_FALSE(span->error);
  EXPECT_EQ(span->StringAttr("peer.service"), "orders");
  EXPECT_EQ(span->IntAttr("http.status_code"), 200);
  EXPECT_EQ(span->StringAttr("kind"), "");  // consumed, not kept as an attr
  EXPECT_EQ(ToUnixNanos(*ParseRfc3339("2026-11-22T02:30:42.388354Z")), span->start_ns);
}

TEST(SpanTest, OrdinaryLogLinesAreNotSpans) {
  ParsedLogs logs = ParseNdjsonLogs(
      R"({"service":"gateway","message":"checkout","trace_id":"ab","span_id":"cd"})"
      "\n"
      R"({"service":"gateway","message":"x","trace_id":"ab","span_id":"cd","kind":"server"})"
      "\n"
      R"({"service":"gateway","trace_id":"ab","span_id":"cd","kind":"sideways","duration_ms":1})"
      "\n"
      R"({"message":"no service","trace_id":"ab","span_id":"cd","kind":"server","duration_ms":1})",
      kNow);
  ASSERT_EQ(logs.events.size(), 4u);
  for (const LogEvent& e : logs.events) EXPECT_FALSE(SpanFromLogEvent(e).has_value());
}

TEST(SpanTest, ServerSpanWith5xxFails) {
  ParsedLogs logs = ParseNdjsonLogs(
      R"({"service":"payments","trace_id":"ab","span_id":"cd","kind":"server","duration_ms":3,"status":"error","http.status_code":500})",
      kNow);
  ASSERT_EQ(logs.events.size(), 1u);
  std::optional<Span> span = SpanFromLogEvent(logs.events[0]);
  ASSERT_TRUE(span.has_value());
  EXPECT_TRUE(span->error);
  EXPECT_TRUE(span->Failed());
}

TEST(SpanTest, ParsesNdjsonSpansAndRejectsBadLinesAlone) {
  std::string body =
      R"({"trace_id":"AB12","span_id":"01","service":"orders","instance":"orders-1","name":"GET /orders","kind":"server","start":"2026-11-22T10:00:00Z","duration_ms":12.5,"status":"error","attrs":{"http.status_code":503,"peer.service":"x","ok":true}})"
      "\n\n"
      R"({"span_id":"01","service":"orders"})"
      "\n"
      R"({"trace_id":"ab","span_id":"02","service":"Bad Name"})"
      "\n"
      R"({"trace_id":"ab","span_id":"03","service":"orders","kind":"diagonal"})"
      "\n"
      R"({"trace_id":"ab","span_id":"04","service":"orders","duration_ms":-1})"
      "\n"
      R"({"trace_id":"ab","span_id":"05","service":"orders","attrs":{"nested":{"a":1}}})"
      "\n"
      "not json\n"
      R"({"trace_id":"ab","span_id":"06","service":"orders","start":1800000000000000000})";
  ParsedSpans parsed = ParseNdjsonSpans(body, kNow);
  ASSERT_EQ(parsed.spans.size(), 2u);
  EXPECT_EQ(parsed.rejected, 6u);
  ASSERT_EQ(parsed.errors.size(), 6u);
  EXPECT_EQ(parsed.errors[0].line, 3u);
  EXPECT_NE(parsed.errors[0].message.find("trace_id"), std::string::npos);
  EXPECT_EQ(parsed.errors[5].line, 8u);

  const Span& s = parsed.spans[0];
  EXPECT_EQ(s.trace_id, "ab12");  // hex ids are lower-cased
  EXPECT_EQ(s.kind, SpanKind::kServer);
  EXPECT_TRUE(s.error);
  EXPECT_DOUBLE_EQ(s.duration_ms, 12.5);
  EXPECT_EQ(s.IntAttr("http.status_code"), 503);
  EXPECT_EQ(parsed.spans[1].start_ns, 1'800'000'000'000'000'000);
  EXPECT_EQ(parsed.spans[1].kind, SpanKind::kInternal);
}

TEST(SpanTest, NestingPastTheLimitRejectsTheLine) {
  const std::string deep = R"({"trace_id":"ab","span_id":"01","service":"orders","x":)" +
                           std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']') + "}";
  ParsedSpans parsed = ParseNdjsonSpans(deep, kNow);
  EXPECT_TRUE(parsed.spans.empty());
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_NE(parsed.errors[0].message.find("nested deeper than 64"), std::string::npos)
      << parsed.errors[0].message;
}

TEST(SpanTest, StoredLineReadsBackEqual) {
  Span s;
  s.trace_id = "t1";
  s.span_id = "s1";
  s.parent_span_id = "p1";
  s.service = "orders";
  s.instance = "orders-1";
  s.name = "GET \"/x\"\n";
  s.kind = SpanKind::kConsumer;
  s.start_ns = 1'700'000'000'123'456'789;
  s.duration_ms = 0.25;
  s.error = true;
  s.attrs = {{"z", std::string("last")}, {"a", int64_t{-3}}, {"f", 1.5}, {"b", false}};
  std::string line;
  AppendSpanLine(line, s);
  ParsedSpans parsed = ParseNdjsonSpans(line, kNow);
  ASSERT_EQ(parsed.spans.size(), 1u) << line;
  EXPECT_EQ(parsed.spans[0], s);
}

// Found by fuzz/ndjson_spans: a start before 1970 was accepted as RFC 3339
// but its stored line (integer ns, negative) was refused on the way back, so
// the span store could not read it.
TEST(SpanTest, StartBefore1970ReadsBackEqual) {
  ParsedSpans in = ParseNdjsonSpans(
      R"({"trace_id":"t1","span_id":"s1","service":"orders","start":"1969-12-31T23:59:59Z"})",
      kNow);
  ASSERT_EQ(in.spans.size(), 1u) << (in.errors.empty() ? "" : in.errors[0].message);
  EXPECT_EQ(in.spans[0].start_ns, -1'000'000'000);
  std::string line;
  AppendSpanLine(line, in.spans[0]);
  ParsedSpans parsed = ParseNdjsonSpans(line, kNow);
  ASSERT_EQ(parsed.spans.size(), 1u) << line;
  EXPECT_EQ(parsed.spans[0], in.spans[0]);
}

}  // namespace
}  // namespace hive::collector
