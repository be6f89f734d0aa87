#include "hive/core/text.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hive {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(DurationTest, ParsesUnitsAndCompounds) {
  EXPECT_EQ(*ParseDuration("5s"), seconds(5));
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("1m30s"), seconds(90));
  EXPECT_EQ(*ParseDuration("2h"), seconds(7200));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseDuration("30"), seconds(30));
}

TEST(DurationTest, RejectsGarbage) {
  EXPECT_TRUE(ParseDuration("").status().IsInvalidArgument());
  EXPECT_TRUE(ParseDuration("5x").status().IsInvalidArgument());
  EXPECT_TRUE(ParseDuration("s").status().IsInvalidArgument());
  EXPECT_TRUE(ParseDuration("-5s").status().IsInvalidArgument());
}

TEST(DurationTest, FormatsShortest) {
  EXPECT_EQ(FormatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(FormatDuration(seconds(0)), "0s");
}

TEST(ByteSizeTest, ParsesBinaryAndDecimal) {
  EXPECT_EQ(*ParseByteSize("256MiB"), 256ull << 20);
  EXPECT_EQ(*ParseByteSize("10GiB"), 10ull << 30);
  EXPECT_EQ(*ParseByteSize("64KB"), 64000u);
  EXPECT_EQ(*ParseByteSize("1000"), 1000u);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_FALSE(ParseByteSize("5 parsecs").ok());
  EXPECT_FALSE(ParseByteSize("99999999999999999999GiB").ok());
}

TEST(Rfc3339Test, RoundTrips) {
  auto t = ParseRfc3339("2026-11-22T10:00:00.123456789Z");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-22T10:00:00.123456789Z");
  EXPECT_EQ(ToUnixNanos(*ParseRfc3339("1970-01-01T00:00:01Z")), 1'000'000'000);
}

TEST(Rfc3339Test, HonoursOffsets) {
  EXPECT_EQ(*ParseRfc3339("2026-11-22T12:00:00+02:00"), *ParseRfc3339("2026-11-22T10:00:00Z"));
  EXPECT_EQ(*ParseRfc3339("2026-11-22T08:30:00-01:30"), *ParseRfc3339("2026-11-22T10:00:00Z"));
}

TEST(Rfc3339Test, RejectsGarbage) {
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
  EXPECT_FALSE(ParseRfc3339("2026-13-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-11-22T10:00:00").ok());
  EXPECT_FALSE(ParseRfc3339("2026-11-22T10:00:00Zjunk").ok());
}

TEST(JsonStringTest, EscapesAndRepairsUtf8) {
  EXPECT_EQ(JsonString("a\"b\\c\n"), R"("a\"b\\c\n")");
  EXPECT_EQ(JsonString(std::string("\x01", 1)), R"("\u0001")");
  EXPECT_EQ(JsonString("h\xC3\xA9"), "\"h\xC3\xA9\"");
  EXPECT_EQ(JsonString("bad\xFF"), "\"bad\xEF\xBF\xBD\"");
}

TEST(JsonNumberTest, ShortestAndRecognisablyFractional) {
  std::string out;
  AppendJsonNumber(out, 0.3);
  out += ',';
  AppendJsonNumber(out, 2.0);
  out += ',';
  AppendJsonNumber(out, 1e300);
  out += ',';
  AppendJsonNumber(out, std::nan(""));
  EXPECT_EQ(out, "0.3,2.0,1e+300,null");
}

TEST(PropertiesEscapeTest, EscapesLikeJavaUtilProperties) {
  std::string key, value;
  AppendPropertiesEscaped(key, "a key:x", /*is_key=*/true);
  AppendPropertiesEscaped(value, " lead=1 #\n\xC3\xA9\xF0\x9F\x90\x9D", /*is_key=*/false);
  EXPECT_EQ(key, "a\\ key\\:x");
  EXPECT_EQ(value, "\\ lead\\=1 \\#\\n\\u00E9\\uD83D\\uDC1D");
}

TEST(NameTest, FollowsTheRule) {
  EXPECT_TRUE(ValidateName("orders", "service").ok());
  EXPECT_TRUE(ValidateName("orders-1.eu_west", "instance").ok());
  EXPECT_FALSE(ValidateName("", "service").ok());
  EXPECT_FALSE(ValidateName("Orders", "service").ok());
  EXPECT_FALSE(ValidateName("-orders", "service").ok());
  EXPECT_FALSE(ValidateName("a/b", "service").ok());
  EXPECT_FALSE(ValidateName(std::string(64, 'a'), "service").ok());
  EXPECT_TRUE(ValidateName(std::string(63, 'a'), "service").ok());
}

}  // namespace
}  // namespace hive
