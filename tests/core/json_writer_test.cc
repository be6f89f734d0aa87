#include "hive/core/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace hive {
namespace {

TEST(JsonWriterTest, PlacesCommasAndColons) {
  JsonWriter w;
  w.BeginObject().Field("app", "orders").Field("version", int64_t{3}).Field("changed", true);
  w.Key("keys").BeginArray().String("a").String("b").EndArray();
  w.Key("empty").BeginObject().EndObject();
  w.Key("none").BeginArray().EndArray();
  w.Key("nested").BeginArray().BeginObject().Field("x", 1u).EndObject().Null().EndArray();
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"app":"orders","version":3,"changed":true,"keys":["a","b"],"empty":{},)"
                     R"("none":[],"nested":[{"x":1},null]})");
}

TEST(JsonWriterTest, EscapesStringsAndKeysAndKeepsOutputValidJson) {
  JsonWriter w;
  w.BeginObject()
      .Field("quote\"key", std::string("line\nbreak \"q\" \\ \x01"))
      .Field("bad utf-8", std::string("a\xff"
                                      "b"))
      .EndObject();
  const auto parsed = nlohmann::json::parse(w.str(), nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(parsed.is_discarded()) << w.str();
  EXPECT_EQ(parsed["quote\"key"], "line\nbreak \"q\" \\ \x01");
  EXPECT_EQ(parsed["bad utf-8"],
            "a\xEF\xBF\xBD"
            "b");  // U+FFFD
}

TEST(JsonWriterTest, NumbersRoundTripAndNonFiniteIsNull) {
  JsonWriter w;
  w.BeginArray()
      .Double(0.1)
      .Double(1.0)
      .Double(std::numeric_limits<double>::infinity())
      .Double(std::nan(""))
      .Int(std::numeric_limits<int64_t>::min())
      .Uint(std::numeric_limits<uint64_t>::max())
      .EndArray();
  EXPECT_EQ(w.str(), "[0.1,1.0,null,null,-9223372036854775808,18446744073709551615]");
}

TEST(JsonWriterTest, RawValuesAndPrefixesAndTake) {
  JsonWriter w;
  w.BeginObject().Key("cached").Raw(R"({"a":[1,2]})").Field("n", -1).EndObject();
  EXPECT_EQ(w.Take(), R"({"cached":{"a":[1,2]},"n":-1})");
  EXPECT_EQ(w.str(), "");
  w.BeginArray().Int(1).EndArray();
  EXPECT_EQ(w.Take(), "[1]");  // a taken writer starts over: no stray comma

  w.BeginArray().RawWith([](std::string& out) { out += "{}"; }).Time(TimePoint{}).EndArray();
  EXPECT_EQ(w.Take(), R"([{},"1970-01-01T00:00:00.000000000Z"])");

  JsonWriter prefixed("data: ");
  prefixed.BeginObject().Field("id", 7).EndObject();
  EXPECT_EQ(prefixed.str(), R"(data: {"id":7})");
}

}  // namespace
}  // namespace hive
