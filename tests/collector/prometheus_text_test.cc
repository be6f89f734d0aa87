#include "hive/collector/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hive::collector {
namespace {

TEST(PrometheusTextTest, ParsesAllTypesLabelsEscapesAndTimestamps) {
  const std::string text =
      "# HELP http_requests_total Requests served.\\nBy code.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{code=\"200\",method=\"GET\"} 1027 1700000000000\n"
      "http_requests_total{method=\"POST\", code=\"500\",} 3\n"
      "# A plain comment\n"
      "\n"
      "   # TYPE temperature gauge\n"
      "temperature -1.5e3\n"
      "# TYPE latency_seconds histogram\n"
      "latency_seconds_bucket{le=\"0.1\"} 5\n"
      "latency_seconds_bucket{le=\"+Inf\"} 7\r\n"
      "latency_seconds_sum 1.25\n"
      "latency_seconds_count 7\n"
      "# TYPE rpc_seconds summary\n"
      "rpc_seconds{quantile=\"0.99\"} NaN\n"
      "rpc_seconds_sum 0\n"
      "rpc_seconds_count 0\n"
      "weird{path=\"C:\\\\dir\\\\\\\"x\\\"\\nnext\"} +Inf\n"
      "untyped_thing:sub -Inf\n";
  Result<ParsedExposition> parsed = ParsePrometheusText(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const auto& s = parsed->samples;
  ASSERT_EQ(s.size(), 12u);
  EXPECT_EQ(s[0].name, "http_requests_total");
  EXPECT_EQ(s[0].labels, (Labels{{"code", "200"}, {"method", "GET"}}));
  EXPECT_EQ(s[0].value, 1027);
  EXPECT_EQ(s[0].timestamp_ms, 1'700'000'000'000);
  EXPECT_EQ(s[1].labels, (Labels{{"code", "500"}, {"method", "POST"}}));  // sorted
  EXPECT_FALSE(s[1].timestamp_ms.has_value());
  EXPECT_EQ(s[2].value, -1500);
  EXPECT_EQ(s[3].family, "latency_seconds");
  EXPECT_EQ(s[4].labels[0].second, "+Inf");
  EXPECT_EQ(s[5].family, "latency_seconds");
  EXPECT_TRUE(std::isnan(s[7].value));
  EXPECT_EQ(s[8].family, "rpc_seconds");
  EXPECT_EQ(s[10].labels[0].second, "C:\\dir\\\"x\"\nnext");
  EXPECT_TRUE(std::isinf(s[10].value) && s[10].value > 0);
  EXPECT_EQ(s[11].name, "untyped_thing:sub");
  EXPECT_EQ(s[11].value, -INFINITY);

  const auto& f = parsed->families;
  EXPECT_EQ(f.at("http_requests_total").type, MetricType::kCounter);
  EXPECT_EQ(f.at("http_requests_total").help, "Requests served.\nBy code.");
  EXPECT_EQ(f.at("temperature").type, MetricType::kGauge);
  EXPECT_EQ(f.at("latency_seconds").type, MetricType::kHistogram);
  EXPECT_EQ(f.at("rpc_seconds").type, MetricType::kSummary);
  EXPECT_EQ(f.at("weird").type, MetricType::kUntyped);
}

struct BadInput {
  const char* text;
  const char* want;  // a fragment of the message, with the line number
};

class PrometheusTextBadInputTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(PrometheusTextBadInputTest, IsRejectedWithItsLineNumber) {
  Result<ParsedExposition> parsed = ParsePrometheusText(GetParam().text);
  ASSERT_FALSE(parsed.ok()) << GetParam().text;
  EXPECT_TRUE(parsed.status().IsInvalidArgument());
  EXPECT_NE(parsed.status().message().find(GetParam().want), std::string::npos)
      << parsed.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Nasty, PrometheusTextBadInputTest,
    ::testing::Values(
        BadInput{"ok 1\n9lives 1\n", "line 2: invalid metric name"},
        BadInput{"x{a=\"1\" 1\n", "line 1: expected ',' or '}'"},
        BadInput{"x{a=\"1} 1\n", "line 1: unterminated value"},
        BadInput{"x{a=1} 1\n", "must be a quoted string"},
        BadInput{"x{1a=\"1\"} 1\n", "invalid label name"},
        BadInput{"x{a=\"1\",a=\"2\"} 1\n", "duplicate label 'a'"},
        BadInput{"x{a=\"\\t\"} 1\n", "invalid escape \\t"},
        BadInput{"x{__name__=\"y\"} 1\n", "__name__"}, BadInput{"x\n", "missing sample value"},
        BadInput{"x one\n", "invalid sample value 'one'"},
        BadInput{"x 1 12.5\n", "invalid timestamp"}, BadInput{"x 1 2 3\n", "unexpected text"},
        BadInput{"x{} 1\nx 2\n", "line 2: duplicate sample"},
        BadInput{"# TYPE x counter\n# TYPE x gauge\n", "line 2: second TYPE"},
        BadInput{"# HELP x a\n# HELP x b\n", "second HELP"},
        BadInput{"x 1\n# TYPE x counter\n", "line 2: TYPE line for 'x' after its samples"},
        BadInput{"# TYPE x countr\n", "unknown metric type 'countr'"},
        BadInput{"# TYPE h histogram\nh_bucket 1\n", "has no 'le' label"},
        BadInput{"# TYPE s summary\ns 1\n", "has no 'quantile' label"},
        BadInput{"# HELP x bad \\q escape\n", "invalid escape"},
        BadInput{"x +-1\n", "invalid sample value"},
        BadInput{"x{a=\"1\"}1\n", "expected a space"}));

TEST(PrometheusTextTest, EmptyAndCommentOnlyBodiesHaveNoSamples) {
  for (const char* text : {"", "\n\n", "# just a comment\n", "# TYPE x counter\n"}) {
    Result<ParsedExposition> parsed = ParsePrometheusText(text);
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_TRUE(parsed->samples.empty());
  }
}

// Found by fuzz/prometheus_text: "\r\r\n" left a CR in the HELP text, which
// the writer then wrote back as a line ending.
TEST(PrometheusTextTest, EveryTrailingCarriageReturnIsALineEnding) {
  Result<ParsedExposition> parsed = ParsePrometheusText("# HELP x bi\r\r\nx 1\r\r\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->families.at("x").help, "bi");
  EXPECT_EQ(parsed->samples.at(0).value, 1);
}

TEST(PrometheusTextTest, WriterOutputParsesBack) {
  Labels labels = {{"path", "a\"b\\c\nd"}, {"service", "orders"}};
  std::string out;
  AppendFamilyHeader(out, {"x_total", MetricType::kCounter, "Help with \\ and\nnewline"});
  AppendSampleLine(out, "x_total", labels, 0.1);
  AppendSampleLine(out, "x_total", {}, NAN, 42);
  Result<ParsedExposition> parsed = ParsePrometheusText(out);
  ASSERT_TRUE(parsed.ok()) << out;
  ASSERT_EQ(parsed->samples.size(), 2u);
  EXPECT_EQ(parsed->samples[0].labels, labels);
  EXPECT_EQ(parsed->samples[0].value, 0.1);
  EXPECT_TRUE(std::isnan(parsed->samples[1].value));
  EXPECT_EQ(parsed->samples[1].timestamp_ms, 42);
  EXPECT_EQ(parsed->families.at("x_total").help, "Help with \\ and\nnewline");
  EXPECT_EQ(FormatSampleValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatSampleValue(3), "3");
}

}  // namespace
}  // namespace hive::collector
