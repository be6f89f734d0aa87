#include "hive/collector/otlp.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hive/core/text.h"

namespace hive::collector {
namespace {

using nlohmann::json;

// An ExportTraceServiceRequest as an OTLP/HTTP JSON exporter sends it.
constexpr std::string_view kTraces = R"({
  "resourceSpans": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "Checkout Service"}},
      {"key": "service.instance.id", "value": {"stringValue": "checkout-7"}}]},
    "scopeSpans": [{
      "scope": {"name": "my.library", "version": "1.0.0"},
      "spans": [
        {"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
         "parentSpanId": "EEE19B7EC3C1B173", "name": "GET /pay", "kind": 3,
         "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661500000000",
         "attributes": [
           {"key": "peer.service", "value": {"stringValue": "payments"}},
           {"key": "http.response.status_code", "value": {"intValue": "503"}},
           {"key": "retry", "value": {"boolValue": true}},
           {"key": "ratio", "value": {"doubleValue": 0.5}},
           {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}}],
         "status": {"code": 2, "message": "upstream failed"}},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175",
         "name": "internal", "kind": "SPAN_KIND_SERVER",
         "startTimeUnixNano": 1544712660000000000, "endTimeUnixNano": 1544712660000000000},
        {"traceId": "00000000000000000000000000000000", "spanId": "eee19b7ec3c1b176",
         "startTimeUnixNano": "1", "endTimeUnixNano": "2"},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "short",
         "startTimeUnixNano": "1", "endTimeUnixNano": "2"},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b177",
         "kind": 9, "startTimeUnixNano": "1", "endTimeUnixNano": "2"},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b178",
         "startTimeUnixNano": "5", "endTimeUnixNano": "2"}
      ]}]}]})";

TEST(OtlpTest, TracesFollowTheJsonEncoding) {
  Result<OtlpSpans> parsed = ParseOtlpTraces(kTraces);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->spans.size(), 2u);
  EXPECT_EQ(parsed->rejected, 4u);
  EXPECT_NE(parsed->error_message.find("all zero"), std::string::npos) << parsed->error_message;

  const Span& s = parsed->spans[0];
  EXPECT_EQ(s.trace_id, "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(s.span_id, "eee19b7ec3c1b174");
  EXPECT_EQ(s.parent_span_id, "eee19b7ec3c1b173");
  EXPECT_EQ(s.service, "checkout-service");
  EXPECT_EQ(s.instance, "checkout-7");
  EXPECT_EQ(s.kind, SpanKind::kClient);
  EXPECT_EQ(s.start_ns, 1544712660000000000);
  EXPECT_DOUBLE_EQ(s.duration_ms, 1500);
  EXPECT_TRUE(s.error);
  EXPECT_EQ(s.StringAttr("peer.service"), "payments");
  EXPECT_EQ(s.IntAttr("http.status_code"), 503);
  EXPECT_EQ(s.StringAttr("tags"), R"({"values":[{"stringValue":"a"}]})");
  EXPECT_EQ(parsed->spans[1].kind, SpanKind::kServer);
  EXPECT_EQ(parsed->spans[1].parent_span_id, "");
  EXPECT_EQ(parsed->spans[1].service, "checkout-service");
}

TEST(OtlpTest, MalformedRequestsArePermanentErrors) {
  for (
      std::string_view body :
      {std::string_view("not json"), std::string_view("[]"),
       std::string_view(R"({"resourceSpans": {}})"),
       std::string_view(R"({"resourceSpans": [{"scopeSpans": 3}]})"),
       std::string_view(R"({"resourceSpans": [{"scopeSpans": [{"spans": "x"}]}]})"),
       std::string_view(
           R"({"resourceSpans": [{"resource": {"attributes": [{"value": {}}]}, "scopeSpans": []}]})")}) {
    Result<OtlpSpans> parsed = ParseOtlpTraces(body);
    EXPECT_TRUE(parsed.status().IsInvalidArgument()) << body;
  }
  Result<OtlpSpans> empty = ParseOtlpTraces("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->spans.empty());
}

TEST(OtlpTest, LogsMapSeverityBodyAndIds) {
  const TimePoint now = FromUnixNanos(1'800'000'000'000'000'000);
  Result<OtlpLogs> parsed = ParseOtlpLogs(R"({
    "resourceLogs": [{
      "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "orders"}},
                                  {"key": "host.name", "value": {"stringValue": "node-1"}}]},
      "scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1544712660300000000", "severityNumber": 17, "severityText": "Error",
         "body": {"stringValue": "payment failed"}, "traceId": "5B8EFFF798038103D269B633813FC60C",
         "spanId": "EEE19B7EC3C1B174",
         "attributes": [{"key": "order.id", "value": {"intValue": "42"}}]},
        {"observedTimeUnixNano": "1544712660400000000", "severityNumber": 10,
         "body": {"kvlistValue": {"values": []}}},
        {"severityText": "WARN", "body": {"intValue": "7"}},
        {"traceId": "xyz"},
        {"severityNumber": 99}
      ]}]}]})",
                                          now);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->events.size(), 3u);
  EXPECT_EQ(parsed->rejected, 2u);
  const LogEvent& e = parsed->events[0];
  EXPECT_EQ(e.service, "orders");
  EXPECT_EQ(e.instance, "node-1");
  EXPECT_EQ(e.level, LogLevel::kError);
  EXPECT_EQ(e.message, "payment failed");
  EXPECT_EQ(e.ts_ns, 1544712660300000000);
  EXPECT_EQ(e.trace_id, "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(e.span_id, "eee19b7ec3c1b174");
  ASSERT_EQ(e.attrs.size(), 1u);
  EXPECT_EQ(e.attrs[0].second, AttrValue(int64_t{42}));
  EXPECT_EQ(parsed->events[1].level, LogLevel::kInfo);
  EXPECT_EQ(parsed->events[1].ts_ns, 1544712660400000000);
  EXPECT_EQ(parsed->events[1].message, R"({"values":[]})");
  EXPECT_EQ(parsed->events[2].level, LogLevel::kWarn);
  EXPECT_EQ(parsed->events[2].ts_ns, ToUnixNanos(now));
  EXPECT_EQ(parsed->events[2].message, "7");
}

TEST(OtlpTest, MetricsBecomePrometheusSamples) {
  Result<OtlpMetrics> parsed = ParseOtlpMetrics(R"({"resourceMetrics":[{
    "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}]},
    "scopeMetrics":[{"metrics":[
      {"name":"http.server.requests","description":"Requests.","sum":{"aggregationTemporality":2,
        "isMonotonic":true,"dataPoints":[{"asInt":"12","timeUnixNano":"1544712660000000000",
        "attributes":[{"key":"http.route","value":{"stringValue":"/pay"}}]}]}},
      {"name":"queue.depth","gauge":{"dataPoints":[{"asDouble":2.5}]}},
      {"name":"latency","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"3",
        "sum":0.6,"bucketCounts":["1","2","0"],"explicitBounds":[0.1,0.5]}]}},
      {"name":"rpc","summary":{"dataPoints":[{"count":"2","sum":1,
        "quantileValues":[{"quantile":0.99,"value":0.9}]}]}},
      {"name":"deltas","sum":{"aggregationTemporality":1,"isMonotonic":true,
        "dataPoints":[{"asInt":"1"}]}},
      {"name":"broken","histogram":{"dataPoints":[{"count":"1","bucketCounts":["1"],
        "explicitBounds":[1]}]}}
    ]}]}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->rejected, 2u);
  ASSERT_EQ(parsed->resources.size(), 1u);
  const OtlpResourceMetrics& r = parsed->resources[0];
  EXPECT_EQ(r.service, "orders");
  const auto& f = r.exposition.families;
  EXPECT_EQ(f.at("http_server_requests_total").type, MetricType::kCounter);
  EXPECT_EQ(f.at("http_server_requests_total").help, "Requests.");
  EXPECT_EQ(f.at("queue_depth").type, MetricType::kGauge);
  EXPECT_EQ(f.at("latency").type, MetricType::kHistogram);
  std::vector<std::string> lines;
  for (const ParsedSample& s : r.exposition.samples) {
    std::string line;
    AppendSampleLine(line, s.name, s.labels, s.value, s.timestamp_ms);
    lines.push_back(line);
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "http_server_requests_total{http_route=\"/pay\"} 12 1544712660000\n",
                       "queue_depth 2.5\n",
                       "latency_bucket{le=\"0.1\"} 1\n",
                       "latency_bucket{le=\"0.5\"} 3\n",
                       "latency_bucket{le=\"+Inf\"} 3\n",
                       "latency_sum 0.6\n",
                       "latency_count 3\n",
                       "rpc{quantile=\"0.99\"} 0.9\n",
                       "rpc_sum 1\n",
                       "rpc_count 2\n",
                   }));
  EXPECT_TRUE(ParseOtlpMetrics(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{}]}]}]})")
                  .status()
                  .IsInvalidArgument());
}

// Found by fuzz/otlp_metrics: a summary named like an earlier histogram
// retyped the histogram's family, leaving _bucket series in a summary.
TEST(OtlpTest, AMetricNameKeepsItsFirstType) {
  Result<OtlpMetrics> parsed = ParseOtlpMetrics(R"({"resourceMetrics":[{
    "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}]},
    "scopeMetrics":[{"metrics":[
      {"name":"latency","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"3",
        "sum":0.6,"bucketCounts":["1","2"],"explicitBounds":[0.1]}]}},
      {"name":"latency","summary":{"dataPoints":[{"count":"2","sum":1}]}}]}]}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->resources.size(), 1u);
  const ParsedExposition& e = parsed->resources[0].exposition;
  EXPECT_EQ(e.families.at("latency").type, MetricType::kHistogram);
  EXPECT_EQ(e.samples.size(), 4u);  // two buckets, _sum, _count
  EXPECT_EQ(parsed->rejected, 1u);
  EXPECT_NE(parsed->error_message.find("already sent as a histogram"), std::string::npos)
      << parsed->error_message;
}

// An AnyValue nested `depth` arrays deep, as a span attribute.
std::string DeepAttributeTraces(size_t depth) {
  std::string value;
  for (size_t i = 0; i < depth; ++i) value += R"({"arrayValue":{"values":[)";
  value += R"({"stringValue":"x"})";
  for (size_t i = 0; i < depth; ++i) value += "]}}";
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":)"
         R"("5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",)"
         R"("startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"deep","value":)" +
         value + "}]}]}]}]}";
}

// Issue 12: an arrayValue 100,000 deep reached json::dump(), which recursed
// until the stack ran out. Every signal refuses nesting past kMaxJsonDepth
// before the tree is built.
TEST(OtlpTest, NestingPastTheLimitIsRefusedBeforeAnyWalk) {
  Result<OtlpSpans> deep = ParseOtlpTraces(DeepAttributeTraces(100'000));
  ASSERT_TRUE(deep.status().IsInvalidArgument());
  EXPECT_NE(deep.status().message().find("nested deeper than 64"), std::string::npos)
      << deep.status().ToString();
  const std::string deep_body = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_TRUE(ParseOtlpLogs(deep_body, FromUnixNanos(0)).status().IsInvalidArgument());
  EXPECT_TRUE(ParseOtlpMetrics(deep_body).status().IsInvalidArgument());

  // At the limit the array is kept as its JSON text, as before: the value
  // sits 9 levels down (request, resourceSpans, ..., attribute), each level
  // of it opens 3 and the innermost AnyValue 1.
  Result<OtlpSpans> fits = ParseOtlpTraces(DeepAttributeTraces((kMaxJsonDepth - 10) / 3));
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  ASSERT_EQ(fits->spans.size(), 1u);
  EXPECT_TRUE(fits->spans[0].StringAttr("deep").starts_with(R"({"values":[{"arrayValue")"));
}

TEST(OtlpTest, ResponsesFollowTheSpec) {
  EXPECT_EQ(OtlpResponseJson("rejectedSpans", 0, ""), "{}");
  json partial = json::parse(OtlpResponseJson("rejectedSpans", 3, "bad id"));
  EXPECT_EQ(partial["partialSuccess"]["rejectedSpans"], "3");  // int64 as a string
  EXPECT_EQ(partial["partialSuccess"]["errorMessage"], "bad id");
  json status = json::parse(OtlpStatusJson(3, "broken"));
  EXPECT_EQ(status["code"], 3);
  EXPECT_EQ(status["message"], "broken");
  EXPECT_EQ(SanitizeServiceName("  My_Service/v2 "), "my_service-v2-");
  EXPECT_EQ(SanitizeServiceName("!!!"), "unknown_service");
}

}  // namespace
}  // namespace hive::collector
