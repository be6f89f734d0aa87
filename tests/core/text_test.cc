#include "hive/core/text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>

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

// Found by fuzz/core_text: a bare number of seconds, or terms adding up past
// int64 nanoseconds, overflowed.
TEST(DurationTest, RejectsDurationsPastTheNanosecondRange) {
  EXPECT_TRUE(ParseDuration("9999977772029").status().IsInvalidArgument());
  EXPECT_TRUE(
      ParseDuration("9000000000000000000ns9000000000000000000ns").status().IsInvalidArgument());
  EXPECT_EQ(*ParseDuration("9223372036"), seconds(9223372036));
  // What FormatDuration writes for the largest ones reads back too.
  EXPECT_EQ(*ParseDuration(FormatDuration(seconds(9209999029))), seconds(9209999029));
}

// Found by fuzz/core_text: "2.05s" read as 2049999999ns (the double was
// truncated), and FormatDuration dropped anything under a millisecond once
// the duration was a second or more.
TEST(DurationTest, FormattedDurationsReadBackExactly) {
  EXPECT_EQ(*ParseDuration("2.05s"), milliseconds(2050));
  EXPECT_EQ(*ParseDuration("0.3s"), milliseconds(300));
  EXPECT_EQ(FormatDuration(std::chrono::nanoseconds(1'000'000'001)), "1.000000001s");
  EXPECT_EQ(FormatDuration(std::chrono::nanoseconds(3'600'000'250'000)), "1h0.00025s");
  for (int64_t ns : {int64_t{2'050'000'000}, int64_t{1'000'000'001}, int64_t{3'600'000'250'000},
                     int64_t{86'399'999'999'999}}) {
    const std::chrono::nanoseconds d(ns);
    EXPECT_EQ(*ParseDuration(FormatDuration(d)), d) << FormatDuration(d);
  }
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

// Found by fuzz/core_text: years past 2262 overflowed int64 nanoseconds.
TEST(Rfc3339Test, RejectsTimesOutsideTheNanosecondRange) {
  EXPECT_TRUE(ParseRfc3339("9999-12-31T23:59:59Z").status().IsInvalidArgument());
  EXPECT_TRUE(ParseRfc3339("0001-01-01T00:00:00Z").status().IsInvalidArgument());
  EXPECT_TRUE(ParseRfc3339("2262-04-11T23:47:16.854775808Z").status().IsInvalidArgument());
  auto last = ParseRfc3339("2262-04-11T23:47:16.854775807Z");
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(ToUnixNanos(*last), INT64_MAX);
  EXPECT_EQ(FormatRfc3339(*last), "2262-04-11T23:47:16.854775807Z");
}

TEST(Rfc3339Test, FormatsAsGmtimeDoes) {
  // Leap days, the turn of centuries, before 1970 and the ends of the range.
  for (int64_t ns : {int64_t{0}, int64_t{-1}, int64_t{951'782'400'000'000'000},
                     int64_t{4'107'542'399'999'999'999}, int64_t{-2'208'988'800'000'000'001},
                     int64_t{1'709'164'800'123'000'000}, INT64_MIN, INT64_MAX}) {
    int64_t secs = ns / 1'000'000'000;
    int64_t frac = ns % 1'000'000'000;
    if (frac < 0) {
      frac += 1'000'000'000;
      --secs;
    }
    const std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char want[48];
    std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(frac));
    EXPECT_EQ(FormatRfc3339(FromUnixNanos(ns)), want) << ns;
  }
}

TEST(JsonStringTest, EscapesAndRepairsUtf8) {
  EXPECT_EQ(JsonString("a\"b\\c\n"), R"("a\"b\\c\n")");
  EXPECT_EQ(JsonString(std::string("\x01", 1)), R"("\u0001")");
  EXPECT_EQ(JsonString("h\xC3\xA9"), "\"h\xC3\xA9\"");
  EXPECT_EQ(JsonString("bad\xFF"), "\"bad\xEF\xBF\xBD\"");
}

// Found by fuzz/core_text: overlong forms, surrogates and code points past
// U+10FFFF were copied through, so the "always valid JSON" was not.
TEST(JsonStringTest, ReplacesEveryInvalidUtf8Form) {
  EXPECT_EQ(JsonString("\xC1\xAF"), "\"\xEF\xBF\xBD\"");          // overlong 'o'
  EXPECT_EQ(JsonString("\xE0\x80\xAF"), "\"\xEF\xBF\xBD\"");      // overlong '/'
  EXPECT_EQ(JsonString("\xED\xA0\x80"), "\"\xEF\xBF\xBD\"");      // surrogate D800
  EXPECT_EQ(JsonString("\xF4\x90\x80\x80"), "\"\xEF\xBF\xBD\"");  // U+110000
  EXPECT_EQ(JsonString("\xEF\xBF\xBD\xF0\x9F\x90\x9D"), "\"\xEF\xBF\xBD\xF0\x9F\x90\x9D\"");
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

TEST(JsonDepthTest, CountsBracketsOutsideStrings) {
  EXPECT_TRUE(CheckJsonDepth("", 2).ok());
  EXPECT_TRUE(CheckJsonDepth(R"({"a":[1,{"b":2}]})", 3).ok());
  EXPECT_FALSE(CheckJsonDepth(R"({"a":[1,{"b":2}]})", 2).ok());
  // Brackets in strings, escaped quotes included, are text.
  EXPECT_TRUE(CheckJsonDepth(R"({"a":"[[[{{{\"[[[", "b":"\\"})", 1).ok());
  EXPECT_FALSE(CheckJsonDepth(R"({"a":"\\", "b":[[]]})", 2).ok());
  // Siblings do not add up; closing brackets past the top do not go below 0.
  EXPECT_TRUE(CheckJsonDepth("[[],[],[]]]]][[]", 2).ok());
}

TEST(JsonDepthTest, RefusesAHundredThousandLevelsQuickly) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  Status s = CheckJsonDepth(deep);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("deeper than 64 levels"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckJsonDepth(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')).ok());
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
