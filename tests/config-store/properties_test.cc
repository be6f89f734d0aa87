#include "hive/config_store/properties.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace hive::config_store {
namespace {

Properties MustParse(std::string_view json) {
  auto p = ParseJsonDocument(json);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : Properties{};
}

TEST(PropertiesTest, FlattensNestedObjectsToDottedKeys) {
  auto p = MustParse(R"({"db":{"pool":{"size":5},"url":"jdbc:x"},"name":"payments"})");
  EXPECT_EQ(p, (Properties{{"db.pool.size", Value::Int(5)},
                           {"db.url", Value::String("jdbc:x")},
                           {"name", Value::String("payments")}}));
}

TEST(PropertiesTest, FlattensArraysWithIndexes) {
  auto p = MustParse(R"({"hosts":["a","b"],"m":[{"x":1},[true,null]]})");
  EXPECT_EQ(p, (Properties{{"hosts[0]", Value::String("a")},
                           {"hosts[1]", Value::String("b")},
                           {"m[0].x", Value::Int(1)},
                           {"m[1][0]", Value::Bool(true)},
                           {"m[1][1]", Value::Null()}}));
}

TEST(PropertiesTest, KeepsScalarTypesAndNumberSpelling) {
  auto p = MustParse(
      R"({"s":"5","i":-3,"f":0.25,"big":18446744073709551615,"t":true,"f2":false,"n":null})");
  EXPECT_EQ(p.at("s").type(), ValueType::kString);
  EXPECT_EQ(p.at("s").text(), "5");
  EXPECT_EQ(p.at("i"), Value::Int(-3));
  EXPECT_EQ(p.at("f"), Value::Double(0.25));
  EXPECT_EQ(p.at("big"), Value::Number("18446744073709551615"));
  EXPECT_EQ(p.at("t"), Value::Bool(true));
  EXPECT_EQ(p.at("f2"), Value::Bool(false));
  EXPECT_EQ(p.at("n"), Value::Null());
}

TEST(PropertiesTest, EmptyContainersAddNoKeys) {
  EXPECT_TRUE(MustParse(R"({"a":{},"b":[]})").empty());
  EXPECT_TRUE(MustParse("{}").empty());
}

TEST(PropertiesTest, RejectsBadKeysNamingThem) {
  auto space = ParseJsonDocument(R"({"a b":1})");
  ASSERT_TRUE(space.status().IsInvalidArgument());
  EXPECT_NE(space.status().message().find("'a b'"), std::string::npos) << space.status().message();

  auto nested = ParseJsonDocument(R"({"ok":{"bad/key":1}})");
  ASSERT_TRUE(nested.status().IsInvalidArgument());
  EXPECT_NE(nested.status().message().find("'ok.bad/key'"), std::string::npos);

  auto empty = ParseJsonDocument(R"({"db":{"":1}})");
  ASSERT_TRUE(empty.status().IsInvalidArgument());
  EXPECT_NE(empty.status().message().find("empty member name under 'db'"), std::string::npos);

  auto long_key = ParseJsonDocument(R"({")" + std::string(257, 'k') + R"(":1})");
  ASSERT_TRUE(long_key.status().IsInvalidArgument());
  EXPECT_NE(long_key.status().message().find("longer than 256"), std::string::npos);
  EXPECT_TRUE(ParseJsonDocument(R"({")" + std::string(256, 'k') + R"(":1})").ok());

  // Deep nesting grows the key past the limit long before the stack matters.
  std::string deep = R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(ParseJsonDocument(deep).status().IsInvalidArgument());

  EXPECT_TRUE(ValidateKey("Spring.datasource-url_1[0]").ok());
  EXPECT_TRUE(ValidateKey("").IsInvalidArgument());
}

TEST(PropertiesTest, RejectsMembersThatFlattenToTheSameKey) {
  auto dup = ParseJsonDocument(R"({"a.b":1,"a":{"b":2}})");
  ASSERT_TRUE(dup.status().IsInvalidArgument());
  EXPECT_NE(dup.status().message().find("'a.b'"), std::string::npos);
}

TEST(PropertiesTest, MalformedJsonReportsLineAndColumn) {
  auto bad = ParseJsonDocument(R"({"a": 1,})");
  ASSERT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_NE(bad.status().message().find("malformed JSON at line 1, column 9"), std::string::npos)
      << bad.status().message();
  auto second_line = ParseJsonDocument("{\"a\": 1,\n  \"b\": tru}");
  EXPECT_NE(second_line.status().message().find("at line 2, column"), std::string::npos)
      << second_line.status().message();
  EXPECT_TRUE(ParseJsonDocument("").status().IsInvalidArgument());
  EXPECT_TRUE(ParseJsonDocument("{\"a\":\"\xff\"}").status().IsInvalidArgument());
}

TEST(PropertiesTest, RejectsTopLevelNonObject) {
  for (std::string_view doc : {"[1,2]", "\"x\"", "5", "null"}) {
    auto r = ParseJsonDocument(doc);
    ASSERT_TRUE(r.status().IsInvalidArgument()) << doc;
    EXPECT_NE(r.status().message().find("must be a JSON object"), std::string::npos);
  }
}

TEST(PropertiesTest, HashDependsOnContentNotFormatting) {
  auto a = MustParse(R"({"a":1,"b":{"c":true}})");
  auto b = MustParse(R"({ "b" : { "c" : true }, "a" : 1 })");
  auto c = MustParse(R"({"a":1,"b":{"c":"true"}})");
  EXPECT_EQ(ContentHash(a), ContentHash(b));
  EXPECT_NE(ContentHash(a), ContentHash(c));
  EXPECT_EQ(ContentHash(a).size(), 64u);
}

TEST(PropertiesTest, ValuesRenderAsJson) {
  EXPECT_EQ(Value::String("a\"b").ToJson(), R"("a\"b")");
  EXPECT_EQ(Value::Double(0.5).text(), "0.5");
  EXPECT_EQ(Value::Double(2).text(), "2.0");
  EXPECT_EQ(Value::Double(std::nan("")), Value::Null());
  EXPECT_TRUE(Value::FromStored(ValueType::kNumber, "1.5e-3").ok());
  EXPECT_TRUE(Value::FromStored(ValueType::kNumber, "01").status().IsInvalidArgument());
  EXPECT_TRUE(Value::FromStored(ValueType::kBool, "yes").status().IsInvalidArgument());

  Properties p{{"x.y", Value::Int(1)}, {"s", Value::String("é\n")}, {"n", Value::Null()}};
  auto j = nlohmann::json::parse(PropertiesToJson(p));
  EXPECT_EQ(j, (nlohmann::json{{"x.y", 1}, {"s", "é\n"}, {"n", nullptr}}));
  EXPECT_EQ(MustParse(PropertiesToJson(p)), p);
}

}  // namespace
}  // namespace hive::config_store
