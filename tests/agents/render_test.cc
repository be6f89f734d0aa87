#include "hive/agent/render.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

namespace hive::agent {
namespace {

using nlohmann::json;

// Values that break naive writers.
Properties Awkward() {
  return {
      {"db.pool.size", int64_t{5}},
      {"failure_rate", 0.3},
      {"whole_float", 2.0},
      {"feature.enabled", true},
      {"nothing", std::monostate{}},
      {"greeting", std::string("say \"hi\"\nthen 'bye'")},
      {"dsn", std::string("user=ann password=a=b#c")},
      {"unicode", std::string("Grüße 👋")},
      {"spaces", std::string("  padded ")},
      {"dollar", std::string("$HOME and `cmd`")},
      {"backslash", std::string("C:\\temp\\new")},
      {"yes", std::string("yes")},
      {"number_string", std::string("0123")},
      {"list", JsonText{R"([1,"two"])"}},
      {"my-key with:colon", std::string("v")},
  };
}

TEST(RenderTest, JsonIsAFlatObjectWithTypedValues) {
  const std::string out = RenderProperties(ConfigFileFormat::kJson, Awkward());
  auto j = json::parse(out);
  EXPECT_EQ(j["db.pool.size"], 5);
  EXPECT_TRUE(j["db.pool.size"].is_number_integer());
  EXPECT_EQ(j["failure_rate"], 0.3);
  EXPECT_TRUE(j["whole_float"].is_number_float());
  EXPECT_EQ(j["feature.enabled"], true);
  EXPECT_TRUE(j["nothing"].is_null());
  EXPECT_EQ(j["greeting"], "say \"hi\"\nthen 'bye'");
  EXPECT_EQ(j["dsn"], "user=ann password=a=b#c");
  EXPECT_EQ(j["unicode"], "Grüße 👋");
  EXPECT_EQ(j["list"], json::parse(R"([1,"two"])"));
  EXPECT_EQ(j["my-key with:colon"], "v");
  EXPECT_EQ(j.size(), Awkward().size());
  EXPECT_EQ(RenderProperties(ConfigFileFormat::kJson, {}), "{}\n");
}

TEST(RenderTest, YamlReadsBackToTheSameValues) {
  const std::string out = RenderProperties(ConfigFileFormat::kYaml, Awkward());
  EXPECT_NE(out.find("db.pool.size: 5\n"), std::string::npos) << out;
  const YAML::Node y = YAML::Load(out);
  ASSERT_TRUE(y.IsMap()) << out;
  EXPECT_EQ(y["db.pool.size"].as<int>(), 5);
  EXPECT_DOUBLE_EQ(y["failure_rate"].as<double>(), 0.3);
  EXPECT_TRUE(y["feature.enabled"].as<bool>());
  EXPECT_TRUE(y["nothing"].IsNull());
  EXPECT_EQ(y["greeting"].as<std::string>(), "say \"hi\"\nthen 'bye'");
  EXPECT_EQ(y["dsn"].as<std::string>(), "user=ann password=a=b#c");
  EXPECT_EQ(y["unicode"].as<std::string>(), "Grüße 👋");
  EXPECT_EQ(y["spaces"].as<std::string>(), "  padded ");
  EXPECT_EQ(y["backslash"].as<std::string>(), "C:\\temp\\new");
  // Strings that look like other types stay strings.
  EXPECT_EQ(y["yes"].Tag(), "!");
  EXPECT_EQ(y["yes"].as<std::string>(), "yes");
  EXPECT_EQ(y["number_string"].as<std::string>(), "0123");
  EXPECT_EQ(y["list"][1].as<std::string>(), "two");
  EXPECT_EQ(y["my-key with:colon"].as<std::string>(), "v");
  EXPECT_EQ(y.size(), Awkward().size());
  EXPECT_TRUE(YAML::Load(RenderProperties(ConfigFileFormat::kYaml, {})).IsMap());
}

TEST(RenderTest, PropertiesAreEscapedJavaStyle) {
  const std::string out = RenderProperties(ConfigFileFormat::kProperties, Awkward());
  auto has = [&](const std::string& line) {
    EXPECT_NE(out.find(line + "\n"), std::string::npos) << "missing: " << line << "\n" << out;
  };
  has("db.pool.size=5");
  has("failure_rate=0.3");
  has("whole_float=2.0");
  has("feature.enabled=true");
  has("nothing=");
  has(R"(greeting=say "hi"\nthen 'bye')");
  has(R"(dsn=user\=ann password\=a\=b\#c)");
  has(R"(unicode=Gr\u00FC\u00DFe \uD83D\uDC4B)");
  has(R"(spaces=\ \ padded )");
  has(R"(backslash=C\:\\temp\\new)");
  has(R"(list=[1,"two"])");
  has(R"(my-key\ with\:colon=v)");
  // One line per key: newlines inside values never break a line.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), static_cast<long>(Awkward().size()));
}

TEST(RenderTest, EnvHasUpperCaseNamesAndQuotesWhenNeeded) {
  const std::string out = RenderProperties(ConfigFileFormat::kEnv, Awkward());
  auto has = [&](const std::string& line) {
    EXPECT_NE(out.find(line + "\n"), std::string::npos) << "missing: " << line << "\n" << out;
  };
  has("DB_POOL_SIZE=5");
  has("FAILURE_RATE=0.3");
  has("FEATURE_ENABLED=true");
  has("NOTHING=''");
  has(R"(GREETING="say \"hi\"\nthen 'bye'")");
  has("DSN='user=ann password=a=b#c'");
  has("UNICODE='Grüße 👋'");
  has("SPACES='  padded '");
  has("DOLLAR='$HOME and `cmd`'");
  has(R"(BACKSLASH='C:\temp\new')");
  has(R"(LIST='[1,"two"]')");
  has("MY_KEY_WITH_COLON=v");
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), static_cast<long>(Awkward().size()));

  const std::string tricky =
      RenderProperties(ConfigFileFormat::kEnv, {{"9lives", std::string("it's $5\tnow")}});
  EXPECT_EQ(tricky, "_9LIVES=\"it's \\$5\\tnow\"\n");
}

TEST(RenderTest, PropertiesFromJsonKeepsTypes) {
  auto p = PropertiesFromJson(
      R"({"a":1,"b":1.5,"c":"s","d":true,"e":null,"f":[1],"g":18446744073709551615})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<int64_t>(p->at("a")), 1);
  EXPECT_EQ(std::get<double>(p->at("b")), 1.5);
  EXPECT_EQ(std::get<std::string>(p->at("c")), "s");
  EXPECT_TRUE(std::get<bool>(p->at("d")));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(p->at("e")));
  EXPECT_EQ(std::get<JsonText>(p->at("f")).text, "[1]");
  EXPECT_TRUE(std::holds_alternative<double>(p->at("g")));
  EXPECT_FALSE(PropertiesFromJson("[1,2]").ok());
  EXPECT_FALSE(PropertiesFromJson("{broken").ok());
}

// A nested value is kept as its JSON text, written by a recursive writer:
// properties nested past kMaxJsonDepth are refused before it runs.
TEST(PropertiesFromJsonTest, RefusesNestingPastTheLimit) {
  auto deep =
      PropertiesFromJson(R"({"a":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}");
  ASSERT_FALSE(deep.ok());
  EXPECT_TRUE(deep.status().IsInvalidArgument());
  EXPECT_NE(deep.status().message().find("nested deeper than 64"), std::string::npos)
      << deep.status().message();
  auto fine = PropertiesFromJson(R"({"a":[[1]]})");
  ASSERT_TRUE(fine.ok()) << fine.status().ToString();
  EXPECT_EQ(fine->at("a"), PropertyValue(JsonText{"[[1]]"}));
}

}  // namespace
}  // namespace hive::agent
