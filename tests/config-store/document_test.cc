#include "hive/config_store/document.h"

#include <gtest/gtest.h>

#include "hive/core/text.h"

namespace hive::config_store {
namespace {

Properties MustParse(DocumentFormat format, std::string_view text) {
  auto r = ParseDocument(format, text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Properties();
}

std::string ErrorOf(DocumentFormat format, std::string_view text) {
  auto r = ParseDocument(format, text);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << text;
  return r.status().message();
}

TEST(DocumentTest, ContentTypeChoosesTheFormat) {
  EXPECT_EQ(*FormatForContentType("application/json"), DocumentFormat::kJson);
  EXPECT_EQ(*FormatForContentType(""), DocumentFormat::kJson);
  EXPECT_EQ(*FormatForContentType("application/yaml"), DocumentFormat::kYaml);
  EXPECT_EQ(*FormatForContentType("Application/X-YAML; charset=utf-8"), DocumentFormat::kYaml);
  EXPECT_EQ(*FormatForContentType("text/x-java-properties"), DocumentFormat::kProperties);
  EXPECT_EQ(*FormatForContentType("text/plain"), DocumentFormat::kProperties);
  auto bad = FormatForContentType("application/xml");
  ASSERT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_NE(bad.status().message().find("application/yaml"), std::string::npos);
}

TEST(DocumentTest, YamlFlattensLikeSpringBoot) {
  auto p = MustParse(DocumentFormat::kYaml, R"(
db:
  pool:
    size: 5
  url: "jdbc:postgresql://db/payments"
hosts: [a, b]
servers:
  - name: x
    port: 81
)");
  EXPECT_EQ(p, (Properties{{"db.pool.size", Value::Number("5")},
                           {"db.url", Value::String("jdbc:postgresql://db/payments")},
                           {"hosts[0]", Value::String("a")},
                           {"hosts[1]", Value::String("b")},
                           {"servers[0].name", Value::String("x")},
                           {"servers[0].port", Value::Number("81")}}));
}

TEST(DocumentTest, YamlPlainScalarsAreTypedQuotedOnesAreStrings) {
  auto p = MustParse(DocumentFormat::kYaml, R"(
rate: 0.25
on: true
off: False
nothing: ~
empty:
quoted_number: "5"
quoted_bool: 'true'
version: 1.4.2
octal_looking: 007
)");
  EXPECT_EQ(p.at("rate"), Value::Number("0.25"));
  EXPECT_EQ(p.at("on"), Value::Bool(true));
  EXPECT_EQ(p.at("off"), Value::Bool(false));
  EXPECT_EQ(p.at("nothing"), Value::Null());
  EXPECT_EQ(p.at("empty"), Value::Null());
  EXPECT_EQ(p.at("quoted_number"), Value::String("5"));
  EXPECT_EQ(p.at("quoted_bool"), Value::String("true"));
  EXPECT_EQ(p.at("version"), Value::String("1.4.2"));
  EXPECT_EQ(p.at("octal_looking"), Value::String("007"));
}

TEST(DocumentTest, MalformedYamlGivesLineAndColumn) {
  std::string message = ErrorOf(DocumentFormat::kYaml, "a: 1\nb: [1, 2\nc: 3\n");
  EXPECT_NE(message.find("malformed YAML at line"), std::string::npos) << message;
  EXPECT_NE(message.find("column"), std::string::npos) << message;
  message = ErrorOf(DocumentFormat::kYaml, "a: 1\n  b: 2\n");
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
}

TEST(DocumentTest, YamlMustBeOneMapping) {
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, "- a\n- b\n").find("mapping"), std::string::npos);
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, "a: 1\n---\nb: 2\n").find("one YAML document"),
            std::string::npos);
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, "a: 1\na: 2\n").find("same key 'a'"), std::string::npos);
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, "\"bad key\": 1\n").find("invalid property key"),
            std::string::npos);
  EXPECT_TRUE(MustParse(DocumentFormat::kYaml, "").empty());
  EXPECT_TRUE(MustParse(DocumentFormat::kYaml, "# only a comment\n").empty());
}

TEST(DocumentTest, YamlAliasBombIsRejected) {
  std::string doc = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'g'; ++c) {
    doc += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) doc += std::string(i ? ", " : "") + "*" + prev;
    doc += "]\n";
    prev = c;
  }
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, doc).find("more than"), std::string::npos);
}

// Issue 12: yaml-cpp's parser recurses per level up to 2000 levels; hive
// refuses nesting past kMaxJsonDepth before any node is built or walked.
TEST(DocumentTest, YamlNestingPastTheLimitIsRefused) {
  auto flow = [](size_t depth) {  // the top-level mapping is one level
    return "a: " + std::string(depth - 1, '[') + "1" + std::string(depth - 1, ']') + "\n";
  };
  EXPECT_EQ(MustParse(DocumentFormat::kYaml, flow(kMaxJsonDepth)).size(), 1u);
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, flow(kMaxJsonDepth + 1)).find("nested deeper than 64"),
            std::string::npos);
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, flow(100'000)).find("nested deeper than 64"),
            std::string::npos);

  std::string block;  // a:\n b:\n  c: ... one mapping per line, 1,500 deep
  for (size_t i = 0; i < 1'500; ++i) block += std::string(i, ' ') + "k:\n";
  block += std::string(1'500, ' ') + "1\n";
  EXPECT_EQ(ErrorOf(DocumentFormat::kYaml, block),
            "malformed YAML at line 65, column 65: nested deeper than 64 levels");

  std::string compact = "a:\n";  // - - - - x: sequences in sequences on one line
  for (size_t i = 0; i < 100'000; ++i) compact += "- ";
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, compact + "x\n").find("nested deeper than 64"),
            std::string::npos);
}

// An alias inside the collection it names makes a cycle; flattening stops at
// the key length limit.
TEST(DocumentTest, YamlSelfReferenceStopsAtTheKeyLimit) {
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, "a: &x [*x]\n").find("longer than"), std::string::npos);
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, "a: &x {k: *x}\n").find("longer than"),
            std::string::npos);
}

TEST(DocumentTest, JsonNestingPastTheLimitIsRefused) {
  auto nested = [](size_t depth) {
    return R"({"a":)" + std::string(depth - 1, '[') + "1" + std::string(depth - 1, ']') + "}";
  };
  EXPECT_EQ(MustParse(DocumentFormat::kJson, nested(kMaxJsonDepth)).size(), 1u);
  EXPECT_NE(ErrorOf(DocumentFormat::kJson, nested(kMaxJsonDepth + 1)).find("nested deeper than 64"),
            std::string::npos);
}

TEST(DocumentTest, PropertiesSyntaxAsJavaReadsIt) {
  auto p = MustParse(DocumentFormat::kProperties,
                     "# comment\n"
                     "! also a comment\n"
                     "db.pool.size=5\n"
                     "  spaced.key   =   padded value  \n"
                     "colon.key: value\n"
                     "space.key value with spaces\n"
                     "long.value = one, \\\n"
                     "             two\n"
                     "escapes=tab\\tnew\\nline \\u00e9 \\\\ \\=\r\n"
                     "empty=\n"
                     "hosts[0]=a\n");
  EXPECT_EQ(p, (Properties{{"db.pool.size", Value::String("5")},
                           {"spaced.key", Value::String("padded value  ")},
                           {"colon.key", Value::String("value")},
                           {"space.key", Value::String("value with spaces")},
                           {"long.value", Value::String("one, two")},
                           {"escapes", Value::String("tab\tnew\nline \xc3\xa9 \\ =")},
                           {"empty", Value::String("")},
                           {"hosts[0]", Value::String("a")}}));
}

// Found by fuzz/config_yaml and fuzz/config_properties: bytes that are not
// UTF-8 were stored, then served as U+FFFD, so what was read back was not
// what was pushed (JSON documents were already refused by the JSON parser).
TEST(DocumentTest, ValuesMustBeUtf8) {
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, "db:\n  password: \"hunte\xf3\xf3r2\"\n")
                .find("'db.password' is not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(DocumentFormat::kProperties, "name=\xdc\xd8\n").find("'name' is not valid UTF-8"),
      std::string::npos);
  EXPECT_NE(ErrorOf(DocumentFormat::kJson, "{\"a\":\"\xff\"}").find("malformed JSON"),
            std::string::npos);
  EXPECT_EQ(MustParse(DocumentFormat::kYaml, "name: \"caf\xc3\xa9\"\n").at("name"),
            Value::String("caf\xc3\xa9"));
}

// Found by fuzz/config_yaml: yaml-cpp's LoadAll never returned (and kept
// allocating) for a document starting with ','.
TEST(DocumentTest, LeadingCommaIsNotAnEndlessStreamOfDocuments) {
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, ",e").find("one YAML document"), std::string::npos);
  EXPECT_NE(ErrorOf(DocumentFormat::kYaml, "a: 1\n---\n,\n").find("one YAML document"),
            std::string::npos);
  EXPECT_TRUE(MustParse(DocumentFormat::kYaml, "---\n").empty());
}

// Found by fuzz/config_yaml: 1e400 was kept as a number, and the document
// served as JSON could then not be parsed by any JSON reader.
TEST(DocumentTest, YamlNumbersPastADoubleStayStrings) {
  auto p = MustParse(DocumentFormat::kYaml, "big: 1e400\nsmall: 1e-5\n");
  EXPECT_EQ(p.at("big"), Value::String("1e400"));
  EXPECT_EQ(p.at("small"), Value::Number("1e-5"));
  EXPECT_TRUE(ParseJsonDocument(PropertiesToJson(p)).ok());
}

TEST(DocumentTest, MalformedPropertiesGiveLineAndColumn) {
  std::string message = ErrorOf(DocumentFormat::kProperties, "a=1\nb=\\u12G4\n");
  EXPECT_NE(message.find("malformed \\uXXXX escape at line 2, column"), std::string::npos)
      << message;
  message = ErrorOf(DocumentFormat::kProperties, "a=1\n\n  bad$key=2\n");
  EXPECT_NE(message.find("'bad$key'"), std::string::npos) << message;
  EXPECT_NE(message.find("line 3, column 3"), std::string::npos) << message;
  message = ErrorOf(DocumentFormat::kProperties, "a=1\na=2\n");
  EXPECT_NE(message.find("already set at line 1"), std::string::npos) << message;
}

TEST(DocumentTest, SecretPrefixMarksSecretsInEveryFormat) {
  const Value secret = Value::Secret("hunter2");
  EXPECT_EQ(MustParse(DocumentFormat::kJson, R"({"db":{"password":"{secret}hunter2"}})")
                .at("db.password"),
            secret);
  EXPECT_EQ(
      MustParse(DocumentFormat::kYaml, "db:\n  password: \"{secret}hunter2\"\n").at("db.password"),
      secret);
  EXPECT_EQ(
      MustParse(DocumentFormat::kProperties, "db.password={secret}hunter2\n").at("db.password"),
      secret);
  EXPECT_FALSE(MustParse(DocumentFormat::kJson, R"({"a":"not {secret}"})").at("a").secret());
}

TEST(DocumentTest, DiffAndRedaction) {
  Properties before{{"a", Value::Int(1)}, {"b", Value::String("x")}, {"pw", Value::Secret("s1")}};
  Properties after{{"a", Value::Int(2)}, {"c", Value::Bool(true)}, {"pw", Value::Secret("s2")}};
  PropertyDiff diff = DiffProperties(before, after);
  EXPECT_EQ(diff.added, (Properties{{"c", Value::Bool(true)}}));
  EXPECT_EQ(diff.removed, (Properties{{"b", Value::String("x")}}));
  ASSERT_EQ(diff.changed.size(), 2u);
  PropertyDiff redacted = RedactSecrets(diff);
  EXPECT_EQ(redacted.changed.at("pw").first.text(), kRedacted);
  EXPECT_EQ(redacted.changed.at("pw").second.text(), kRedacted);
  EXPECT_EQ(redacted.changed.at("a").second, Value::Int(2));
  std::string json;
  AppendDiffJson(json, redacted);
  EXPECT_EQ(json.find("s1"), std::string::npos);
  EXPECT_EQ(json.find("s2"), std::string::npos);
  EXPECT_TRUE(DiffProperties(after, after).empty());
}

}  // namespace
}  // namespace hive::config_store
